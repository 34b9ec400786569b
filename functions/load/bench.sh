#!/usr/bin/env bash
# The benchmark set of BENCHMARKS.md, each figure beside its reference measured in the same run.
#
#   functions/load/bench.sh            # release build, the whole set (about 5 minutes), the table
#   functions/load/bench.sh smoke      # debug build, every scenario on tiny inputs (a few seconds)
#   functions/load/bench.sh profile    # fsyncs and writes per saga (strace), one client
#   functions/load/bench.sh search     # release build, only the search set (10,000 places)
#
# Each run starts its own local runtime (development mode, fresh data dir, events not printed,
# RUST_LOG=warn) and hello-world reference on free loopback ports, and stops them at the end.
# JSON reports are kept in $OUT (default: a temporary directory, printed at the end).
set -euo pipefail

MODE=${1:-full}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
case "$MODE" in
  # BENCH_RELEASE=1: the smoke on release binaries (when they are built already).
  smoke) if [ -n "${BENCH_RELEASE:-}" ]; then PROFILE_DIR=release; CARGO_FLAGS=(--release);
         else PROFILE_DIR=debug; CARGO_FLAGS=(); fi ;;
  full | profile | search) PROFILE_DIR=release; CARGO_FLAGS=(--release) ;;
  *) echo "usage: $0 [full|smoke|profile|search]" >&2; exit 2 ;;
