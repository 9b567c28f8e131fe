"""Add up the results of every test runner scripts/test ran and print one
closing line, "N passed, N failed[, N skipped]", which CI reads."""
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET

def main(folder):
    passed = failed = skipped = 0
    # build.txt: one line per build; bench-*.txt: the benchmark smoke
    for path in glob.glob(os.path.join(folder, "build.txt")) + \
            glob.glob(os.path.join(folder, "bench-*.txt")):
        for line in open(path):
            name, result = line.split()
            if result == "OK":
                passed += 1
            else:
                failed += 1
                print(f"FAILED: {name}")
    for path in glob.glob(os.path.join(folder, "unit-*.json")):
        for line in open(path):
            if not line.strip():
                continue
            t = json.loads(line)
            if t["result"] == "OK":
                passed += 1
            elif t["result"] in ("SKIP", "EXPECTEDFAIL"):
                skipped += 1
            else:
                failed += 1
                print(f"FAILED: unit {t['name']} ({os.path.basename(path)})")
    for path in glob.glob(os.path.join(folder, "e2e-*.xml")):
        for case in ET.parse(path).getroot().iter("testcase"):
            kinds = {child.tag for child in case}
            # Node writes a failing `todo` test with both <skipped> and
            # <failure>: it is declared unfinished, so it counts as skipped.
            if "skipped" in kinds:
                skipped += 1
            elif "failure" in kinds or "error" in kinds:
                failed += 1
                print(f"FAILED: e2e {case.get('classname')}::{case.get('name')} ({os.path.basename(path)})")
            else:
                passed += 1
    if passed + failed == 0:
        print("0 passed, 1 failed")
        print("no test ran", file=sys.stderr)
        return 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
