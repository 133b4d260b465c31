#!/usr/bin/env python3
"""Compare logveil's Parquet reports against a truth file written by scripts/genlog.

Usage:

    scripts/check_truth.py --truth truth.json --reports OUT/reports \
        [--log access.log --geoip DB.mmdb] [--duckdb]

Checks, against the truth for the valid lines:

* geo_daily: per `date=YYYY-MM-DD` partition, the sums of `requests` and
  `bytes` equal the truth's by_date entries;
* traffic_hourly: the sums of `requests` by `status_class` ("2xx", ...) and by
  `hour` (UTC) equal the truth's by_status_class and by_hour; in addition the
  totals of `requests` and `bytes` equal the truth's valid and bytes_total,
  and, where a `method` column exists, sums by method equal by_method.

With --log and --geoip (both or neither), it also recomputes requests per
(UTC date, country) straight from the raw log, independently of logveil: a
simple line parser (client = first space-separated token, timestamp between
the first `[` and `]`, lines listed in the truth's malformed_line_numbers
skipped) and the `maxminddb` package's pure-Python reader on DB.mmdb. The
client is unwrapped like logveil does (brackets and ports stripped;
IPv4-mapped, IPv4-compatible, 6to4 and NAT64 addresses looked up as IPv4);
hostnames and addresses without a country give "unknown", the anonymous-proxy
and satellite-provider traits give "anonymous_proxy" / "satellite_provider".
geo_daily summed over continent per (date, country) must equal it exactly.

With --duckdb, DuckDB (the `duckdb` package) must read the reports with Hive
partitioning: `date` must come out as a column, and
`SELECT date, sum(requests) ... GROUP BY date` over geo_daily (and over
traffic_hourly) must equal the truth's by_date.

Exit status: 0 when everything matches, 1 on any mismatch, 2 on a usage or
input problem (including pyarrow, maxminddb or duckdb not being installed
when needed).
"""

import argparse
import datetime as dt
import glob
import ipaddress
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


# --------------------------------------------------------------------------
# independent geo recomputation from the raw log (--log, --geoip)
# --------------------------------------------------------------------------

