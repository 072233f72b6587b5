#!/usr/bin/env python3
"""Deterministic sample rows for integration tests and the quickstart.

    gen_rows.py START COUNT [SEED]  > rows.csv

Columns: k (int64, START..START+COUNT-1), ts (timestamp, ISO-8601 UTC),
v (double with 2 decimals), s (short string, empty = NULL on every 7th row).
Prints no header.
"""
import datetime
import random
import sys

start, count = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else start)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
out = []
for k in range(start, start + count):
    ts = 1767225600 + k * 37  # 2026-01-01 onwards
    when = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    v = round(rnd.uniform(-1000, 1000), 2)
    s = "" if k % 7 == 0 else rnd.choice(words)
    out.append("%d,%s,%.2f,%s" % (k, when.strftime("%Y-%m-%dT%H:%M:%SZ"), v, s))
sys.stdout.write("\n".join(out) + "\n")
