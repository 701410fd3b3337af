"""Many nights of the example scorecard in ONE hand-written DuckDB query.

The counterpart of `vane backfill` the way duckdb_scorecard.py is the
counterpart of `vane run`: a `nights` table (generate_series, FIRST to LAST
every EVERY days, as `vane backfill --from --to --every` picks them) is
joined to every source by the window condition (`[night - window, night)`,
midnight UTC, end exclusive) and the aggregates are grouped by
(night, account). The scoring (derived metrics, indicator scores, groups,
health, model and band) is not written again: it is the tail of
tests/differential/scorecard_sql.py's query, with its as-of literal replaced
by the `night` column (see `scoring_tail`), so a fix there reaches both.

`previous_health`, `trend` and `trend_definition_changed` are computed the
way a fresh `vane backfill` folder gets them: the same account's health on
the previous night of the series (the newest earlier `as_of=` partition), its
difference, and `false` from the second night on (every night is scored by
the same definitions here) — null on the first night.

Usage:
  python duckdb_nights.py DATA_DIR FIRST LAST EVERY_DAYS THREADS OUT.parquet [--memory-limit 2GB]
      run the query with COPY ... TO OUT.parquet; print the in-process time
      in seconds on the last line.
  python duckdb_nights.py --compare OUT.parquet VANE_BACKFILL_DIR
      compare OUT.parquet with every `as_of=D/scorecard.parquet` of a Vane
      backfill folder, matching on (night, account_id): every column both
      have (floats within 1e-9 relative or absolute; NaN counts as null).
      Exit 0 when everything matches, 1 with a report of the differences.
"""

import datetime
import os
import sys
import time

import duckdb

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "differential"))
from scorecard_sql import days_between, scorecard_sql, window  # noqa: E402

# An as-of nobody uses, so that its literal can be found and replaced in
# scorecard_sql's text without ambiguity.
_SENTINEL = "2999-12-31"


def scoring_tail(data):
    """The `d`, `s`, `g`, `h` CTEs and the final SELECT of scorecard_sql (a
    statement to put after `WITH`, here inside the CTE `card`), over
    a CTE `m` with one row per (night, account): its as-of literal becomes the
    `night` column and the ORDER BY is dropped. Fails loudly if the shape of
    scorecard_sql changes so that the slice would no longer be the scoring."""
    sql = scorecard_sql(data, _SENTINEL)
    start = sql.index("\nd AS (")
    tail = sql[start:].rstrip()
    order = "FROM h ORDER BY account_id"
    assert tail.endswith(order), "scorecard_sql no longer ends with the expected ORDER BY"
    tail = tail[: -len(order)] + "FROM h"
    literal = f"TIMESTAMP '{_SENTINEL} 00:00:00'"
    assert tail.count(literal) >= 1, "scorecard_sql's scoring no longer refers to as-of"
    tail = tail.replace(literal, "night").replace(f"DATE '{_SENTINEL}'", "CAST(night AS DATE)")
    # The slice must read no source and no other as-of form: everything it
    # needs comes from `m`.
    for leftover in (_SENTINEL, data, ".parquet"):
        assert leftover not in tail, f"scorecard_sql's scoring tail refers to {leftover!r}"
    return tail


