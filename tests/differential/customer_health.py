"""Independent DuckDB computation of pipelines/customer_health.yaml.

Hand-written SQL, sharing no code with Vane, computes every metric, score,
group score, health and band of the example scorecard; the result is
compared with Vane's scorecard value by value (floats within 1e-9 relative).
With ROLLUPS.parquet, the seed rollups are computed too — from the DuckDB
scorecard and the accounts table — and compared with Vane's rollups.

Usage: python customer_health.py DATA_DIR SCORECARD.parquet AS_OF [ROLLUPS.parquet]
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


def rollups_sql(scorecard, data, as_of):
    """Every rollup of the example pipeline, as (rollup, band, segment, csm, value)."""
    T = f"TIMESTAMP '{as_of} 00:00:00'"
    Y = f"({T} - INTERVAL 365 DAY)"
    cohort = f"signed_at < {Y} AND (churned_at IS NULL OR churned_at >= {Y})"
    churned = f"signed_at < {Y} AND churned_at >= {Y} AND churned_at < {T}"
    acc = f"'{data}/accounts.parquet'"
    return f"""
WITH sc AS ({scorecard}),
one AS (
  SELECT
    (SELECT sum(arr) FROM sc) AS arr,
    (SELECT coalesce(sum(arr) FILTER (WHERE band = 'red'), 0) FROM sc) AS arr_at_risk,
    (SELECT avg(arr) FROM sc) AS arpa,
    (SELECT count(*) FILTER (WHERE {cohort}) FROM {acc}) AS accounts_a_year_ago,
    (SELECT coalesce(sum(arr) FILTER (WHERE {cohort}), 0) FROM {acc}) AS arr_a_year_ago,
    (SELECT count(*) FILTER (WHERE {churned}) FROM {acc}) AS churned_accounts_365d,
    (SELECT coalesce(sum(arr) FILTER (WHERE {churned}), 0) FROM {acc}) AS churned_arr_365d,
    (SELECT coalesce(sum(contraction_usd_365d) FILTER (WHERE signed_at < {Y}), 0) FROM sc) AS retained_contraction_365d,
    (SELECT coalesce(sum(expansion_usd_365d) FILTER (WHERE signed_at < {Y}), 0) FROM sc) AS retained_expansion_365d
)
SELECT 'accounts' AS rollup, band, NULL AS segment, NULL AS csm, count(*)::DOUBLE AS value FROM sc GROUP BY band
UNION ALL SELECT 'average_health', NULL, segment, NULL, avg(health) FROM sc GROUP BY segment
UNION ALL SELECT 'arr', NULL, NULL, NULL, arr FROM one
UNION ALL SELECT 'arr_at_risk', NULL, NULL, NULL, arr_at_risk FROM one
UNION ALL SELECT 'arr_at_risk_by_segment', NULL, segment, NULL, coalesce(sum(arr) FILTER (WHERE band = 'red'), 0) FROM sc GROUP BY segment
UNION ALL SELECT 'arr_at_risk_by_csm', NULL, NULL, csm, coalesce(sum(arr) FILTER (WHERE band = 'red'), 0) FROM sc GROUP BY csm
UNION ALL SELECT 'share_of_arr_at_risk', NULL, NULL, NULL, arr_at_risk / arr FROM one
UNION ALL SELECT 'arpa', NULL, NULL, NULL, arpa FROM one
UNION ALL SELECT 'accounts_a_year_ago', NULL, NULL, NULL, accounts_a_year_ago FROM one
UNION ALL SELECT 'arr_a_year_ago', NULL, NULL, NULL, arr_a_year_ago FROM one
UNION ALL SELECT 'churned_accounts_365d', NULL, NULL, NULL, churned_accounts_365d FROM one
UNION ALL SELECT 'churned_arr_365d', NULL, NULL, NULL, churned_arr_365d FROM one
UNION ALL SELECT 'logo_churn_rate_365d', NULL, NULL, NULL, churned_accounts_365d / NULLIF(accounts_a_year_ago, 0) FROM one
UNION ALL SELECT 'retained_contraction_365d', NULL, NULL, NULL, retained_contraction_365d FROM one
UNION ALL SELECT 'retained_expansion_365d', NULL, NULL, NULL, retained_expansion_365d FROM one
UNION ALL SELECT 'grr_365d', NULL, NULL, NULL,
  (arr_a_year_ago - churned_arr_365d - retained_contraction_365d) / NULLIF(arr_a_year_ago, 0) FROM one
UNION ALL SELECT 'nrr_365d', NULL, NULL, NULL,
  (arr_a_year_ago - churned_arr_365d - retained_contraction_365d + retained_expansion_365d) / NULLIF(arr_a_year_ago, 0) FROM one
UNION ALL SELECT 'clv', NULL, NULL, NULL,
  arpa / NULLIF(churned_accounts_365d / NULLIF(accounts_a_year_ago, 0), 0) FROM one
"""


checked_rollups = ""
if len(sys.argv) > 4:
    group = ("rollup", "band", "segment", "csm")
    _, expected = records(rollups_sql(sql, data, as_of))
    _, written = records(f"SELECT * FROM read_parquet('{sys.argv[4]}', hive_partitioning = false)")
    want = {tuple(r[g] for g in group): r["value"] for r in expected}
    got = {tuple(r[g] for g in group): r["value"] for r in written}
    if set(want) != set(got):
        problems.append(f"rollup rows: only duckdb {sorted(set(want) - set(got), key=str)}, only vane {sorted(set(got) - set(want), key=str)}")
    for k in sorted(set(want) & set(got), key=str):
        a, b = clean(want[k]), clean(got[k])
        compared += 1
        if (a is None) != (b is None) or (a is not None and not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)):
            problems.append(f"rollup {k}: duckdb {a!r}, vane {b!r}")
    if {r["as_of"].isoformat() for r in written} != {as_of}:
        problems.append(f"rollups as_of: {sorted({str(r['as_of']) for r in written})}")
    checked_rollups = f", {len(want)} rollup rows"

missing = [c for c in actual_columns if rows and c not in rows[0]]
if missing:
    problems.append(f"columns not computed by the DuckDB query: {missing}")
if problems:
    print(f"{len(problems)} differences (of {compared} values):")
    for p in problems[:40]:
        print("  " + p)
    sys.exit(1)
print(f"ok: {len(rows)} accounts, {len(columns)} columns{checked_rollups}, {compared} values match")
