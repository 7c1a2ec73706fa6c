#!/usr/bin/env bash
# The project's whole test run: go vet, gofmt, a go.mod/go.sum tidiness check,
# staticcheck, race tests, a fixed number of fuzz executions for every fuzz
# target, and the end-to-end checks with real MCP clients when present.
#
# Usage: bash scripts/test.sh [stage...]
#   stages: vet fmt tidy staticcheck test equality load flood fuzz e2e (default: all, in that order)
#
# Environment:
#   FUZZ_EXECS=N  run every fuzz target for N executions instead of its
#                 budget from fuzz_budget below (for example 1000 for a quick
#                 check of the mechanics, or 1000000 for a long session)
#   FUZZ_ONLY=RE  fuzz only the targets whose "import/path FuzzName" matches
#                 the extended regular expression RE
#   CLINCH_LOAD_REGISTRY_ARGS="--flag value ..."  extra flags of the registry
#                 daemon in the load stage (e.g. its per-source rate limits)
set -euo pipefail
cd "$(dirname "$0")/.."

# Staticcheck 2026.2.2; 2026.1 (v0.7.0) is the first release that knows Go 1.26.
STATICCHECK="honnef.co/go/tools/cmd/staticcheck@v0.8.2"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clinch-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

stage_vet() {
  echo "== go vet"
  go vet ./...
}

stage_fmt() {
  echo "== gofmt"
  local unformatted
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    unformatted=$(git ls-files -z '*.go' | xargs -0 -r gofmt -l)
  else
    unformatted=$(find . -name '*.go' -print0 | xargs -0 -r gofmt -l)
  fi
  if [ -n "$unformatted" ]; then
    echo "gofmt would change: $unformatted" >&2
    return 1
  fi
}

stage_tidy() {
  echo "== go mod tidy -diff"
  if ! go mod tidy -diff; then
    echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result" >&2
    return 1
  fi
}

stage_staticcheck() {
  echo "== staticcheck ($STATICCHECK)"
  go run "$STATICCHECK" ./...
}

stage_test() {
  echo "== go test -race"
  go test -race -count=1 -timeout 20m ./...
}

# go_test_quietly NAME REGEX ARGS... runs `go test ARGS` into a log: on
# failure it prints the whole log, else only the lines matching REGEX.
go_test_quietly() {
  local log="$WORK/$1.log" re="$2"
  shift 2
  if ! go test "$@" >"$log" 2>&1; then
    cat "$log" >&2
    return 1
  fi
  grep -E "$re" "$log"
}

# The negotiation benchmark's simulation equals the real engine for every
# opponent family: the race detector makes a negotiation some eight times
# slower, so under -race the comparison plays 24 scenarios (two of each
# family); here it plays 840 (70 of each).
stage_equality() {
  echo "== simulation = engine on 840 scenarios, every opponent family (without -race)"
  go_test_quietly equality 'compared|^(--- |ok)' -count=1 -timeout 20m -run '^TestSimulationMatchesEngine$' -v ./sandbox/bench
}

# The login flood tests send 100,000 anonymous challenge requests to a real
# registry over loopback, and the padded-QUERY test 500 padded QUERYs into
# one witnessed session; under -race they send 2,000 and 100, so here they
# run without it, and print their figures.
stage_flood() {
  echo "== login flood: 100,000 anonymous challenge requests; 500 padded QUERYs in one session (without -race)"
  go_test_quietly flood 'anonymous challenge requests|padded QUERYs|^(--- |ok)' -count=1 -timeout 10m -run '^(TestLoginFlood|TestPaddedQueriesStayCompactAndCapped)' -v ./core/registry
}

# The bounded load test: 1,000 concurrent buyers (each its own identity, all
# from 127.0.0.1) through one registry daemon and five seller daemons, real
# clinch-mcp processes; every buyer closes one deal. It asserts no errors and
# every artifact verified, never a time, and prints the latency percentiles
# and each daemon's peak memory. Under -race (the test stage) it runs with 50
# buyers.
stage_load() {
  echo "== load: 1,000 concurrent buyers, one registry, five sellers (without -race)"
  go_test_quietly load 'load: |^(--- |ok)' -count=1 -timeout 20m -run '^TestLoadConcurrentBuyers$' -v ./test/cluster |
    sed 's/^ *load_test.go:[0-9]*: //'
}

