"""Run the hand-written DuckDB scorecard query on sample data, the way the
benchmark times it: COPY the result to a Parquet file.

Usage: python duckdb_scorecard.py DATA_DIR AS_OF THREADS OUT.parquet [--scan-floor]
Prints the in-process query time in seconds on the last line.
"""

import os
import sys
import time

import duckdb

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "differential"))
from scorecard_sql import scorecard_sql  # noqa: E402

data, as_of, threads, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
scan_floor = "--scan-floor" in sys.argv[5:]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"SET threads = {threads}")

if scan_floor:
    # Decode every column the scorecard reads, once, with trivial work per value.
    query = f"""
    SELECT
      (SELECT sum(length(account_id)) + sum(length(user_id)) + sum(epoch_us(event_time)) % 7
              + sum(length(event_type)) + sum(length(feature)) FROM '{data}/events/*.parquet'),
      (SELECT sum(length(account_id)) + sum(epoch_us(opened_at)) % 7 + sum(epoch_us(closed_at)) % 7 + sum(length(priority)) FROM '{data}/tickets.parquet'),
      (SELECT sum(length(account_id)) + sum(epoch_us(answered_at)) % 7 + sum(score) FROM '{data}/nps.parquet'),
      (SELECT sum(length(account_id)) + sum(epoch_us(event_time)) % 7 + sum(length(kind)) + sum(amount_usd) FROM '{data}/subscription_events.parquet'),
      (SELECT sum(length(account_id)) + sum(epoch_us(ordered_at)) % 7 + sum(epoch_us(promised_at)) % 7
              + sum(epoch_us(delivered_at)) % 7 + sum(ordered_qty) + sum(delivered_qty) FROM '{data}/orders.parquet'),
      (SELECT count(*) FROM '{data}/accounts.parquet'),
      (SELECT count(*) FROM '{data}/kpi_targets.parquet')
    """
    started = time.perf_counter()
    con.execute(query).fetchall()
else:
    started = time.perf_counter()
    con.execute(f"COPY ({scorecard_sql(data, as_of)}) TO '{out}' (FORMAT parquet)")
print(f"{time.perf_counter() - started:.6f}")
