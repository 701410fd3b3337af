"""Run the SQL `vane sql` wrote in a real database and compare its rows
with Vane's scorecard, value by value (floats within 1e-9, relative to the
larger magnitude when above 1), by the entity key and column name — or,
given an `actions.parquet`, with Vane's actions row by row in order, every
text exactly as `vane run` wrote it.

Usage:
  python generated_sql.py duckdb QUERY.sql SCORECARD.parquet|ACTIONS.parquet
  python generated_sql.py postgres QUERY.sql SCORECARD.parquet|ACTIONS.parquet DSN
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
    if a == b:
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def compare_actions(rows, expected_names, expected):
    """Row by row in order: the actions are sorted as `vane run` writes them."""
    problems = []
    if len(rows) != len(expected):
        problems.append(f"{len(rows)} actions from the SQL, {len(expected)} written by vane run")
    compared = 0
    for i, (got, want) in enumerate(zip(rows, expected)):
        for column, a, b in zip(expected_names, got, want):
            compared += 1
            a, b = normal(a), normal(b)
            if not same(a, b):
                problems.append(f"action {i} ({want[0]}, {want[1]}), {column}: sql {a!r}, vane {b!r}")
    return problems, compared


def main():
    engine, query_path, expected_path = sys.argv[1], sys.argv[2], sys.argv[3]
    query = open(query_path).read()
    names, rows = run_duckdb(query) if engine == "duckdb" else run_postgres(query, sys.argv[4])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    cursor = con.execute(f"SELECT * FROM read_parquet('{expected_path}', hive_partitioning = false)")
    expected_names = [d[0] for d in cursor.description]
    expected = cursor.fetchall()
    problems = []
    if names != expected_names:
        problems.append(f"columns differ:\n  sql:  {names}\n  vane: {expected_names}")
    if expected_path.endswith("actions.parquet"):
        found, compared = compare_actions(rows, expected_names, expected)
        report(problems + found, compared, len(expected), len(expected_names))
        return
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
    report(problems, compared, len(expected), len(expected_names))


def report(problems, compared, rows, columns):
    if problems:
        print(f"{len(problems)} differences ({compared} values compared):")
        for p in problems[:40]:
            print("  " + p)
        sys.exit(1)
    print(f"ok: all {compared} values match ({rows} rows, {columns} columns)")


if __name__ == "__main__":
    main()
