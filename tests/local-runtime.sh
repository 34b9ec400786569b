# shellcheck shell=bash
# Sourced by the test scripts that need a fresh local runtime (tests/api-fuzz.sh,
# tests/seed-httpie.sh): `start_runtime NAME BIN ROOT` starts BIN in development mode on a free
# loopback port over a fresh data dir, waits until it is healthy and sets `url`, `pid` and `work`
# (a scratch dir holding its stdout and stderr); the runtime is stopped and `work` removed on exit.
# The runtime says where it listens in a JSON line on stderr (its "url").
start_runtime() {
    local name="$1" bin="$2" root="$3"
    work="$(mktemp -d "${TMPDIR:-/tmp}/reserveplace-$name.XXXXXX")"
    pid=""
    trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
    RUST_LOG=warn "$bin" --dev --addr 127.0.0.1:0 --data-dir "$work/data" \
        --template "$root/template.yaml" >"$work/stdout" 2>"$work/stderr" &
    pid=$!
    url=""
    for _ in $(seq 1 600); do
        url="$(grep -o '"url":"http://[^"]*"' "$work/stderr" 2>/dev/null | head -n1 | sed 's/"url":"//; s/"$//' || true)"
        [ -n "$url" ] && curl -fsS "$url/health" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; echo "$name: runtime exited" >&2; exit 1; }
        url=""
        sleep 0.1
    done
    echo "$name: runtime never became healthy" >&2
    exit 1
}
