#!/usr/bin/python3
"""Reference canonical JSON for test_canonical_json.c.

Usage: canonical_crosscheck.py IN OUT

IN holds one JSON text per line. For each line, OUT gets one line: the
hex of Debian's python3-canonicaljson encoding of that value (hex so that
any byte the encoder emits survives the trip), or "ERR" if it refused it.

Exit status 77 means python3-canonicaljson is not installed: the C test
then skips the cross-check and says so.
"""
import json
import sys

try:
    import canonicaljson
except ImportError:
    sys.stderr.write("canonical_crosscheck: python3-canonicaljson not installed\n")
    sys.exit(77)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], "rb") as src, open(argv[2], "w", encoding="ascii") as dst:
        for raw in src.read().split(b"\n"):
            if not raw:
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
                dst.write(canonicaljson.encode_canonical_json(value).hex() + "\n")
            except (ValueError, TypeError):
                dst.write("ERR\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