esac
BIN="$ROOT/target/$PROFILE_DIR"
OUT=${OUT:-$(mktemp -d -t reserveplace-bench.XXXXXX)}
mkdir -p "$OUT"
DATA=$(mktemp -d -t reserveplace-bench-data.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

if [ "$PROFILE_DIR" = debug ]; then
  # The debug binaries as `make test` builds them (the tests' feature set, nothing recompiled).
  cargo build -q --workspace --all-targets
else
  cargo build "${CARGO_FLAGS[@]}" -q -p reserveplace-local -p reserveplace-load
fi
if [ "$MODE" = full ]; then
  cargo build --release -q -p reserveplace-local-store --example commit_bench
fi

# Starts "$@" in the background; waits for its "listening on http://ADDR" line; sets $ADDR (host:port).
start() {
  local log=$1; shift
  "$@" >"$log" 2>"$log.err" &
  PIDS+=("$!")
  LAST_PID=$!
  for _ in $(seq 1 300); do
    # The local runtime says it on stderr (a JSON line), the reference server on stdout.
    ADDR=$(cat "$log" "$log.err" 2>/dev/null | grep -o 'listening on http://[0-9.:]*' | head -1 | sed 's|listening on http://||' || true)
    [ -n "$ADDR" ] && return 0
    kill -0 "$LAST_PID" 2>/dev/null || { cat "$log.err" >&2; echo "$1 exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "$1 did not start" >&2; exit 1
}

RUST_LOG=warn start "$OUT/local.log" "$BIN/reserveplace-local" --dev --quiet-events \
  --addr 127.0.0.1:0 --data-dir "$DATA/local"
API=http://$ADDR
LOCAL_PID=$LAST_PID
start "$OUT/hello.log" "$BIN/reserveplace-hello" --addr 127.0.0.1:0
HELLO=$ADDR
HELLO_PID=$LAST_PID

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system clock ticks of a process
load() { # NAME ARGS...: one scenario, its JSON report kept as $OUT/NAME.json
  local name=$1; shift
  local TIMEFORMAT='%U %S %R' local0 hello0
  local0=$(cpu "$LOCAL_PID"); hello0=$(cpu "${HELLO_PID:-$LOCAL_PID}")
  # The load tool's own CPU (user, system, wall seconds) is the last line of NAME.client-cpu; the
  # servers' CPU ticks (runtime, hello-world) during the scenario are in NAME.server-cpu.
  if ! { time "$BIN/reserveplace-load" --json "$@" >"$OUT/$name.json"; } 2>"$OUT/$name.client-cpu"; then
    cat "$OUT/$name.client-cpu" >&2; echo "bench: scenario $name failed" >&2; exit 1
  fi
  echo "$(( $(cpu "$LOCAL_PID") - local0 )) $(( $(cpu "${HELLO_PID:-$LOCAL_PID}") - hello0 )) $(getconf CLK_TCK)" \
    >"$OUT/$name.server-cpu"
}

if [ "$MODE" = smoke ]; then
  T=(--url "$API" --places 2 --rooms 100 --timeout-secs 30)
  load seed-follow --scenario seed-follow "${T[@]}" --requests 5
  load follow --scenario follow "${T[@]}" --requests 5
  load reserve --scenario reserve "${T[@]}" --requests 20 --concurrency 4
  load reserve-open --scenario reserve "${T[@]}" --requests 10 --rate 50
  load read --scenario read "${T[@]}" --requests 40 --setup-reservations 4 --concurrency 4
  load get --scenario get --url "http://$HELLO" --requests 40 --concurrency 4
  load mix --scenario mix "${T[@]}" --requests 20 --setup-reservations 4 --concurrency 4
  load mix-search --scenario mix "${T[@]}" --requests 30 --setup-reservations 4 --concurrency 4 \
    --mix reserve=1,read=4,search=1
  load search --scenario search --url "$API" --timeout-secs 30 --places 30 --cities 3 --rooms 5 \
    --setup-reservations 20 --requests 40 --concurrency 4
  load breaker --scenario breaker "${T[@]}" --concurrency 4 --duration-secs 0.5 --payment-latency-ms 40-62
  # Every report parses, has samples and no error; the breaker answered all and put the faults back.
  python3 - "$OUT" "$API/_local/faults" <<'PY'
import json, sys, urllib.request
from pathlib import Path
bad = []
for f in sorted(Path(sys.argv[1]).glob("*.json")):
    r = json.loads(f.read_text())
    if r["errors"] != 0 or sum(m["count"] for m in r["metrics"]) == 0:
        bad.append(f"{f.name}: errors or no samples: {r['outcomes']}")
    if r["scenario"] == "breaker" and r["derived"].get("answered % (accepted and followed to a final status)") != 100:
        bad.append(f"{f.name}: not every reservation answered")
faults = json.load(urllib.request.urlopen(sys.argv[2]))
if faults["payment"]["latencyMaxMs"] != 0:
    bad.append("breaker left the payment latency fault on")
for name in ("search", "mix-search"):
    r = json.loads((Path(sys.argv[1]) / f"{name}.json").read_text())
    if not any(m["name"] == "GET /v1/search" and m["count"] > 0 for m in r["metrics"]):
        bad.append(f"{name}: no search ran")
    if not r["derived"].get("read units per search (mean, X-Read-Units)", 0) > 0:
        bad.append(f"{name}: no X-Read-Units header")
for b in bad:
    print("bench smoke:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
  echo "bench-smoke: every scenario ran, 0 errors ($(ls "$OUT"/*.json | wc -l) reports in $OUT)"
  exit 0
fi

if [ "$MODE" = profile ]; then
  # Durable commits per saga: one client, so (almost) every writer group is one transaction.
  N=${N:-200}
  load profile-warmup --scenario follow --url "$API" --requests 20
  strace -f -qq -c -e trace=fsync,fdatasync,pwrite64,write -p "$LOCAL_PID" -o "$OUT/strace.txt" &
  STRACE=$!
  sleep 1
  load profile --scenario follow --url "$API" --requests "$N" --poll-ms 5
  kill -INT "$STRACE"; wait "$STRACE" 2>/dev/null || true
  cat "$OUT/strace.txt"
  awk -v n="$N" '$NF ~ /^(fsync|fdatasync|pwrite64|write)$/ { printf "%-10s %8.1f per saga\n", $NF, $4 / n }' "$OUT/strace.txt"
  echo "(includes the $N follow reads' socket writes and the periodic WAL checkpoints; reports in $OUT)"
  exit 0
fi

echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "started: $(date -u +%FT%TZ); load: $(uptime | sed 's/.*load average/load average/')"
A=(--url "$API")
# Search over 10,000 places: spread over 10 cities, then all in one (the worst case); read units
# per search as places per city grow (100, 1,000, and the 10,000 of the one-city run).
search_set() {
  # Each measured phase is bounded by time: a search reads its whole city, so at 10,000 places
  # in one city 20,000 searches would take the better part of an hour on two cores.
  local S=(--scenario search "${A[@]}" --requests 1000000 --duration-secs "${SEARCH_SECS:-20}")
  # 64 clients: throughput (and queueing); 1 client: the service time of one search.
  load search-spread "${S[@]}" --concurrency 64 --places 10000 --cities 10 --setup-reservations 2000
  load search-spread-1 "${S[@]}" --concurrency 1 --places 10000 --cities 10 --setup-reservations 2000
  load search-one-city "${S[@]}" --concurrency 64 --places 10000 --cities 1 --setup-reservations 2000
  load search-one-city-1 "${S[@]}" --concurrency 1 --places 10000 --cities 1 --setup-reservations 2000
  load search-100 "${S[@]}" --concurrency 64 --places 100 --cities 1 --setup-reservations 200
  load search-1000 "${S[@]}" --concurrency 64 --places 1000 --cities 1 --setup-reservations 500
}
if [ "$MODE" = search ]; then
  search_set
  echo "finished: $(date -u +%FT%TZ); load: $(uptime | sed 's/.*load average/load average/')"
  python3 "$ROOT/functions/load/bench_table.py" "$OUT" | sed -n '/^| search/,$p'
  echo "reports: $OUT"
  exit 0
fi
CB="$ROOT/target/release/examples/commit_bench"
"$CB" --tasks 1 --txns 2000 --dir "$DATA" >"$OUT/commit-1.txt"
"$CB" --tasks 64 --txns 20000 --dir "$DATA" >"$OUT/commit-64.txt"
"$CB" --tasks 512 --txns 40000 --dir "$DATA" >"$OUT/commit-512.txt"
load seed-follow --scenario seed-follow "${A[@]}" --requests 300
load follow --scenario follow "${A[@]}" --requests 300
load reserve --scenario reserve "${A[@]}" --concurrency 64 --requests 4000
for round in 1 2; do # alternated, so drift hits both sides alike
  load "get-$round" --scenario get --url "http://$HELLO" --concurrency 64 --requests 60000
  load "read-$round" --scenario read "${A[@]}" --concurrency 64 --requests 60000 --setup-reservations 200
done
load mix --scenario mix "${A[@]}" --concurrency 64 --requests 5000
load mix-search --scenario mix "${A[@]}" --concurrency 64 --requests 5000 --mix reserve=1,read=4,search=1
search_set
load breaker --scenario breaker "${A[@]}" --concurrency 100 --duration-secs 60
echo "finished: $(date -u +%FT%TZ); load: $(uptime | sed 's/.*load average/load average/')"
python3 "$ROOT/functions/load/bench_table.py" "$OUT"
echo "reports: $OUT"
