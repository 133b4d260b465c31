#!/usr/bin/env python3
"""Compare logveil's Parquet reports against a truth file written by scripts/genlog.

Usage:

    scripts/check_truth.py --truth truth.json --reports OUT/reports

Checks, against the truth for the valid lines:

* geo_daily: per `date=YYYY-MM-DD` partition, the sums of `requests` and
  `bytes` equal the truth's by_date entries;
* traffic_hourly: the sums of `requests` by `status_class` ("2xx", ...) and by
  `hour` (UTC) equal the truth's by_status_class and by_hour; in addition the
  totals of `requests` and `bytes` equal the truth's valid and bytes_total,
  and, where a `method` column exists, sums by method equal by_method.

Exit status: 0 when everything matches, 1 on any mismatch, 2 on a usage or
input problem (including pyarrow not being installed).
"""

import argparse
import datetime as dt
import glob
import json
import os
import sys


def fail_usage(msg):
    print("check_truth: %s" % msg, file=sys.stderr)
    sys.exit(2)


def partitions(table_dir):
    """[(partition date string, [parquet files])] for a Hive-partitioned table."""
    if not os.path.isdir(table_dir):
        fail_usage("no such report directory: %s" % table_dir)
    out = []
    for part in sorted(os.listdir(table_dir)):
        path = os.path.join(table_dir, part)
        if not os.path.isdir(path) or not part.startswith("date="):
            continue
        files = sorted(glob.glob(os.path.join(path, "*.parquet")))
        out.append((part[len("date="):], files))
    return out


def read_columns(pq, path, wanted):
    """Read the wanted columns of one Parquet file (no partition inference)."""
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    missing = [c for c in wanted if c not in names]
    if missing:
        fail_usage("%s: missing column(s) %s (has %s)" % (path, ", ".join(missing), ", ".join(names)))
    table = pf.read(columns=list(wanted))
    return {c: table.column(c).to_pylist() for c in wanted}, names


def hour_key(value):
    """Normalise an hour value to 'YYYY-MM-DDTHH' in UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.strftime("%Y-%m-%dT%H")
    if isinstance(value, (int, float)):
        v = float(value)
        # Guess the unit from the magnitude: s, ms, us or ns since the epoch.
        for div in (1.0, 1e3, 1e6, 1e9):
            if abs(v / div) < 1e11:
                return dt.datetime.fromtimestamp(v / div, dt.timezone.utc).strftime("%Y-%m-%dT%H")
    if isinstance(value, str):
        s = value.strip().replace(" ", "T")
        try:
            parsed = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            return s[:13]
        return hour_key(parsed)
    return str(value)


class Report:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def compare(self, title, truth, got):
        """Compare two {key: number} maps; keys missing on one side count as 0."""
        self.checks += 1
        keys = sorted(set(truth) | set(got), key=str)
        bad = [(k, truth.get(k, 0), got.get(k, 0)) for k in keys if truth.get(k, 0) != got.get(k, 0)]
        if not bad:
            print("ok    %-34s %d keys, total %d" % (title, len(keys), sum(truth.values())))
            return
        self.failures += 1
        print("FAIL  %-34s %d of %d keys differ" % (title, len(bad), len(keys)))
        for k, want, have in bad[:10]:
            print("        %-20s truth %-14d reports %-14d (diff %+d)" % (k, want, have, have - want))
        if len(bad) > 10:
            print("        ... %d more" % (len(bad) - 10))

    def compare_value(self, title, truth, got):
        self.checks += 1
        if truth == got:
            print("ok    %-34s %d" % (title, truth))
        else:
            self.failures += 1
            print("FAIL  %-34s truth %d reports %d (diff %+d)" % (title, truth, got, got - truth))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--truth", required=True, help="truth JSON written by scripts/genlog --truth")
    ap.add_argument("--reports", required=True, help="the reports directory (OUT/reports)")
    args = ap.parse_args(argv)

    try:
        import pyarrow.parquet as pq
    except ImportError:
        fail_usage("pyarrow is required to read the Parquet reports: pip install pyarrow")

    try:
        with open(args.truth, encoding="utf-8") as f:
            truth = json.load(f)
    except (OSError, ValueError) as e:
        fail_usage("cannot read truth file %s: %s" % (args.truth, e))

    rep = Report()
    print("truth: %d lines, %d valid, %d malformed, seed %s"
          % (truth["lines"], truth["valid"], truth["malformed"], truth.get("seed")))

    # geo_daily: per-date sums of requests and bytes.
    geo_req, geo_bytes = {}, {}
    for date, files in partitions(os.path.join(args.reports, "geo_daily")):
        for path in files:
            cols, _ = read_columns(pq, path, ("requests", "bytes"))
            geo_req[date] = geo_req.get(date, 0) + sum(v or 0 for v in cols["requests"])
            geo_bytes[date] = geo_bytes.get(date, 0) + sum(v or 0 for v in cols["bytes"])
    want_req = {d: e["requests"] for d, e in truth["by_date"].items() if e["requests"]}
    want_bytes = {d: e["bytes"] for d, e in truth["by_date"].items() if e["requests"]}
    rep.compare("geo_daily requests by date", want_req, geo_req)
    rep.compare("geo_daily bytes by date", want_bytes, geo_bytes)

    # traffic_hourly: sums by status class, hour and method.
    by_class, by_hour, by_method = {}, {}, {}
    total_req = total_bytes = 0
    has_method = True
    for _date, files in partitions(os.path.join(args.reports, "traffic_hourly")):
        for path in files:
            names = pq.ParquetFile(path).schema_arrow.names
            wanted = ["hour", "status_class", "requests", "bytes"]
            if "method" in names:
                wanted.append("method")
            else:
                has_method = False
            cols, _ = read_columns(pq, path, wanted)
            for i, req in enumerate(cols["requests"]):
                req = req or 0
                total_req += req
                total_bytes += cols["bytes"][i] or 0
                cls = cols["status_class"][i]
                by_class[cls] = by_class.get(cls, 0) + req
                hk = hour_key(cols["hour"][i])
                by_hour[hk] = by_hour.get(hk, 0) + req
                if "method" in cols:
                    m = cols["method"][i]
                    by_method[m] = by_method.get(m, 0) + req
    rep.compare("traffic_hourly requests by class", truth["by_status_class"], by_class)
    rep.compare("traffic_hourly requests by hour", truth["by_hour"], by_hour)
    rep.compare_value("traffic_hourly total requests", truth["valid"], total_req)
    rep.compare_value("traffic_hourly total bytes", truth["bytes_total"], total_bytes)
    if has_method and by_method:
        rep.compare("traffic_hourly requests by method", truth["by_method"], by_method)

    if rep.failures:
        print("MISMATCH: %d of %d checks failed" % (rep.failures, rep.checks))
        return 1
    print("MATCH: all %d checks passed" % rep.checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
