#!/usr/bin/env python3
"""Checks of an output tree for scripts/crash-test.sh.

    check_crash.py visible OUT        what a reader may see right after a kill -9: every
                                      visible Parquet file reads whole, every report and
                                      diagnostics file has the manifests of its runs, a day
                                      has one file per table, no temporary file is visible.
                                      Prints the state the kill left (none, staging,
                                      committed, done).
    check_crash.py same OUT CLEAN     after recovery: no transaction left, and the reports
                                      (every table, rows sorted, visitor estimates too,
                                      one file per table and day) and diagnostics row counts
                                      equal those of CLEAN.
Exits 1 on a failed check.
"""

import glob
import json
import os
import sys

import pyarrow.parquet as pq


def visible_files(out):
    for root, dirs, files in os.walk(out):
        rel = os.path.relpath(root, out)
        if rel == "state" or rel.startswith("state" + os.sep):
            continue
        for f in files:
            yield os.path.join(root, f)


def check_visible(out):
    problems = []
    runs = {os.path.basename(p)[:-5] for p in glob.glob(os.path.join(out, "runs", "*.json"))}
    for p in visible_files(out):
        name = os.path.basename(p)
        if name.startswith(".tmp-"):
            problems.append(f"temporary file visible: {p}")
            continue
        if p.endswith(".json"):
            with open(p) as f:
                json.load(f)
        if p.endswith(".parquet"):
            try:
                pq.read_table(p)
            except Exception as e:  # noqa: BLE001
                problems.append(f"unreadable {p}: {e}")
            kv = pq.read_metadata(p).metadata or {}
            held = kv.get(b"logveil.source_runs") or kv.get(b"logveil.run_id") or b""
            for run in filter(None, held.decode().split(",")):
                if run not in runs:
                    problems.append(f"{p} is visible without runs/{run}.json")
    # A day republished by the killed run is replaced by one rename: never two files.
    for d in glob.glob(os.path.join(out, "reports", "*", "date=*")):
        n = len(glob.glob(os.path.join(d, "*.parquet")))
        if n > 1:
            problems.append(f"{d} holds {n} files: a day counted twice")
    txns = glob.glob(os.path.join(out, "state", "txn", "*"))
    if any(os.path.exists(os.path.join(t, "COMMIT")) for t in txns):
        state = "committed"
    elif txns:
        state = "staging"
    elif runs:
        state = "done"
    else:
        state = "none"
    return problems, state


def table_rows(out, table):
    rows, visitors = [], {}
    for p in sorted(glob.glob(os.path.join(out, "reports", table, "date=*", "part-*.parquet"))):
        date = os.path.basename(os.path.dirname(p))
        t = pq.read_table(p)
        cols = [c for c in t.column_names if c not in ("visitors", "visitors_hll")]
        for r in t.to_pylist():
            key = (date,) + tuple(str(r[c]) for c in cols)
            rows.append(key)
            if "visitors" in r:
                visitors[key] = visitors.get(key, 0) + r["visitors"]
    return sorted(rows), visitors


def parts_per_day(out, table):
    dirs = glob.glob(os.path.join(out, "reports", table, "date=*"))
    return [d for d in dirs if len(glob.glob(os.path.join(d, "part-*.parquet"))) != 1]


def diag_rows(out):
    n = 0
    for p in glob.glob(os.path.join(out, "diagnostics", "date=*", "part-*.parquet")):
        n += pq.ParquetFile(p).metadata.num_rows
    return n


def check_same(out, clean):
    problems = []
    if glob.glob(os.path.join(out, "state", "txn", "*")):
        problems.append("a transaction is left after a complete run")
    tables = sorted(os.listdir(os.path.join(clean, "reports")))
    for t in tables:
        (a, va), (b, vb) = table_rows(out, t), table_rows(clean, t)
        if a != b:
            problems.append(f"{t}: {len(a)} rows differ from the clean run's {len(b)}")
        # The published estimate is a function of the sketch registers alone, which do not
        # depend on the order threads or runs fed them.
        for k, v in vb.items():
            if va.get(k) != v:
                problems.append(f"{t}: visitors of {k} are {va.get(k)}, clean run {v}")
                break
        for d in parts_per_day(out, t):
            problems.append(f"{d} does not hold exactly one file")
    if diag_rows(out) != diag_rows(clean):
        problems.append(f"diagnostics: {diag_rows(out)} rows, clean run {diag_rows(clean)}")
    with open(os.path.join(out, "state", "ledger.json")) as f:
        if len(json.load(f)["entries"]) != 1:
            problems.append("the ledger does not hold exactly one entry")
    return problems


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "visible":
        problems, state = check_visible(sys.argv[2])
        print(state)
    elif len(sys.argv) == 4 and sys.argv[1] == "same":
        problems = check_same(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
