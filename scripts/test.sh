#!/usr/bin/env bash
# The project's whole test run: vet, race tests, brief fuzzing of every fuzz
# target, and the end-to-end checks with real MCP clients when present.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-10s}"

echo "== go vet"
go vet ./...

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

echo "== fuzz ($FUZZTIME per target)"
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "-- $pkg $target"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" >/tmp/clinch-fuzz.log 2>&1 || {
      cat /tmp/clinch-fuzz.log >&2
      exit 1
    }
    tail -n 1 /tmp/clinch-fuzz.log
  done
done

if [ -x scripts/e2e.sh ]; then
  echo "== end-to-end with real MCP clients"
  bash scripts/e2e.sh
fi
echo "all checks passed"