# fuzz_budget prints how many executions a fuzz target gets. A count, unlike
# a duration, is not a deadline that Go's fuzz coordinator can race
# (golang/go#75804: a bare "context deadline exceeded" with no reproducer).
# Each budget is about 6 s of fuzzing on 2 loaded cores, so the stage takes
# about as long as the 10 s per target it replaced.
fuzz_budget() {
  if [ -n "${FUZZ_EXECS:-}" ]; then
    echo "$FUZZ_EXECS"
    return
  fi
  case "$1" in
    FuzzLoadIdentityHex) echo 80000 ;;
    FuzzDecodeStrict | FuzzParseToken) echo 50000 ;;
    FuzzParseAddress | FuzzVerifyArtifact | FuzzLoadFileConfig | FuzzCurvePolicy | \
      FuzzStrategyDecide | FuzzOpenExport | FuzzParseBlindKeys | FuzzOpenCredential) echo 30000 ;;
    FuzzDecodeEnvelope | FuzzParseMoney | FuzzGuardHost | FuzzParseReply | FuzzRelayBody | \
      FuzzCheckQuestion | FuzzAttributesAnswer | FuzzParseChange) echo 20000 ;;
      FuzzCanonicalWriter | FuzzStrictTokens | FuzzDecodeStrictKnownFields | FuzzEnvelopeFastDecode | \
      FuzzFlatFastDecode | FuzzEnvelopeSigningInput) echo 20000 ;;
    FuzzHandshake | FuzzResolveHost | FuzzRedactorString) echo 15000 ;;
    FuzzCounterBody | FuzzDigitReading | FuzzParseURLHidesPassword | FuzzCleanMessage | FuzzCheckID | FuzzLeafFacts | FuzzParseParty) echo 10000 ;;
    FuzzParseConfigHidesPassword | FuzzParse) echo 6000 ;;
    FuzzVerifyDealEventLeaf | FuzzLifecycleCheck | FuzzParseDealEvents) echo 10000 ;;
    # Each input builds a log of up to 128 leaves in a store, reopens it
    # and checks its root and proofs: about 1,000 execs/s on 2 loaded
    # cores, so 10,000 took 13-23 s; 3,000 take about 5 s.
    FuzzMerkleLogStore) echo 3000 ;;
    # Each input signs a deal and its countersignature afresh (about
    # 1,100 execs/s idle).
    FuzzReplayerFacts) echo 3000 ;;
    *) echo 10000 ;;
  esac
}

# fuzz_targets prints "import-path dir target" for every fuzz target of the
# module, reading the test files go list selects for this platform.
fuzz_targets() {
  go list -f '{{.ImportPath}} {{.Dir}}{{range .TestGoFiles}} {{.}}{{end}}{{range .XTestGoFiles}} {{.}}{{end}}' ./... |
    while read -r pkg dir files; do
      [ -n "$files" ] || continue
      for f in $files; do
        sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*\*testing\.F).*/\1/p' "$dir/$f"
      done | sort -u | while read -r target; do
        echo "$pkg $dir $target"
      done
    done
}

# reproducers lists the corpus entries of a target's testdata directory.
reproducers() {
  local corpus="$1/testdata/fuzz/$2"
  if [ -d "$corpus" ]; then
    find "$corpus" -type f | sort
  fi
}

stage_fuzz() {
  echo "== fuzz (${FUZZ_EXECS:+FUZZ_EXECS=$FUZZ_EXECS, }counts per target)"
  if [ -n "${FUZZTIME:-}" ]; then
    echo "note: FUZZTIME is not read any more; set FUZZ_EXECS to change the budgets" >&2
  fi
  local log="$WORK/fuzz.log" start total=0 n=0 pkg dir target execs t0 secs
  start=$(date +%s)
  fuzz_targets | awk -v re="${FUZZ_ONLY:-}" 're == "" || ($1 " " $3) ~ re' >"$WORK/targets"
  while read -r pkg dir target; do
    execs=$(fuzz_budget "$target")
    reproducers "$dir" "$target" >"$WORK/before"
    t0=$(date +%s)
    if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "${execs}x" >"$log" 2>&1 </dev/null; then
      cat "$log" >&2
      reproducers "$dir" "$target" >"$WORK/after"
      local found=0 f
      while read -r f; do
        found=1
        echo "-- reproducer ${f#"$PWD"/}:" >&2
        cat "$f" >&2
        echo "-- re-run it with: go test $pkg -run '^${target}/$(basename "$f")\$'" >&2
      done < <(comm -13 "$WORK/before" "$WORK/after")
      if [ "$found" = 0 ]; then
        echo "-- $pkg $target failed without writing a reproducer (see the output above)" >&2
      fi
      return 1
    fi
    secs=$(($(date +%s) - t0))
    echo "-- $pkg $target: ${execs} execs, ${secs}s: $(grep 'execs:' "$log" | tail -n 1 | sed 's/^fuzz: //')"
    total=$((total + execs))
    n=$((n + 1))
  done <"$WORK/targets"
  echo "fuzz: $n targets, $total executions, $(($(date +%s) - start))s"
}

stage_e2e() {
  if [ -x scripts/e2e.sh ]; then
    echo "== end-to-end with real MCP clients"
    bash scripts/e2e.sh
  fi
}

stages=("$@")
if [ ${#stages[@]} -eq 0 ]; then
  stages=(vet fmt tidy staticcheck test equality load flood fuzz e2e)
fi
for s in "${stages[@]}"; do
  case "$s" in
    vet | fmt | tidy | staticcheck | test | equality | load | flood | fuzz | e2e) "stage_$s" ;;
    *)
      echo "unknown stage $s (stages: vet fmt tidy staticcheck test equality load flood fuzz e2e)" >&2
      exit 2
      ;;
  esac
done
echo "checks passed: ${stages[*]}"
