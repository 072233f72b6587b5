#!/usr/bin/env python3
"""Turns test outputs into PASS/FAIL lines and totals them for tests/run.sh.

  count.py meson TESTLOG.json LABEL   one line per Check case (from Check's
                                      "Checks: N, Failures: F, Errors: E"),
                                      or per meson test when it has none
  count.py script LOG NAME RC         PASS/FAIL lines a script printed; a
                                      non-zero exit with no FAIL line is one failure
  count.py total RESULTS              prints the failures, then "N passed, N failed"
"""
import json
import re
import sys

CHECK = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")
FAILED_CASE = re.compile(r"^(\S+?):(\d+):([EF]):([^:]*):([^:]*):")


def meson(path, label):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            t = json.loads(line)
            name = t["name"]
            out = t.get("stdout") or ""
            m = CHECK.search(out)
            ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
            if m:
                n, fl, er = int(m.group(1)), int(m.group(2)), int(m.group(3))
                for _ in range(n - fl - er):
                    print(f"PASS {label}:{name}")
                for line2 in out.splitlines():
                    fm = FAILED_CASE.match(line2)
                    if fm:
                        print(f"FAIL {label}:{name}:{fm.group(5)} ({fm.group(1)}:{fm.group(2)})")
                if not ok and fl + er == 0:
                    print(f"FAIL {label}:{name} ({t['result']})")
            else:
                print(f"{'PASS' if ok else 'FAIL'} {label}:{name}" + ("" if ok else f" ({t['result']})"))


def script(path, name, rc):
    passed = failed = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("PASS ") or line.startswith("FAIL "):
                print(line.rstrip("\n").replace(" ", f" {name}:", 1))
                if line.startswith("PASS "):
                    passed += 1
                else:
                    failed += 1
    if int(rc) != 0 and failed == 0:
        print(f"FAIL {name} (exit {rc})")
    elif passed == 0 and failed == 0:
        print(f"PASS {name}")


def total(path):
    p = f = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("PASS "):
                p += 1
            elif line.startswith("FAIL "):
                f += 1
                print(line.rstrip("\n"))
    print(f"{p} passed, {f} failed")
    return 1 if f or p == 0 else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "meson":
        meson(sys.argv[2], sys.argv[3])
    elif cmd == "script":
        script(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "total":
        sys.exit(total(sys.argv[2]))
    else:
        sys.exit(f"count.py: unknown command {cmd}")
