#!/usr/bin/env python3
"""Checks the visitor sketches and small-cell suppression of a logveil output tree against
the log it came from, with independent readers (pyarrow and the Apache DataSketches Python
package).

    check_sketches.py OUT LOG [--truth LOG.truth.json] [--tolerance 0.03]

For every day, the union of each table's `visitors_hll` sketches must estimate the exact
number of distinct visitors (client address, user agent) of that day within the tolerance;
each row's `visitors` must be its own sketch's estimate; merging two days' sketches must
estimate their union (visitors are salted per day, so a returning visitor counts once per
day); no published row may have 0 < visitors < k unless it is an `(other)` row; and the
requests of every table must add up to the parsed lines.
"""

import argparse
import datetime as dt
import glob
import ipaddress
import json
import os
import re
import sys
from collections import defaultdict

import datasketches
import pyarrow.dataset as ds

LINE = re.compile(
    rb'^(\S+) \S+ \S+ \[(\d\d)/(\w\w\w)/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\] '
    rb'"(?:[^"\\]|\\.)*" \d{3} (?:\d+|-)(?: "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)")?'
)
MONTHS = {m: i + 1 for i, m in enumerate(
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"])}
TABLES = ["geo_daily", "pages_daily", "referrers_daily", "agents_daily"]
OTHER = "(other)"


def client_key(field):
    text = field.decode("latin-1")
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return ("name", text)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.version, ip.packed)


def exact_visitors(log, skip):
    per_day = defaultdict(set)
    parsed = 0
    with open(log, "rb") as f:
        for n, line in enumerate(f, 1):
            if n in skip:
                continue
            m = LINE.match(line)
            if not m:
                continue
            parsed += 1
            day, mon, year, hh, mm, ss, sign, oh, om = m.group(2, 3, 4, 5, 6, 7, 8, 9, 10)
            t = dt.datetime(int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss))
            off = dt.timedelta(hours=int(oh), minutes=int(om))
            t = t - off if sign == b"+" else t + off
            ua = m.group(11) or b""
            per_day[t.date().isoformat()].add((client_key(m.group(1)), ua))
    return per_day, parsed


def read(out, table):
    path = os.path.join(out, "reports", table)
    return ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pylist()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("log")
    p.add_argument("--truth", help="genlog truth file (its malformed line numbers are skipped)")
    p.add_argument("--tolerance", type=float, default=0.03)
    a = p.parse_args()

    skip = set()
    if a.truth:
        skip = set(json.load(open(a.truth))["malformed_line_numbers"])
    exact, parsed = exact_visitors(a.log, skip)
    runs = sorted(glob.glob(os.path.join(a.out, "runs", "*.json")))
    k = json.load(open(runs[-1]))["publication"]["rules"]["k_min"]

    failures = []
    checks = 0

    def check(ok, what):
        nonlocal checks
        checks += 1
        if not ok:
            failures.append(what)

    for table in TABLES:
        rows = read(a.out, table)
        check(sum(r["requests"] for r in rows) == parsed,
              f"{table}: requests {sum(r['requests'] for r in rows)} != parsed lines {parsed}")
        unions = defaultdict(lambda: datasketches.hll_union(12))
        for r in rows:
            s = datasketches.hll_sketch.deserialize(r["visitors_hll"])
            check(abs(s.get_estimate() - r["visitors"]) <= 1,
                  f"{table}: visitors {r['visitors']} is not its sketch's estimate {s.get_estimate():.1f}")
            unions[str(r["date"])].update(s)
            dims = [v for key, v in r.items() if isinstance(v, str) and key != "date"]
            if 0 < r["visitors"] < k:
                check(OTHER in dims, f"{table}: small row published: {dims} with {r['visitors']} visitors")
        for day, truth in sorted(exact.items()):
            est = unions[day].get_estimate()
            err = abs(est - len(truth)) / max(1, len(truth))
            check(err <= a.tolerance,
                  f"{table} {day}: sketch union estimates {est:.0f}, exact {len(truth)} (error {err:.2%})")
            print(f"{table} {day}: exact {len(truth)}, estimate {est:.0f} ({err:.2%})")
        days = sorted(exact)
        if len(days) >= 2:
            u = datasketches.hll_union(12)
            u.update(unions[days[0]].get_result())
            u.update(unions[days[1]].get_result())
            both = len(exact[days[0]]) + len(exact[days[1]])
            err = abs(u.get_estimate() - both) / both
            check(err <= a.tolerance,
                  f"{table}: union of {days[0]} and {days[1]} estimates {u.get_estimate():.0f}, exact {both}")
            print(f"{table} {days[0]}+{days[1]}: exact {both}, estimate {u.get_estimate():.0f} ({err:.2%})")

    for f in failures:
        print("FAIL", f)
    print(f"sketches: {checks - len(failures)} of {checks} checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
