#!/usr/bin/env python3
"""Checks the remote side of a cooled table against what the FE reports.

    floectl --json tablets T | remote_check.py ROOT [--be-meta DIR]... [--no-orphans] [--quiet]
    floectl --json tablets T | remote_check.py --s3 LISTING.json [--be-meta DIR]... [--no-orphans]

ROOT is the root of a local-type resource (objects are files under it);
with --s3, LISTING.json is `aws s3api list-objects-v2 --output json` of the
bucket/prefix (keys relative to the resource prefix must start "data/").

For every tablet whose replicas report a cooldown conf (term >= 1):
  - the current uploader's meta data/{tablet}/{replica}.{term}.meta, if
    present, parses and names the tablet, replica and term;
  - every segment object it references exists with the size it records.
--allow-bad-meta skips a current meta that does not parse (a test planted
it) instead of failing. With --be-meta DIR (a BE's storage_root/meta, repeatable), every remote
rowset in every replica's own tablet meta must exist too, with its size:
that is invariant 1 (no object a replica's meta references is deleted),
including followers that have not caught up yet and stopped BEs.
Orphans (objects under data/{tablet}/ referenced by neither the current
remote meta nor any replica's meta) are counted; with --no-orphans any
orphan is an error. Prints one summary line; exit 1 on any error.
"""
import json
import os
import sys


def main():
    args = sys.argv[1:]
    no_orphans = "--no-orphans" in args
    quiet = "--quiet" in args
    allow_bad_meta = "--allow-bad-meta" in args
    args = [a for a in args if a not in ("--no-orphans", "--quiet", "--allow-bad-meta")]
    be_meta_dirs = []
    while "--be-meta" in args:
        i = args.index("--be-meta")
        be_meta_dirs.append(args[i + 1])
        del args[i:i + 2]
    objects = {}  # key -> size
    if args and args[0] == "--s3":
        with open(args[1]) as f:
            listing = json.load(f) or {}
        for o in listing.get("Contents", []) or []:
            k = o["Key"]
            i = k.find("data/")
            if i >= 0:
                objects[k[i:]] = int(o["Size"])
        read = None
    else:
        root = args[0]
        base = os.path.join(root, "data")
        for d, _, files in os.walk(base):
            for fn in files:
                if fn.startswith("."):
                    continue  # temp files of an atomic put in progress
                p = os.path.join(d, fn)
                objects[os.path.relpath(p, root)] = os.path.getsize(p)

        def read(key):
            with open(os.path.join(root, key), "rb") as f:
                return f.read()

    reps = json.load(sys.stdin)
    tablets = {}
    for r in reps:
        tablets.setdefault(r["tablet"], []).append(r)
    errors, referenced, metas = [], set(), 0
    for tid, rs in sorted(tablets.items()):
        term = max(r.get("cooldown_term", 0) for r in rs)
        if term < 1:
            continue
        upl = [r["cooldown_replica_id"] for r in rs if r.get("cooldown_term") == term][0]
        key = "data/%d/%d.%d.meta" % (tid, upl, term)
        if key not in objects:
            continue
        referenced.add(key)
        metas += 1
        if read is None:
            continue  # s3 listing only: sizes checked below, content not read
        try:
            m = json.loads(read(key))
        except Exception as ex:
            if not allow_bad_meta:
                errors.append("%s: does not parse: %s" % (key, ex))
            continue
        if m.get("tablet_id") != tid or m.get("replica_id") != upl or m.get("term") != term:
            errors.append("%s: names tablet %s replica %s term %s" % (key, m.get("tablet_id"), m.get("replica_id"), m.get("term")))
        for rs_ in m.get("rowsets", []):
            for i, seg in enumerate(rs_.get("segments", [])):
                sk = "data/%d/%s_%d.dat" % (tid, rs_["id"], i)
                referenced.add(sk)
                if sk not in objects:
                    errors.append("tablet %d: meta %s references missing object %s" % (tid, key, sk))
                elif objects[sk] != seg.get("size"):
                    errors.append("tablet %d: object %s has %d bytes, meta says %s" % (tid, sk, objects[sk], seg.get("size")))
    for d in be_meta_dirs:
        for tid in tablets:
            p = os.path.join(d, "%d.json" % tid)
            try:
                with open(p) as f:
                    lm = json.load(f)
            except FileNotFoundError:
                continue
            except Exception as ex:
                errors.append("%s: does not parse: %s" % (p, ex))
                continue
            for rs_ in lm.get("rowsets", []):
                if rs_.get("location", "local") == "local":
                    continue
                for i, seg in enumerate(rs_.get("segments", [])):
                    sk = "data/%d/%s_%d.dat" % (tid, rs_["id"], i)
                    referenced.add(sk)
                    if sk not in objects:
                        errors.append("tablet %d: replica %s (%s) references missing object %s" % (
                            tid, lm.get("replica_id"), p, sk))
                    elif objects[sk] != seg.get("size"):
                        errors.append("tablet %d: object %s has %d bytes, replica %s says %s" % (
                            tid, sk, objects[sk], lm.get("replica_id"), seg.get("size")))
    mine = [k for k in objects if k.split("/")[1].isdigit() and int(k.split("/")[1]) in tablets]
    orphans = sorted(k for k in mine if k not in referenced)
    if no_orphans and orphans:
        errors.append("%d orphans left: %s" % (len(orphans), " ".join(orphans[:5])))
    for e in errors:
        print("remote_check: " + e, file=sys.stderr)
    if not quiet or errors:
        print("metas=%d referenced=%d objects=%d orphans=%d errors=%d" % (
            metas, len(referenced), len(mine), len(orphans), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
