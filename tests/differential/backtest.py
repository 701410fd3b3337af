"""Independent DuckDB check of a `vane backtest` report.

From a backfill's nights (each `as_of=D/scorecard.parquet` and
`actions.parquet`, the same nights the backtest scored) and the outcome's
source, hand-written SQL sharing no code with Vane recomputes: the
entity-nights, the outcome of each (a `kind = 'churn'` row in
[D, D + horizon)), the base rate, per band the entity-nights, outcomes and
rate, the AUC of health (lower health = more risk, ties counting a half)
and per playbook the firings, the outcome rate after them and the lift. They
are compared with the report's JSON (floats within 1e-9).

Usage: python backtest.py NIGHTS_DIR SUBSCRIPTIONS.parquet HORIZON_DAYS REPORT.json
Exit 0 when everything matches; 1 with a list of the differences.
"""

import json
import sys

import duckdb

nights_dir, subscriptions, horizon_days, report_path = sys.argv[1:5]
report = json.load(open(report_path))
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"""
CREATE TABLE nights AS
SELECT CAST(as_of AS DATE) AS night, CAST(account_id AS VARCHAR) AS account_id, health, band
FROM read_parquet('{nights_dir}/*/scorecard.parquet', hive_partitioning = true);

CREATE TABLE churns AS
SELECT CAST(account_id AS VARCHAR) AS account_id, event_time
FROM read_parquet('{subscriptions}') WHERE kind = 'churn';

CREATE TABLE labelled AS
SELECT n.*, EXISTS (
  SELECT 1 FROM churns c
  WHERE c.account_id = n.account_id
    AND c.event_time >= CAST(n.night AS TIMESTAMP)
    AND c.event_time < CAST(n.night AS TIMESTAMP) + INTERVAL {int(horizon_days)} DAY
) AS outcome
FROM nights n;

CREATE TABLE fired AS
SELECT DISTINCT CAST(as_of AS DATE) AS night, CAST(entity AS VARCHAR) AS account_id, playbook
FROM read_parquet('{nights_dir}/*/actions.parquet', hive_partitioning = true);
""")

problems = []


def check(what, expected, actual):
    if expected is None or actual is None:
        if expected != actual:
            problems.append(f"{what}: duckdb {expected}, vane {actual}")
    elif abs(float(expected) - float(actual)) > 1e-9 * max(1.0, abs(float(expected))):
        problems.append(f"{what}: duckdb {expected}, vane {actual}")


total, outcomes = con.execute("SELECT count(*), count(*) FILTER (WHERE outcome) FROM labelled").fetchone()
check("entity-nights", total, report["entity_nights"])
check("outcomes", outcomes, report["outcomes"])
base = outcomes / total
check("base rate", base, report["base_rate"])

bands = {b["band"]: b for b in report["bands"]}
for band, rows, hits in con.execute(
        "SELECT coalesce(band, '(no health)'), count(*), count(*) FILTER (WHERE outcome) FROM labelled GROUP BY 1").fetchall():
    row = bands.get(band)
    if row is None:
        problems.append(f"band {band}: missing from the report")
        continue
    check(f"band {band} entity-nights", rows, row["entity_nights"])
    check(f"band {band} outcomes", hits, row["outcomes"])
    check(f"band {band} rate", hits / rows, row["rate"])

# AUC of health: per health value, positives times (negatives with higher
# health, i.e. lower risk) plus half the negatives at the same health.
auc = con.execute("""
WITH g AS (
  SELECT health, count(*) FILTER (WHERE outcome) AS p, count(*) FILTER (WHERE NOT outcome) AS n
  FROM labelled WHERE health IS NOT NULL GROUP BY health
), w AS (
  SELECT p, n, coalesce(sum(n) OVER (ORDER BY health DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS above
  FROM g
)
SELECT sum(p * (above + n / 2.0)) / (sum(p) * sum(n)) FROM w
""").fetchone()[0]
check("AUC of health", auc, report["auc"]["value"])

playbooks = {p["name"]: p for p in report["playbooks"]}
for playbook, firings, hits in con.execute("""
SELECT f.playbook, count(*), count(*) FILTER (WHERE l.outcome)
FROM fired f JOIN labelled l USING (night, account_id) GROUP BY 1
""").fetchall():
    row = playbooks.get(playbook)
    if row is None:
        problems.append(f"playbook {playbook}: missing from the report")
        continue
    check(f"playbook {playbook} firings", firings, row["firings"])
    check(f"playbook {playbook} rate", hits / firings, row["rate"])
    check(f"playbook {playbook} lift", hits / firings / base, row["lift"])

if problems:
    print("differences:\n" + "\n".join(problems))
    sys.exit(1)
print(f"ok: {total} entity-nights, {outcomes} outcomes, AUC {auc:.6f}, {len(playbooks)} playbooks")