MONTHS = {m: i + 1 for i, m in enumerate((b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun",
                                          b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"))}

_NAT64_WKP = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def utc_date(ts):
    """UTC date 'YYYY-MM-DD' of a CLF timestamp b'DD/Mon/YYYY:HH:MM:SS +ZZZZ', or None."""
    try:
        when, zone = ts.split(b" ")
        day, mon, rest = when.split(b"/")
        year, hh, mm, ss = rest.split(b":")
        sign = {b"+": 1, b"-": -1}[zone[:1]]
        if len(zone) != 5 or not zone[1:].isdigit():
            return None
        offset = sign * (int(zone[1:3]) * 60 + int(zone[3:5]))
        local = dt.datetime(int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss))
    except (ValueError, KeyError):
        return None
    return (local - dt.timedelta(minutes=offset)).strftime("%Y-%m-%d")


def client_ip(field):
    """The IP address of a client field (brackets and port stripped), or None for a hostname."""
    host = field
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        host = host[1:end]
    elif host.count(":") == 1:          # a.b.c.d:port (or host:port)
        host = host.split(":", 1)[0]
    host = host.split("%", 1)[0]        # zone id, if any
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def unwrap(ip):
    """The IPv4 address embedded in a mapped, compatible, 6to4 or NAT64 IPv6 address."""
    if ip.version == 4:
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    n = int(ip)
    if n >> 32 == 0 and n > 1:          # ::a.b.c.d, except :: and ::1
        return ipaddress.IPv4Address(n & 0xFFFFFFFF)
    if n >> 112 == 0x2002:              # 2002:AABB:CCDD::/16
        return ipaddress.IPv4Address((n >> 80) & 0xFFFFFFFF)
    if ip in _NAT64_WKP or ip in _NAT64_LOCAL:
        return ipaddress.IPv4Address(n & 0xFFFFFFFF)
    return ip


def two_letters(code):
    if isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha():
        return code.upper()
    return None


def country_of_record(rec):
    """Published country of a database record (None: not found)."""
    if not isinstance(rec, dict):
        return "unknown"
    traits = rec.get("traits") or {}
    if traits.get("is_anonymous_proxy") is True:
        return "anonymous_proxy"
    if traits.get("is_satellite_provider") is True:
        return "satellite_provider"
    country = rec.get("country")
    code = two_letters(country.get("iso_code")) if isinstance(country, dict) else None
    if code is None:
        code = two_letters(rec.get("country_code"))
    return code or "unknown"


class GeoLookup:
    """Country of a client field through the pure-Python maxminddb reader, cached per field."""

    def __init__(self, maxminddb, path):
        try:
            # MODE_MMAP always uses the pure-Python reader (not the C extension).
            self.reader = maxminddb.open_database(path, maxminddb.MODE_MMAP)
        except (OSError, ValueError) as e:
            fail_usage("cannot open geo database %s: %s" % (path, e))
        self.v4_only = self.reader.metadata().ip_version == 4
        self.cache = {}
        self.hostnames = 0

    def __call__(self, field):
        hit = self.cache.get(field)
        if hit is not None:
            return hit
        ip = client_ip(field)
        if ip is None:
            self.hostnames += 1
            country = "unknown"
        else:
            ip = unwrap(ip)
            if ip.version == 6 and self.v4_only:
                country = "unknown"
            else:
                country = country_of_record(self.reader.get(ip))
        self.cache[field] = country
        return country


def geo_from_log(log_path, geo, skip):
    """({(date, country): requests}, {date: requests}, counted, bad_lines) from the raw log."""
    cells, dates = {}, {}
    counted = 0
    bad = []
    try:
        f = open(log_path, "rb")
    except OSError as e:
        fail_usage("cannot read log %s: %s" % (log_path, e))
    with f:
        for no, line in enumerate(f, 1):
            if no in skip:
                continue
            line = line.rstrip(b"\r\n")
            client = line.split(b" ", 1)[0]
            # The timestamp: the first [..] after the client field (which may be "[v6]:port").
            open_at = line.find(b"[", len(client))
            close_at = line.find(b"]", open_at + 1)
            date = utc_date(line[open_at + 1:close_at]) if 0 <= open_at < close_at else None
            if date is None or not client:
                bad.append(no)
                continue
            country = geo(client.decode("latin-1"))
            key = (date, country)
            cells[key] = cells.get(key, 0) + 1
            dates[date] = dates.get(date, 0) + 1
            counted += 1
    return cells, dates, counted, bad


def check_geo_from_log(rep, pq, args, truth):
    try:
        import maxminddb
    except ImportError:
        fail_usage("--log/--geoip need the maxminddb package: pip install maxminddb")
    geo = GeoLookup(maxminddb, args.geoip)
    skip = set(truth.get("malformed_line_numbers", ()))
    want, dates, counted, bad = geo_from_log(args.log, geo, skip)

    got = {}
    for date, files in partitions(os.path.join(args.reports, "geo_daily")):
        for path in files:
            cols, _ = read_columns(pq, path, ("country", "requests"))
            for country, req in zip(cols["country"], cols["requests"]):
                key = (date, country)
                got[key] = got.get(key, 0) + (req or 0)

    by_country = {}
    for (_date, country), n in want.items():
        by_country[country] = by_country.get(country, 0) + n
    top = sorted(by_country.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    print("log:   %d lines counted, %d distinct clients, %d hostnames, %d unparsable; "
          "%d (date, country) cells in the log, %d in geo_daily, %d countries"
          % (counted, len(geo.cache), geo.hostnames, len(bad), len(want), len(got), len(by_country)))
    print("log:   top countries: %s" % ", ".join("%s %d" % kv for kv in top))

    rep.compare_value("log lines counted = truth valid", truth["valid"], counted)
    if bad:
        print("        unparsable lines not listed as malformed: %s"
              % ", ".join(map(str, bad[:10])))
    want_dates = {d: e["requests"] for d, e in truth["by_date"].items() if e["requests"]}
    rep.compare("log requests by UTC date", want_dates, dates)
    rep.compare("geo_daily requests by (date,country)",
                {"%s %s" % k: v for k, v in want.items()},
                {"%s %s" % k: v for k, v in got.items()})


# --------------------------------------------------------------------------
# DuckDB with Hive partitioning (--duckdb)
# --------------------------------------------------------------------------

def check_duckdb(rep, args, truth):
    try:
        import duckdb
    except ImportError:
        fail_usage("--duckdb needs the duckdb package: pip install duckdb")
    con = duckdb.connect(":memory:")
    want = {d: e["requests"] for d, e in truth["by_date"].items() if e["requests"]}
    for table in ("geo_daily", "traffic_hourly"):
        pattern = os.path.join(os.path.abspath(args.reports), table, "*", "*.parquet")
        src = "read_parquet('%s', hive_partitioning=true)" % pattern.replace("'", "''")
        rep.checks += 1
        try:
            cols = {row[0]: row[1] for row in con.execute("DESCRIBE SELECT * FROM " + src).fetchall()}
            rows = con.execute("SELECT date, sum(requests) FROM %s GROUP BY date ORDER BY date"
                               % src).fetchall()
        except duckdb.Error as e:
            rep.failures += 1
            print("FAIL  duckdb %-27s %s" % (table, str(e).splitlines()[0]))
            continue
        if "date" not in cols:
            rep.failures += 1
            print("FAIL  duckdb %-27s no `date` column (columns: %s)" % (table, ", ".join(cols)))
            continue
        got, odd = {}, []
        for date, req in rows:
            key = date.isoformat() if isinstance(date, (dt.date, dt.datetime)) else str(date)
            if len(key) != 10 or not utc_date_ok(key):
                odd.append(key)
            got[key] = got.get(key, 0) + int(req or 0)
        if odd:
            rep.failures += 1
            print("FAIL  duckdb %-27s `date` values are not dates: %s" % (table, ", ".join(odd[:5])))
            continue
        print("ok    duckdb %-27s hive `date` column recognised (%s), %d partitions"
              % (table, cols["date"], len(rows)))
        rep.compare("duckdb %s requests by date" % table, want, got)


def utc_date_ok(s):
    try:
        dt.date.fromisoformat(s)
        return True
    except ValueError:
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--truth", required=True, help="truth JSON written by scripts/genlog --truth")
    ap.add_argument("--reports", required=True, help="the reports directory (OUT/reports)")
    ap.add_argument("--log", help="the raw log the reports were made from (needs --geoip)")
    ap.add_argument("--geoip", metavar="DB", help="MaxMind-format database used for the reports (needs --log)")
    ap.add_argument("--duckdb", action="store_true",
                    help="also check that DuckDB reads the reports with Hive partitioning")
    args = ap.parse_args(argv)
    if bool(args.log) != bool(args.geoip):
        fail_usage("--log and --geoip go together")

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

    if args.log:
        check_geo_from_log(rep, pq, args, truth)
    if args.duckdb:
        check_duckdb(rep, args, truth)

    if rep.failures:
        print("MISMATCH: %d of %d checks failed" % (rep.failures, rep.checks))
        return 1
    print("MATCH: all %d checks passed" % rep.checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
