#!/usr/bin/env python3
"""The DuckDB job of scripts/bench-peers.sh: a Combined log read and aggregated in SQL.

    peers_duckdb.py LOG OUTDIR [THREADS]

Reads LOG one line per row, splits each line with one regexp_extract, truncates IPv4
clients to /24 and IPv6 clients to /48 (on the text: the first three groups before any
`::`), writes the rows to OUTDIR/rows.parquet, then a day x status aggregate of those rows
to OUTDIR/day_status.parquet. Lines that do not match the pattern or whose timestamp does not parse are dropped, as are lines
that are not valid UTF-8 (the CSV reader's ignore_errors). No geo lookup, no visitor
counting: this is a lower bound on what a SQL engine needs for the same reading.
"""
import os
import sys

import duckdb

PATTERN = r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) ?[^"]*" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$'

ROWS_SQL = r"""
COPY (
  WITH parts AS (
    SELECT regexp_extract(line, $pattern,
             ['client', 'ts', 'method', 'target', 'status', 'bytes', 'referrer', 'agent']) AS p
    FROM read_csv($log, columns = {'line': 'VARCHAR'}, header = false, delim = '\t',
                  quote = '', escape = '', auto_detect = false, ignore_errors = true,
                  max_line_size = 65536)
  ), rows AS (
    SELECT
      CASE WHEN contains(p.client, ':')
        THEN array_to_string(list_slice(string_split(split_part(p.client, '::', 1), ':'), 1, 3), ':') || '::/48'
        ELSE regexp_replace(p.client, '\.[0-9]+$', '.0') || '/24'
      END AS client_prefix,
      try_strptime(p.ts, '%d/%b/%Y:%H:%M:%S %z') AS ts,
      p.method AS method,
      p.target AS target,
      TRY_CAST(p.status AS SMALLINT) AS status,
      TRY_CAST(p.bytes AS BIGINT) AS bytes,
      p.referrer AS referrer,
      p.agent AS agent
    FROM parts
    WHERE p.client <> ''
  )
  SELECT * FROM rows WHERE ts IS NOT NULL
) TO $rows (FORMAT parquet)
"""

AGG_SQL = """
COPY (
  SELECT CAST(timezone('UTC', ts) AS DATE) AS day, status,
         count(*) AS requests, CAST(sum(bytes) AS BIGINT) AS bytes
  FROM read_parquet($rows)
  GROUP BY ALL ORDER BY ALL
) TO $agg (FORMAT parquet)
"""


def main():
    log, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    con = duckdb.connect()
    if len(sys.argv) > 3:
        con.execute("SET threads = %d" % int(sys.argv[3]))
    rows = os.path.join(out, "rows.parquet")
    agg = os.path.join(out, "day_status.parquet")
    con.execute(ROWS_SQL, {"pattern": PATTERN, "log": log, "rows": rows})
    con.execute(AGG_SQL, {"rows": rows, "agg": agg})


if __name__ == "__main__":
    main()
