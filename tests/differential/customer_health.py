"""Independent DuckDB computation of pipelines/customer_health.yaml.

Hand-written SQL, sharing no code with Vane, computes every metric, score,
group score, health and band of the example scorecard; the result is
compared with Vane's scorecard value by value (floats within 1e-9 relative).

Usage: python customer_health.py DATA_DIR SCORECARD.parquet AS_OF
Exit 0 when everything matches; 1 with a report of the differences.
"""

import math
import os
import sys

import duckdb

data, scorecard_path, as_of = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scorecard_sql import scorecard_sql  # noqa: E402

sql = scorecard_sql(data, as_of)


def records(query):
    cursor = con.execute(query)
    names = [d[0] for d in cursor.description]
    return names, [dict(zip(names, row)) for row in cursor.fetchall()]


_, rows = records(sql)
actual_columns, actual_rows = records(
    f"SELECT * FROM read_parquet('{scorecard_path}', hive_partitioning = false) ORDER BY account_id"
)


def clean(v):
    if v is None:
        return None
    try:
        if isinstance(v, float) and math.isnan(v):
            return None
    except TypeError:
        pass
    return v


columns = [c for c in actual_columns if rows and c in rows[0]]
problems = []
if len(rows) != len(actual_rows):
    problems.append(f"row count: duckdb {len(rows)}, vane {len(actual_rows)}")
compared = 0
for want, got in zip(rows, actual_rows):
    if want["account_id"] != got["account_id"]:
        problems.append(f"key order differs: {want['account_id']} vs {got['account_id']}")
        break
    for c in columns:
        a, b = clean(want.get(c)), clean(got.get(c))
        compared += 1
        if a is None or b is None:
            if (a is None) != (b is None):
                problems.append(f"{want['account_id']}.{c}: duckdb {a!r}, vane {b!r}")
            continue
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            fa, fb = float(a), float(b)
            if not math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-9):
                problems.append(f"{want['account_id']}.{c}: duckdb {fa!r}, vane {fb!r}")
        elif str(a) != str(b):
            problems.append(f"{want['account_id']}.{c}: duckdb {a!r}, vane {b!r}")

missing = [c for c in actual_columns if rows and c not in rows[0]]
if missing:
    problems.append(f"columns not computed by the DuckDB query: {missing}")
if problems:
    print(f"{len(problems)} differences (of {compared} values):")
    for p in problems[:40]:
        print("  " + p)
    sys.exit(1)
print(f"ok: {len(rows)} accounts, {len(columns)} columns, {compared} values match")
