#!/usr/bin/env python3
"""Reads every report table of a logveil output tree with the analysts' clients.

    check_clients.py TREE

For each table under TREE/reports/, reads it with DuckDB
(read_parquet('reports/<t>/*/*.parquet', hive_partitioning=true)), pyarrow.dataset
(Hive partitioning) and polars (scan_parquet with hive_partitioning), and checks:
- the column types each client sees (unsigned 64-bit counts, binary sketches, UTC hours);
- that `date` is recognised as the partition column (a date or a string of the
  directory's value);
- that row counts and totals (requests, bytes, visitors) per date agree across the three.
Prints one PASS/FAIL line per check; exits 1 on a failure.
"""

import os
import sys
from collections import defaultdict

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds

TABLES = {
    # table: its columns, as written (the partition column `date` comes from the path)
    "geo_daily": ["continent", "country", "requests", "bytes", "visitors", "visitors_hll"],
    "traffic_hourly": ["hour", "vhost", "status_class", "method", "requests", "bytes"],
    "pages_daily": ["vhost", "path", "status_class", "requests", "bytes", "visitors", "visitors_hll"],
    "referrers_daily": ["referrer_host", "requests", "visitors", "visitors_hll"],
    "agents_daily": ["browser", "browser_major", "os", "device", "bot", "requests", "visitors", "visitors_hll"],
}
COUNTS = ("requests", "bytes", "visitors")


def expected(col):
    """(duckdb, pyarrow, polars) type names of a report column."""
    if col in COUNTS:
        return ("UBIGINT", pa.uint64(), pl.UInt64)
    if col == "visitors_hll":
        return ("BLOB", pa.binary(), pl.Binary)
    if col == "bot":
        return ("BOOLEAN", pa.bool_(), pl.Boolean)
    if col == "hour":
        return ("TIMESTAMP WITH TIME ZONE", pa.timestamp("us", tz="UTC"), pl.Datetime("us", "UTC"))
    return ("VARCHAR", pa.string(), pl.String)


passed = failed = 0


def result(ok, msg):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS  {msg}")
    else:
        failed += 1
        print(f"FAIL  {msg}")


def totals(rows):
    """rows: iterable of dicts with date and counts → {date: (rows, requests, bytes, visitors)}."""
    out = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        t = out[str(r["date"])]
        t[0] += 1
        for i, c in enumerate(COUNTS, 1):
            t[i] += int(r.get(c) or 0)
    return {k: tuple(v) for k, v in out.items()}


def main():
    tree = sys.argv[1]
    for table, cols in TABLES.items():
        path = os.path.join(tree, "reports", table)
        if not os.path.isdir(path):
            result(False, f"{table}: no directory {path}")
            continue
        dates = sorted(d[len("date="):] for d in os.listdir(path) if d.startswith("date="))
        present = [c for c in COUNTS if c in cols]

        # DuckDB
        con = duckdb.connect()
        rel = con.sql(
            f"select * from read_parquet('{path}/*/*.parquet', hive_partitioning=true)"
        )
        dtypes = dict(zip(rel.columns, [str(t) for t in rel.types]))
        bad = [c for c in cols if dtypes.get(c) != expected(c)[0]]
        result(not bad and dtypes.get("date") == "DATE",
               f"{table}: duckdb types (date {dtypes.get('date')}){' wrong: ' + str({c: dtypes.get(c) for c in bad}) if bad else ''}")
        agg = ", ".join(f"sum({c})::hugeint as {c}" for c in present)
        q = con.sql(
            f"select date, count(*) as n, {agg} from read_parquet('{path}/*/*.parquet', "
            "hive_partitioning=true) group by date"
        ).fetchall()
        duck = {str(r[0]): (r[1],) + tuple(int(x) for x in r[2:]) for r in q}

        # pyarrow.dataset
        d = ds.dataset(path, format="parquet", partitioning="hive")
        schema = d.schema
        bad = [c for c in cols if schema.field(c).type != expected(c)[1]]
        dtype = schema.field("date").type if "date" in schema.names else None
        result(not bad and dtype in (pa.string(), pa.date32()),
               f"{table}: pyarrow types (date {dtype}){' wrong: ' + str(bad) if bad else ''}")
        t = d.to_table(columns=["date"] + present)
        arrow = totals(t.to_pylist())

        # polars
        lf = pl.scan_parquet(f"{path}/**/*.parquet", hive_partitioning=True)
        s = lf.collect_schema()
        bad = [c for c in cols if s.get(c) != expected(c)[2]]
        result(not bad and s.get("date") == pl.Date,
               f"{table}: polars types (date {s.get('date')}){' wrong: ' + str({c: s.get(c) for c in bad}) if bad else ''}")
        p = (
            lf.group_by("date")
            .agg([pl.len().alias("n")] + [pl.col(c).sum().alias(c) for c in present])
            .collect()
        )
        polars = {str(r["date"]): (r["n"],) + tuple(int(r[c]) for c in present) for r in p.iter_rows(named=True)}

        arrow = {k: (v[0],) + tuple(v[1 + COUNTS.index(c)] for c in present) for k, v in arrow.items()}
        same = duck == arrow == polars
        result(same and sorted(duck) == dates,
               f"{table}: {len(dates)} dates, totals agree across duckdb, pyarrow and polars "
               f"({sum(v[0] for v in duck.values())} rows, {sum(v[1] for v in duck.values())} requests)"
               + ("" if same else f": duckdb {duck} pyarrow {arrow} polars {polars}"))
    print(f"check-clients: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
