"""Independent DuckDB computation of pipelines/customer_health.yaml.

Hand-written SQL, sharing no code with Vane, computes every metric, score,
group score, health and band of the example scorecard; the result is
compared with Vane's scorecard value by value (floats within 1e-9 relative).

Usage: python customer_health.py DATA_DIR SCORECARD.parquet AS_OF
Exit 0 when everything matches; 1 with a report of the differences.
"""

import math
import sys

import duckdb

data, scorecard_path, as_of = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
T = f"TIMESTAMP '{as_of} 00:00:00'"


def window(days, shift_days=0):
    hi = f"({T} - INTERVAL {shift_days} DAY)"
    return f"{hi} - INTERVAL {days} DAY", hi


def ramp(x, zero, full):
    return f"CASE WHEN {x} IS NULL THEN NULL ELSE least(greatest(({x} - ({zero})) / (({full}) - ({zero})) * 100.0, 0.0), 100.0) END"


def bands(x, thresholds, scores):
    parts = " ".join(f"WHEN {x} < {t} THEN {s}" for t, s in zip(thresholds, scores))
    return f"CASE WHEN {x} IS NULL THEN NULL {parts} ELSE {scores[-1]} END"


def attainment(x, kpi):
    t, d = f"t_{kpi}.target", f"t_{kpi}.direction"
    raw = (
        f"CASE WHEN {t} IS NULL THEN NULL "
        f"WHEN lower(trim({d})) = 'lower' THEN (CASE WHEN {x} <= 0 THEN 100.0 ELSE {t} / NULLIF({x}, 0) * 100.0 END) "
        f"ELSE {x} / NULLIF({t}, 0) * 100.0 END"
    )
    return f"CASE WHEN ({raw}) IS NULL THEN NULL ELSE least(greatest({raw}, 0.0), 100.0) END"


def days_between(a, b):
    return f"(epoch_us({b}) - epoch_us({a})) / 86400000000.0"


w30, w30_prev, w90, w365 = window(30), window(30, 30), window(90), window(365)
ev = f"'{data}/events/*.parquet'"