def nights_sql(data, first, last, every_days):
    """One query: the scorecard of every night FIRST, FIRST + EVERY, … ≤ LAST.

    Per source, `nights n JOIN source ON <the window of n.night>`, grouped by
    (n.night, account_id); the same FILTERs as scorecard_sql. Two rewrites,
    both exact:
    - `first_report_at` (min over *all* events before the night) is the
      account's first report overall when that is before the night, else
      null, so it needs no join to the nights;
    - the events are read once for `[FIRST - 90d, LAST)` (90 days: the
      widest reach back, `active_users_90d`) and joined to the nights on
      `[night - 90d, night)`; each FILTER then narrows to its own window.
    Tickets join on `opened_at < night` (no lower bound: a ticket opened long
    ago may still be open at the night), as scorecard_sql reads them.
    """
    N = "n.night"
    w30, w30_prev, w90, w365 = window(N, 30), window(N, 30, 30), window(N, 90), window(N, 365)
    lo = f"TIMESTAMP '{first} 00:00:00'"
    hi = f"TIMESTAMP '{last} 00:00:00'"
    ev = f"'{data}/events/*.parquet'"
    return f"""
WITH nights AS (
  SELECT night FROM generate_series({lo}, {hi}, INTERVAL {every_days} DAY) AS g(night)
),
acc AS (
  SELECT n.night, a.* FROM nights n JOIN '{data}/accounts.parquet' a ON a.signed_at < n.night AND (a.churned_at IS NULL OR a.churned_at >= n.night)
),
-- min over events before the night = the account's first report, if that is before the night.
first_report AS (
  SELECT account_id, min(event_time) AS first_report_at FROM {ev} WHERE event_type = 'report_created' GROUP BY account_id
),
events AS (
  SELECT n.night, e.account_id,
    count(DISTINCT e.user_id) FILTER (WHERE e.event_time >= {w30[0]}) AS active_users_30d,
    count(DISTINCT e.user_id) AS active_users_90d,
    count(*) FILTER (WHERE e.event_time >= {w30[0]} AND e.event_type = 'login') AS logins_30d,
    count(*) FILTER (WHERE e.event_time >= {w30_prev[0]} AND e.event_time < {w30_prev[1]} AND e.event_type = 'login') AS logins_prev,
    count(DISTINCT e.feature) FILTER (WHERE e.event_time >= {w30[0]} AND e.event_type = 'feature_use') AS feature_breadth_30d
  FROM nights n
  JOIN (SELECT account_id, user_id, event_time, event_type, feature FROM {ev}
        WHERE event_time >= {lo} - INTERVAL 90 DAY AND event_time < {hi}) e
    ON e.event_time >= {w90[0]} AND e.event_time < {w90[1]}
  GROUP BY n.night, e.account_id
),
tickets AS (
  SELECT n.night, t.account_id,
    count(*) FILTER (WHERE t.priority IN ('p1', 'p2') AND (t.closed_at IS NULL OR t.closed_at >= {N})) AS open_escalations,
    avg({days_between('t.opened_at', 't.closed_at')}) FILTER (WHERE t.opened_at >= {w90[0]} AND t.closed_at < {N}) AS resolution_days_90d
  FROM nights n JOIN '{data}/tickets.parquet' t ON t.opened_at < {N}
  GROUP BY n.night, t.account_id
),
nps AS (
  SELECT n.night, p.account_id,
    (count(*) FILTER (WHERE p.score >= 9) - count(*) FILTER (WHERE p.score <= 6)) * 100.0 / NULLIF(count(*), 0) AS nps_90d,
    count(*) AS nps_responses_90d
  FROM nights n JOIN '{data}/nps.parquet' p ON p.answered_at >= {w90[0]} AND p.answered_at < {w90[1]}
  GROUP BY n.night, p.account_id
),
subs AS (
  SELECT n.night, x.account_id,
    sum(x.amount_usd) FILTER (WHERE x.kind = 'renewal') AS renewed_usd_365d,
    count(*) FILTER (WHERE x.kind = 'renewal') AS renewals_365d,
    sum(x.amount_usd) FILTER (WHERE x.kind = 'expansion') AS expansion_usd_365d,
    sum(x.amount_usd) FILTER (WHERE x.kind IN ('contraction', 'churn')) AS contraction_usd_365d
  FROM nights n JOIN '{data}/subscription_events.parquet' x ON x.event_time >= {w365[0]} AND x.event_time < {w365[1]}
  GROUP BY n.night, x.account_id
),
orders AS (
  SELECT n.night, o.account_id,
    count(*) FILTER (WHERE o.delivered_at <= o.promised_at AND o.delivered_qty >= o.ordered_qty) / NULLIF(count(*), 0) AS difot_90d,
    avg({days_between('o.ordered_at', 'o.delivered_at')}) FILTER (WHERE o.delivered_at IS NOT NULL) AS cycle_time_days_90d
  FROM nights n JOIN '{data}/orders.parquet' o ON o.promised_at >= {w90[0]} AND o.promised_at < {w90[1]}
  GROUP BY n.night, o.account_id
),
targets AS (
  SELECT n.night, k.account_id, k.kpi, arg_max(k.target, k.effective_from) AS target, arg_max(k.direction, k.effective_from) AS direction
  FROM nights n JOIN '{data}/kpi_targets.parquet' k
    ON k.effective_from <= CAST(n.night AS DATE) AND (k.effective_to IS NULL OR k.effective_to > CAST(n.night AS DATE))
  WHERE k.kpi IN ('difot', 'cycle_time_days')
  GROUP BY n.night, k.account_id, k.kpi
),
m AS (
  SELECT acc.*,
    CASE WHEN f.first_report_at < acc.night THEN f.first_report_at END AS first_report_at,
    coalesce(e.active_users_30d, 0) AS active_users_30d,
    coalesce(e.active_users_90d, 0) AS active_users_90d,
    coalesce(e.logins_30d, 0) AS logins_30d,
    coalesce(e.logins_prev, 0) AS logins_prev,
    coalesce(e.feature_breadth_30d, 0) AS feature_breadth_30d,
    coalesce(t.open_escalations, 0) AS open_escalations,
    t.resolution_days_90d,
    p.nps_90d,
    coalesce(p.nps_responses_90d, 0) AS nps_responses_90d,
    coalesce(x.renewed_usd_365d, 0) AS renewed_usd_365d,
    coalesce(x.renewals_365d, 0) AS renewals_365d,
    coalesce(x.expansion_usd_365d, 0) AS expansion_usd_365d,
    coalesce(x.contraction_usd_365d, 0) AS contraction_usd_365d,
    o.difot_90d, o.cycle_time_days_90d,
    t_difot.target AS difot_target, t_difot.direction AS difot_direction,
    t_cycle_time_days.target AS ct_target, t_cycle_time_days.direction AS ct_direction
  FROM acc
  LEFT JOIN first_report f ON f.account_id = acc.account_id
  LEFT JOIN events e ON e.night = acc.night AND e.account_id = acc.account_id
  LEFT JOIN tickets t ON t.night = acc.night AND t.account_id = acc.account_id
  LEFT JOIN nps p ON p.night = acc.night AND p.account_id = acc.account_id
  LEFT JOIN subs x ON x.night = acc.night AND x.account_id = acc.account_id
  LEFT JOIN orders o ON o.night = acc.night AND o.account_id = acc.account_id
  LEFT JOIN targets t_difot ON t_difot.night = acc.night AND t_difot.account_id = acc.account_id AND t_difot.kpi = 'difot'
  LEFT JOIN targets t_cycle_time_days ON t_cycle_time_days.night = acc.night AND t_cycle_time_days.account_id = acc.account_id AND t_cycle_time_days.kpi = 'cycle_time_days'
),
card AS (WITH{scoring_tail(data)}
)
SELECT sc.* REPLACE (
    prev.health AS previous_health,
    sc.health - prev.health AS trend,
    CASE WHEN sc.night > {lo} THEN false END AS trend_definition_changed)
FROM card sc LEFT JOIN card prev ON prev.account_id = sc.account_id AND prev.night = sc.night - INTERVAL {every_days} DAY
ORDER BY sc.night, sc.account_id
"""


