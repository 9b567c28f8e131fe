"""Print docs/api.md: every endpoint of src/api/routes.c (the route table)
with its authentication, rate-limit class and ledger kind, and the
end-to-end test files that call it. Run: /usr/bin/python3 scripts/api-table.py > docs/api.md

A test file "calls" an endpoint when it contains the endpoint's last literal
path segment in a request path (a heuristic: the table is a map for
reviewers, the tests themselves are the proof)."""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIXES = {
    "PFX_CLIENT": "/_matrix/client/{v3,r0}",
    "PFX_CLIENT_V3": "/_matrix/client/v3",
    "PFX_CLIENT_R0": "/_matrix/client/r0",
    "PFX_CLIENT_V1": "/_matrix/client/v1",
    "PFX_MEDIA_V3": "/_matrix/media/v3",
    "PFX_MEDIA": "/_matrix/media/{v3,r0}",
    "PFX_SYNAPSE_ADMIN": "/_synapse/admin",
    "PFX_ROOT": "",
}
ROW = re.compile(r'ROW\(([^,]+),\s*HTTP_(\w+),\s*"([^"]+)",\s*(\w+),\s*(\w+),\s*(\w+),\s*(\w+)')


def tests_calling(pattern, files):
    """Files holding a request path of this shape: literal segments as they
    are, each {placeholder} any one segment (an f-string field included),
    ending where the path ends (a quote or a query string)."""
    parts = []
    for seg in pattern.strip("/").split("/"):
        parts.append(r'[^/"\'\s]+' if seg.startswith("{") else re.escape(seg))
    rx = re.compile(r'["\'/]' + "/".join(parts) + r'/?(?=["\'?])')
    hits = sorted(os.path.basename(p) for p, text in files.items() if rx.search(text))
    if hits:
        return hits
    # Paths built piece by piece ("rooms/%s/" + action, base + "/actions"):
    # fall back to the last literal segment as a quoted word, marked "~".
    literals = [seg for seg in pattern.strip("/").split("/") if not seg.startswith("{")]
    if not literals:
        return []
    word = re.compile(r'["\'/]' + re.escape(literals[-1]) + r'["\'/?]')
    return sorted("~" + os.path.basename(p) for p, text in files.items() if word.search(text))


def main():
    src = open(os.path.join(ROOT, "src/api/routes.c")).read()
    files = {}
    for pat in ("tests/e2e/test_*.py", "tests/js/*.test.mjs"):
        for f in glob.glob(os.path.join(ROOT, pat)):
            files[f] = open(f).read()
    out = sys.stdout
    out.write("# Endpoints\n\nGenerated from `src/api/routes.c` by `scripts/api-table.py`; "
              "do not edit by hand. A test file marked ~ names the endpoint's last path "
              "segment (paths it builds piece by piece, or calls through matrix-nio) "
              "rather than its full path.\n\n")
    out.write("| method | path | auth | rate limit | ledger | handler | e2e tests |\n")
    out.write("| --- | --- | --- | --- | --- | --- | --- |\n")
    for m in ROW.finditer(src):
        pfx, method, pattern, handler, auth, rl, ledger = m.groups()
        prefix = " ".join(PREFIXES.get(p.strip(), p.strip()) for p in pfx.split("|"))
        tests = ", ".join(tests_calling(pattern, files)) or "—"
        out.write(f"| {method} | `{prefix}{pattern}` | {auth[5:].lower()} | "
                  f"{rl[3:].lower()} | {ledger[7:].lower()} | `{handler}` | {tests} |\n")


if __name__ == "__main__":
    main()
