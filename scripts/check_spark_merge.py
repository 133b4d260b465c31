#!/usr/bin/env python3
"""Compares merged geo_daily reports with one logveil run over the whole log.

    check_spark_merge.py --whole TREE [--spark DIR] [--merged TREE]

--whole is the tree of one run over the whole log (--k-min 0); --spark the output of
spark_merge.py; --merged the tree of `logveil merge` of the parts. Per (date, country):
requests and bytes must be equal, visitors within 3% (rounded estimates, so one visitor
of slack on the smallest rows). Prints one PASS/FAIL line per comparison; exits 1 on a
failure.
"""

import argparse
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def per_country(spark, path, basepath=None):
    df = spark.read.option("basePath", basepath or path).parquet(path)
    rows = (
        df.groupBy("date", "country")
        .agg(
            F.sum("requests").cast("long").alias("r"),
            F.sum("bytes").cast("long").alias("b"),
            F.sum("visitors").cast("long").alias("v"),
        )
        .collect()
    )
    return {(str(x["date"]), x["country"]): (x["r"], x["b"], x["v"]) for x in rows}


def compare(name, got, want):
    problems = []
    if set(got) != set(want):
        problems.append(f"keys differ: {sorted(set(got) ^ set(want))[:5]}")
    worst = 0.0
    for k in sorted(set(got) & set(want)):
        (r, b, v), (r2, b2, v2) = got[k], want[k]
        if (r, b) != (r2, b2):
            problems.append(f"{k}: requests/bytes {r}/{b} against {r2}/{b2}")
        if abs(v - v2) > max(1, 0.03 * v2):
            problems.append(f"{k}: visitors {v} against {v2}")
        if v2:
            worst = max(worst, abs(v - v2) / v2)
    total = sum(x[0] for x in got.values())
    if problems:
        print(f"FAIL  {name}: " + "; ".join(problems[:5]))
        return False
    print(
        f"PASS  {name}: {len(got)} (date, country) rows, {total} requests, "
        f"largest visitors difference {worst * 100:.2f}%"
    )
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--whole", required=True)
    ap.add_argument("--spark")
    ap.add_argument("--merged")
    args = ap.parse_args()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("logveil-check")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    want = per_country(spark, f"{args.whole}/reports/geo_daily")
    ok = True
    if args.spark:
        ok &= compare("spark merge = one run", per_country(spark, args.spark), want)
    if args.merged:
        got = per_country(spark, f"{args.merged}/reports/geo_daily")
        ok &= compare("logveil merge = one run", got, want)
    spark.stop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