sql = f"""
WITH acc AS (
  SELECT * FROM '{data}/accounts.parquet' WHERE churned_at IS NULL OR churned_at >= {T}
),
events AS (
  SELECT account_id,
    min(event_time) FILTER (WHERE event_type = 'report_created') AS first_report_at,
    count(DISTINCT user_id) FILTER (WHERE event_time >= {w30[0]} AND event_time < {w30[1]}) AS active_users_30d,
    count(*) FILTER (WHERE event_time >= {w30[0]} AND event_time < {w30[1]} AND event_type = 'login') AS logins_30d,
    count(*) FILTER (WHERE event_time >= {w30_prev[0]} AND event_time < {w30_prev[1]} AND event_type = 'login') AS logins_prev,
    count(DISTINCT feature) FILTER (WHERE event_time >= {w30[0]} AND event_time < {w30[1]} AND event_type = 'feature_use') AS feature_breadth_30d
  FROM {ev} WHERE event_time < {T} GROUP BY account_id
),
tickets AS (
  SELECT account_id,
    count(*) FILTER (WHERE priority IN ('p1', 'p2') AND (closed_at IS NULL OR closed_at >= {T})) AS open_escalations,
    avg({days_between('opened_at', 'closed_at')}) FILTER (WHERE opened_at >= {w90[0]} AND closed_at < {T}) AS resolution_days_90d
  FROM '{data}/tickets.parquet' WHERE opened_at < {T} GROUP BY account_id
),
nps AS (
  SELECT account_id,
    (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6)) * 100.0 / NULLIF(count(*), 0) AS nps_90d,
    count(*) AS nps_responses_90d
  FROM '{data}/nps.parquet' WHERE answered_at >= {w90[0]} AND answered_at < {T} GROUP BY account_id
),
subs AS (
  SELECT account_id,
    sum(amount_usd) FILTER (WHERE kind = 'renewal') AS renewed_usd_365d,
    count(*) FILTER (WHERE kind = 'renewal') AS renewals_365d,
    sum(amount_usd) FILTER (WHERE kind = 'expansion') AS expansion_usd_365d,
    sum(amount_usd) FILTER (WHERE kind IN ('contraction', 'churn')) AS contraction_usd_365d
  FROM '{data}/subscription_events.parquet' WHERE event_time >= {w365[0]} AND event_time < {T} GROUP BY account_id
),
orders AS (
  SELECT account_id,
    count(*) FILTER (WHERE delivered_at <= promised_at AND delivered_qty >= ordered_qty) / NULLIF(count(*), 0) AS difot_90d,
    avg({days_between('ordered_at', 'delivered_at')}) FILTER (WHERE delivered_at IS NOT NULL) AS cycle_time_days_90d
  FROM '{data}/orders.parquet' WHERE promised_at >= {w90[0]} AND promised_at < {T} GROUP BY account_id
),
targets AS (
  SELECT account_id, kpi, arg_max(target, effective_from) AS target, arg_max(direction, effective_from) AS direction
  FROM '{data}/kpi_targets.parquet'
  WHERE kpi IN ('difot', 'cycle_time_days') AND effective_from <= DATE '{as_of}' AND (effective_to IS NULL OR effective_to > DATE '{as_of}')
  GROUP BY account_id, kpi
),
m AS (
  SELECT acc.*,
    e.first_report_at,
    coalesce(e.active_users_30d, 0) AS active_users_30d,
    coalesce(e.logins_30d, 0) AS logins_30d,
    coalesce(e.logins_prev, 0) AS logins_prev,
    coalesce(e.feature_breadth_30d, 0) AS feature_breadth_30d,
    coalesce(t.open_escalations, 0) AS open_escalations,
    t.resolution_days_90d,
    n.nps_90d,
    coalesce(n.nps_responses_90d, 0) AS nps_responses_90d,
    coalesce(s.renewed_usd_365d, 0) AS renewed_usd_365d,
    coalesce(s.renewals_365d, 0) AS renewals_365d,
    coalesce(s.expansion_usd_365d, 0) AS expansion_usd_365d,
    coalesce(s.contraction_usd_365d, 0) AS contraction_usd_365d,
    o.difot_90d, o.cycle_time_days_90d,
    t_difot.target AS difot_target, t_difot.direction AS difot_direction,
    t_cycle_time_days.target AS ct_target, t_cycle_time_days.direction AS ct_direction
  FROM acc
  LEFT JOIN events e USING (account_id)
  LEFT JOIN tickets t USING (account_id)
  LEFT JOIN nps n USING (account_id)
  LEFT JOIN subs s USING (account_id)
  LEFT JOIN orders o USING (account_id)
  LEFT JOIN targets t_difot ON t_difot.account_id = acc.account_id AND t_difot.kpi = 'difot'
  LEFT JOIN targets t_cycle_time_days ON t_cycle_time_days.account_id = acc.account_id AND t_cycle_time_days.kpi = 'cycle_time_days'
),
d AS (
  SELECT *,
    {days_between('signed_at', 'provisioned_at')} AS time_to_provision_days,
    CASE WHEN provisioned_at >= {T} - INTERVAL 180 DAY THEN {days_between('provisioned_at', 'first_report_at')} END AS time_to_value_days,
    active_users_30d / NULLIF(CAST(seats AS DOUBLE), 0) AS seat_utilization,
    (logins_30d - logins_prev) / NULLIF(abs(CAST(logins_prev AS DOUBLE)), 0) AS login_change,
    (arr + expansion_usd_365d - contraction_usd_365d) / NULLIF(arr, 0) AS net_retention
  FROM m
),
s AS (
  SELECT *,
    {ramp('time_to_value_days', 60, 7)} AS score__time_to_value,
    {ramp('seat_utilization', 0.2, 0.85)} AS score__seat_utilization,
    {ramp('login_change', -0.5, 0.1)} AS score__login_trend,
    {bands('feature_breadth_30d', [2, 4, 6], [10, 40, 70, 100])} AS score__feature_breadth,
    {bands('open_escalations', [1, 2, 4], [100, 60, 30, 0])} AS score__escalations,
    {ramp('resolution_days_90d', 10, 2)} AS score__resolution_time,
    {ramp('nps_90d', -20, 60)} AS score__nps,
    {ramp('renewed_usd_365d / NULLIF(arr, 0)', 0, 1)} AS score__renewals,
    {attainment('difot_90d', 'difot').replace('t_difot.target', 'difot_target').replace('t_difot.direction', 'difot_direction')} AS score__difot,
    {attainment('cycle_time_days_90d', 'cycle_time_days').replace('t_cycle_time_days.target', 'ct_target').replace('t_cycle_time_days.direction', 'ct_direction')} AS score__cycle_time
  FROM d
)
SELECT * FROM s ORDER BY account_id
"""

def records(query):
    cursor = con.execute(query)
    names = [d[0] for d in cursor.description]
    return names, [dict(zip(names, row)) for row in cursor.fetchall()]


_, rows = records(sql)
actual_columns, actual_rows = records(
    f"SELECT * FROM read_parquet('{scorecard_path}', hive_partitioning = false) ORDER BY account_id"
)


def wmean(pairs):
    num = sum(w * s for s, w in pairs if s is not None and not (isinstance(s, float) and math.isnan(s)))
    den = sum(w for s, w in pairs if s is not None and not (isinstance(s, float) and math.isnan(s)))
    return None if den == 0 else num / den


groups = {
    "onboarding": (10, [("time_to_value", 1)]),
    "adoption": (35, [("seat_utilization", 2), ("login_trend", 1), ("feature_breadth", 1)]),
    "support": (15, [("escalations", 1), ("resolution_time", 1)]),
    "sentiment": (15, [("nps", 1)]),
    "outcomes": (25, [("renewals", 1), ("difot", 2), ("cycle_time", 1)]),
}
smb_weights = {"adoption": 50, "outcomes": 10}


def clean(v):
    if v is None:
        return None
    try:
        if isinstance(v, float) and math.isnan(v):
            return None
    except TypeError:
        pass
    return v


for r in rows:
    gscores = {}
    for g, (_, members) in groups.items():
        gscores[g] = wmean([(clean(r[f"score__{i}"]), w) for i, w in members])
        r[f"group__{g}"] = gscores[g]
    weights = {g: (smb_weights.get(g, w) if r["segment"] == "smb" else w) for g, (w, _) in groups.items()}
    r["health"] = wmean([(gscores[g], weights[g]) for g in groups])
    h = r["health"]
    r["band"] = None if h is None else ("red" if h < 40 else "yellow" if h < 70 else "green")
    r["health_model"] = "smb" if r["segment"] == "smb" else "default"
    # The comparison runs on a fresh output folder: no previous scorecard.
    r["previous_health"] = None
    r["trend"] = None

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
