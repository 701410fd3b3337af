"""The example scorecard of pipelines/customer_health.yaml as one hand-written
DuckDB query, sharing no code with Vane. The differential test compares it
with Vane's output value by value; the benchmark times it against Vane.
"""

def window(T, days, shift_days=0):
    """`[lo, hi)` of a window ending `shift_days` before as-of `T`."""
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




def wmean(pairs):
    """Weighted mean of the non-null scores: a null drops out, weights renormalize."""
    num = " + ".join(f"coalesce({s} * {w}, 0)" for s, w in pairs)
    den = " + ".join(f"(CASE WHEN {s} IS NULL THEN 0 ELSE {w} END)" for s, w in pairs)
    return f"(({num}) / NULLIF({den}, 0))"


def scorecard_sql(data, as_of):
    """The whole scorecard as of `as_of` (YYYY-MM-DD) for the sample data in `data`."""
    T = f"TIMESTAMP '{as_of} 00:00:00'"
    w30, w30_prev, w90, w365 = window(T, 30), window(T, 30, 30), window(T, 90), window(T, 365)
    ev = f"'{data}/events/*.parquet'"
    return f"""
WITH acc AS (
  SELECT * FROM '{data}/accounts.parquet' WHERE signed_at < {T} AND (churned_at IS NULL OR churned_at >= {T})
),
events AS (
  SELECT account_id,
    min(event_time) FILTER (WHERE event_type = 'report_created') AS first_report_at,
    count(*) FILTER (WHERE event_type = 'report_created') AS rows__first_report_at,
    count(DISTINCT user_id) FILTER (WHERE event_time >= {w30[0]} AND event_time < {w30[1]}) AS active_users_30d,
    count(DISTINCT user_id) FILTER (WHERE event_time >= {w90[0]} AND event_time < {w90[1]}) AS active_users_90d,
    count(*) FILTER (WHERE event_time >= {w30[0]} AND event_time < {w30[1]} AND event_type = 'login') AS logins_30d,
    count(*) FILTER (WHERE event_time >= {w30_prev[0]} AND event_time < {w30_prev[1]} AND event_type = 'login') AS logins_prev,
    count(DISTINCT feature) FILTER (WHERE event_time >= {w30[0]} AND event_time < {w30[1]} AND event_type = 'feature_use') AS feature_breadth_30d
  FROM {ev} WHERE event_time < {T} GROUP BY account_id
),
tickets AS (
  SELECT account_id,
    count(*) FILTER (WHERE priority IN ('p1', 'p2') AND (closed_at IS NULL OR closed_at >= {T})) AS open_escalations,
    avg({days_between('opened_at', 'closed_at')}) FILTER (WHERE opened_at >= {w90[0]} AND closed_at < {T}) AS resolution_days_90d,
    count(*) FILTER (WHERE opened_at >= {w90[0]} AND closed_at < {T}) AS rows__resolution_days_90d
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
    sum(amount_usd) FILTER (WHERE kind IN ('contraction', 'churn')) AS contraction_usd_365d,
    count(*) FILTER (WHERE kind = 'expansion') AS expansions_365d,
    count(*) FILTER (WHERE kind IN ('contraction', 'churn')) AS contractions_365d
  FROM '{data}/subscription_events.parquet' WHERE event_time >= {w365[0]} AND event_time < {T} GROUP BY account_id
),
orders AS (
  SELECT account_id,
    count(*) FILTER (WHERE delivered_at <= promised_at AND delivered_qty >= ordered_qty) / NULLIF(count(*), 0) AS difot_90d,
    avg({days_between('ordered_at', 'delivered_at')}) FILTER (WHERE delivered_at IS NOT NULL) AS cycle_time_days_90d,
    count(*) AS rows__difot_90d,
    count(*) FILTER (WHERE delivered_at IS NOT NULL) AS rows__cycle_time_days_90d
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
    coalesce(e.active_users_90d, 0) AS active_users_90d,
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
    coalesce(e.rows__first_report_at, 0) AS rows__first_report_at,
    coalesce(e.logins_30d, 0) AS rows__logins_30d,
    coalesce(t.open_escalations, 0) AS rows__open_escalations,
    coalesce(t.rows__resolution_days_90d, 0) AS rows__resolution_days_90d,
    coalesce(n.nps_responses_90d, 0) AS rows__nps_90d,
    coalesce(n.nps_responses_90d, 0) AS rows__nps_responses_90d,
    coalesce(s.renewals_365d, 0) AS rows__renewed_usd_365d,
    coalesce(s.renewals_365d, 0) AS rows__renewals_365d,
    coalesce(s.expansions_365d, 0) AS rows__expansion_usd_365d,
    coalesce(s.contractions_365d, 0) AS rows__contraction_usd_365d,
    coalesce(o.rows__difot_90d, 0) AS rows__difot_90d,
    coalesce(o.rows__cycle_time_days_90d, 0) AS rows__cycle_time_days_90d,
    t_difot.target AS target__difot, t_difot.direction AS direction__difot,
    t_cycle_time_days.target AS target__cycle_time_days, t_cycle_time_days.direction AS direction__cycle_time_days,
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
    active_users_30d / NULLIF(CAST(active_users_90d AS DOUBLE), 0) AS user_stickiness,
    active_users_30d / NULLIF(CAST(seats AS DOUBLE), 0) AS seat_utilization,
    (logins_30d - logins_prev) / NULLIF(abs(CAST(logins_prev AS DOUBLE)), 0) AS login_change,
    (arr + expansion_usd_365d - contraction_usd_365d) / NULLIF(arr, 0) AS net_retention
  FROM m
),
s AS (
  SELECT *,
    {ramp('time_to_value_days', 60, 7)} AS score__time_to_value,
    {ramp('seat_utilization', 0.2, 0.85)} AS score__seat_utilization,
    {ramp('user_stickiness', 0.3, 0.9)} AS score__stickiness,
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
, g AS (
  SELECT *,
    {wmean([("score__time_to_value", 1)])} AS group__onboarding,
    {wmean([("score__seat_utilization", 2), ("score__stickiness", 1), ("score__login_trend", 1), ("score__feature_breadth", 1)])} AS group__adoption,
    {wmean([("score__escalations", 1), ("score__resolution_time", 1)])} AS group__support,
    {wmean([("score__nps", 1)])} AS group__sentiment,
    {wmean([("score__renewals", 1), ("score__difot", 2), ("score__cycle_time", 1)])} AS group__outcomes
  FROM s
),
h AS (
  SELECT *,
    CASE WHEN segment = 'smb'
      THEN {wmean([("group__onboarding", 10), ("group__adoption", 50), ("group__support", 15), ("group__sentiment", 15), ("group__outcomes", 10)])}
      ELSE {wmean([("group__onboarding", 10), ("group__adoption", 35), ("group__support", 15), ("group__sentiment", 15), ("group__outcomes", 25)])}
    END AS health,
    CASE WHEN segment = 'smb' THEN 'smb' ELSE 'default' END AS health_model
  FROM g
)
SELECT *,
  DATE '{as_of}' AS as_of,
  CASE WHEN health IS NULL THEN NULL WHEN health < 40 THEN 'red' WHEN health < 70 THEN 'yellow' ELSE 'green' END AS band,
  CAST(NULL AS DOUBLE) AS previous_health,
  CAST(NULL AS DOUBLE) AS trend,
  CAST(NULL AS BOOLEAN) AS trend_definition_changed
FROM h ORDER BY account_id
"""
