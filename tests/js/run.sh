#!/usr/bin/env bash
# Run the matrix-js-sdk end-to-end tests against a built chappe.
#   tests/js/run.sh                  (server: $CHAPPE_BIN, default build/src/chappe)
#   CHAPPE_JS_JUNIT=out.xml tests/js/run.sh   (also write a JUnit report)
#   CHAPPE_JS_KEEP_LOGS=1 tests/js/run.sh     (keep each server's temp dir: stderr, js-sdk.log)
# Installs the pinned npm dependencies (package-lock.json) into
# tests/js/node_modules, then runs Node's built-in test runner with the spec
# reporter. The closing lines are Node's TAP summary ("# pass N", "# fail N").
# Exits non-zero if any test failed. Needs Node >= 20 and npm.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "tests/js: node and npm are needed (Node >= 20)" >&2
	exit 1
fi

cd "$here" || exit 1
if [ -f package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error || exit 1
else
	# First run only: resolve the pinned version and write the lock file.
	npm install --no-audit --no-fund --loglevel=error || exit 1
fi

cd "$root" || exit 1
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
reporters=(--test-reporter=spec --test-reporter-destination=stdout
	--test-reporter=tap --test-reporter-destination="$tap")
if [ -n "${CHAPPE_JS_JUNIT:-}" ]; then
	reporters+=(--test-reporter=junit --test-reporter-destination="$CHAPPE_JS_JUNIT")
fi
node --test "${reporters[@]}" tests/js/
status=$?
grep -E '^# (tests|suites|pass|fail|cancelled|skipped|todo) ' "$tap"
exit $status