def run(data, first, last, every_days, threads, out, memory_limit=None):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {threads}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    started = time.perf_counter()
    con.execute(f"COPY ({nights_sql(data, first, last, every_days)}) TO '{out}' (FORMAT parquet)")
    return time.perf_counter() - started


def compare(duck_path, vane_dir):
    """Problems between DuckDB's nights and Vane's backfill folder, and a summary."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW duck AS SELECT * REPLACE (CAST(night AS DATE) AS night) FROM read_parquet('{duck_path}')")
    con.execute(f"CREATE VIEW vane AS SELECT * EXCLUDE (as_of), CAST(as_of AS DATE) AS night "
                f"FROM read_parquet('{vane_dir}/as_of=*/scorecard.parquet', hive_partitioning = true)")
    types = {}
    for view in ("duck", "vane"):
        types[view] = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE {view}").fetchall()}
    columns = [c for c in types["vane"] if c in types["duck"] and c not in ("night", "account_id")]
    missing = [c for c in types["vane"] if c not in types["duck"]]
    problems = []
    if missing:
        problems.append(f"columns of Vane's scorecard the DuckDB query does not compute: {missing}")
    if not all(c in columns for c in ("health", "band")):
        problems.append("health and band not both compared")

    def null_nan(side, c):
        x = f"{side}.\"{c}\""
        return f"CASE WHEN isnan({x}) THEN NULL ELSE {x} END" if types["vane"][c] in ("DOUBLE", "FLOAT") else x

    checks = []
    for c in columns:
        a, b = null_nan("d", c), null_nan("v", c)
        if types["vane"][c] in ("DOUBLE", "FLOAT") or types["duck"][c] in ("DOUBLE", "FLOAT"):
            a, b = f"CAST({a} AS DOUBLE)", f"CAST({b} AS DOUBLE)"
            same = f"abs({a} - {b}) <= greatest(1e-9 * greatest(abs({a}), abs({b})), 1e-9)"
        elif types["vane"][c] != types["duck"][c]:
            same = f"CAST({a} AS VARCHAR) = CAST({b} AS VARCHAR)"
        else:
            same = f"{a} = {b}"
        bad = f"NOT (({a} IS NULL AND {b} IS NULL) OR coalesce({same}, false))"
        checks.append((c, bad, a, b))
    select = ", ".join(f"count(*) FILTER (WHERE {bad})" for _, bad, _, _ in checks)
    joined = ("FROM duck d FULL OUTER JOIN vane v ON d.night = v.night AND d.account_id = v.account_id")
    only = con.execute(
        f"SELECT count(*) FILTER (WHERE v.account_id IS NULL), count(*) FILTER (WHERE d.account_id IS NULL), "
        f"count(*) FILTER (WHERE d.account_id IS NOT NULL AND v.account_id IS NOT NULL), "
        f"count(DISTINCT coalesce(d.night, v.night)) {joined}").fetchone()
    only_duck, only_vane, both, nights = only
    if only_duck or only_vane:
        problems.append(f"(night, account) rows only in DuckDB: {only_duck}, only in Vane: {only_vane}")
    counts = con.execute(f"SELECT {select} FROM duck d JOIN vane v ON d.night = v.night AND d.account_id = v.account_id").fetchone()
    for (c, bad, a, b), n in zip(checks, counts):
        if n:
            examples = con.execute(
                f"SELECT d.night, d.account_id, {a}, {b} FROM duck d JOIN vane v "
                f"ON d.night = v.night AND d.account_id = v.account_id WHERE {bad} ORDER BY 1, 2 LIMIT 3").fetchall()
            problems.append(f"{c}: {n} differences, e.g. " + "; ".join(
                f"{night} {acc}: duckdb {x!r}, vane {y!r}" for night, acc, x, y in examples))
    summary = f"{nights} nights, {both} (night, account) rows, {len(columns)} columns, {both * len(columns)} values"
    return problems, summary


def main(argv):
    if argv[:1] == ["--compare"]:
        problems, summary = compare(argv[1], argv[2])
        if problems:
            print(f"{len(problems)} problems ({summary}):")
            for p in problems[:40]:
                print("  " + p)
            sys.exit(1)
        print(f"ok: {summary} match")
        return
    memory_limit = None
    if "--memory-limit" in argv:
        i = argv.index("--memory-limit")
        memory_limit = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    data, first, last, every, threads, out = argv[:6]
    for day in (first, last):  # they go into the SQL text: dates only
        datetime.date.fromisoformat(day)
    print(f"{run(data, first, last, int(every), int(threads), out, memory_limit):.6f}")


if __name__ == "__main__":
    main(sys.argv[1:])
