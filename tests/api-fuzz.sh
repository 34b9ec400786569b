#!/usr/bin/env bash
# Fuzzes the running local runtime against openapi.yaml with schemathesis: every operation with a
# bounded number of generated requests (valid and invalid ones), then stateful sequences through
# the schema's links, once as a customer and once as an owner. Fails on any server error or
# contract violation. Usage: tests/api-fuzz.sh [path/to/reserveplace-local]
# Environment: FUZZ_EXAMPLES (requests per operation and phase, default 30), FUZZ_STEPS (stateful
# steps, default 12), ST (the schemathesis CLI, default .venv/bin/st).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/debug/reserveplace-local}"
st="${ST:-$root/.venv/bin/st}"
examples="${FUZZ_EXAMPLES:-30}"
steps="${FUZZ_STEPS:-12}"
[ -x "$bin" ] || { echo "api-fuzz: no runtime binary at $bin (cargo build -p reserveplace-local)" >&2; exit 2; }
[ -x "$st" ] || { echo "api-fuzz: no schemathesis at $st (make tools)" >&2; exit 2; }

# shellcheck source=tests/local-runtime.sh
. "$root/tests/local-runtime.sh"
start_runtime api-fuzz "$bin" "$root"
echo "api-fuzz: runtime at $url"

run() {
    local who="$1"; shift
    echo "api-fuzz: as $who"
    # `/_local/*` and `/` are the runtime's own tooling (fault injection would take contexts down
    # mid-run), not the product API.
    "$st" --config-file "$root/tests/schemathesis.toml" run "$root/openapi.yaml" \
        --url "$url" \
        --header "Authorization: Bearer dev:$who" \
        --checks all \
        --max-examples "$examples" \
        --exclude-tag local-runtime \
        --seed 20261201 \
        --generation-database none \
        --no-color \
        --workers 2 \
        "$@"
}
# CPython 3.11's ast module can raise a spurious "AST constructor recursion depth mismatch"
# SystemError (CPython issue 106905) while hypothesis describes one of its own filters: a crash of
# the tool, not a finding about the API (two workers parse concurrently). A phase that failed with
# it runs again, up to three more times; each run, with the same seed, finds again whatever real
# failure the first had.
phase() {
    local log="$work/$1.log" rc attempt
    for attempt in 1 2 3 4; do
        run "$1" 2>&1 | tee "$log"
        rc="${PIPESTATUS[0]}"
        if [ "$rc" = 0 ] || ! grep -q 'AST constructor recursion depth mismatch' "$log"; then
            return "$rc"
        fi
        echo "api-fuzz: $1 hit CPython's spurious ast SystemError (run $attempt); running it again" >&2
    done
    return "$rc"
}
status=0
phase fuzz-customer || status=1
phase fuzz-owner || status=1
if grep -q '"level":"ERROR"' "$work/stderr"; then
    echo "api-fuzz: the runtime logged errors:" >&2
    grep '"level":"ERROR"' "$work/stderr" | head -20 >&2
    status=1
fi
exit "$status"
