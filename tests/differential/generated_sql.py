"""Run the SQL `vane sql` wrote in a real database and compare its rows
with Vane's scorecard, value by value (floats within 1e-9, relative to the
larger magnitude when above 1), by the entity key and column name.

Usage:
  python generated_sql.py duckdb QUERY.sql SCORECARD.parquet
  python generated_sql.py postgres QUERY.sql SCORECARD.parquet DSN
Exit 0 when every value matches; 1 with a report of the differences.
"""

import datetime
import decimal
import math
import sys

import duckdb


def run_duckdb(query):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cursor = con.execute(query)
    return [d[0] for d in cursor.description], cursor.fetchall()


def run_postgres(query, dsn):
    import psycopg
    with psycopg.connect(dsn) as con:
        con.execute("SET TIME ZONE 'UTC'")
        cursor = con.execute(query)
        return [d.name for d in cursor.description], cursor.fetchall()


def normal(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, datetime.datetime):
        return v.replace(tzinfo=None).isoformat()
    if isinstance(v, datetime.date):
        return datetime.datetime(v.year, v.month, v.day).isoformat()
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    return v


def same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def main():
    engine, query_path, scorecard = sys.argv[1], sys.argv[2], sys.argv[3]
    query = open(query_path).read()
    names, rows = run_duckdb(query) if engine == "duckdb" else run_postgres(query, sys.argv[4])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cursor = con.execute(f"SELECT * FROM read_parquet('{scorecard}', hive_partitioning = false)")
    expected_names = [d[0] for d in cursor.description]
    expected = cursor.fetchall()
    problems = []
    if names != expected_names:
        problems.append(f"columns differ:\n  sql:  {names}\n  vane: {expected_names}")
    key = expected_names[0]
    by_key = {row[0]: dict(zip(names, row)) for row in rows}
    if len(by_key) != len(expected):
        problems.append(f"{len(rows)} rows from the SQL, {len(expected)} in the scorecard")
    compared = 0
    for row in expected:
        record = dict(zip(expected_names, row))
        got = by_key.get(record[key])
        if got is None:
            problems.append(f"{key} {record[key]}: missing from the SQL's rows")
            continue
        for column, value in record.items():
            compared += 1
            a, b = normal(got.get(column)), normal(value)
            if not same(a, b):
                problems.append(f"{key} {record[key]}, {column}: sql {a!r}, vane {b!r}")
    if problems:
        print(f"{len(problems)} differences ({compared} values compared):")
        for p in problems[:40]:
            print("  " + p)
        sys.exit(1)
    print(f"ok: all {compared} values match ({len(expected)} rows, {len(expected_names)} columns)")


if __name__ == "__main__":
    main()
