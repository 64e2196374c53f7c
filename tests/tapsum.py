#!/usr/bin/python3
"""Count the TAP test points of every meson test run (testlog.json files)
and of the fuzz runs, and print one line: N passed, N failed[, N skipped].

A meson test that failed without printing a "not ok" (a crash, a sanitizer
report after the last point, a timeout) counts as one more failure."""
import glob
import json
import os
import re
import sys

results, build_failed = sys.argv[1], int(sys.argv[2])
passed = failed = skipped = 0
failures = []


def count_tap(text, where):
    global passed, failed, skipped
    nok = 0
    for line in text.splitlines():
        m = re.match(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b(.*))?", line)
        if not m:
            continue
        if m.group(3) and m.group(3).upper() == "SKIP":
            skipped += 1
            print(f"skipped: {where}: {line}", file=sys.stderr)
        elif m.group(1) == "ok":
            passed += 1
        else:
            failed += 1
            nok += 1
            failures.append(f"{where}: {line}")
    return nok


for path in sorted(glob.glob(os.path.join(results, "*.testlog.json"))):
    build = os.path.basename(path).split(".")[0]
    with open(path) as f:
        for raw in f:
            t = json.loads(raw)
            where = f"{build}/{t['name']}"
            nok = count_tap(t.get("stdout", ""), where)
            if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and nok == 0:
                failed += 1
                failures.append(f"{where}: {t['result']} (exit {t.get('returncode')})")

fuzz = os.path.join(results, "fuzz.tap")
if os.path.exists(fuzz):
    count_tap(open(fuzz).read(), "fuzz")

failed += build_failed
for f in failures:
    print(f"FAILED {f}", file=sys.stderr)
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
