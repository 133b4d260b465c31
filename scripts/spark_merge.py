#!/usr/bin/env python3
"""Merges the geo_daily reports of several logveil output trees with Spark.

    spark_merge.py --out DIR REPORTS_DIR [REPORTS_DIR ...]

Each REPORTS_DIR is the reports/ directory of one server's tree (run with a shared
--salt-file, so visitor sketches of the same visitor agree, and --k-min 0, so no row was
folded before merging). Every geo_daily/date=YYYY-MM-DD/*.parquet is read with Hive
partitioning; rows are grouped by (date, continent, country) with sum(requests),
sum(bytes) and the union of the DataSketches HLL visitor sketches; the result is written
as Parquet partitioned by date under DIR, with columns continent, country, requests,
bytes, visitors (the union's estimate) and visitors_hll (the union).
"""

import argparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", help="reports/ directories of logveil trees")
    ap.add_argument("--out", required=True, help="output directory (overwritten)")
    args = ap.parse_args()

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("logveil-merge")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    frames = [
        spark.read.option("basePath", f"{r}/geo_daily").parquet(f"{r}/geo_daily")
        for r in args.reports
    ]
    geo = frames[0]
    for f in frames[1:]:
        geo = geo.unionByName(f)

    merged = (
        geo.groupBy("date", "continent", "country")
        .agg(
            F.sum("requests").cast("long").alias("requests"),
            F.sum("bytes").cast("long").alias("bytes"),
            F.hll_union_agg("visitors_hll").alias("visitors_hll"),
        )
        .withColumn("visitors", F.hll_sketch_estimate("visitors_hll"))
        .select("date", "continent", "country", "requests", "bytes", "visitors", "visitors_hll")
    )
    merged.write.mode("overwrite").partitionBy("date").parquet(args.out)
    spark.stop()


if __name__ == "__main__":
    main()
