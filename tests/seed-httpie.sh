#!/usr/bin/env bash
# Runs the seed walkthrough exactly as docs/api.md writes it (its `http --ignore-stdin ...` lines,
# with httpie from the test tools and no terminal on stdin) against a fresh local runtime, and
# checks the two orders end as the seed's README says: the first 예약완료, the second 예약취소.
# Usage: tests/seed-httpie.sh [path/to/reserveplace-local]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/debug/reserveplace-local}"
venv="$root/.venv/bin"
[ -x "$bin" ] || { echo "seed-httpie: no runtime binary at $bin" >&2; exit 2; }
[ -x "$venv/http" ] || { echo "seed-httpie: no httpie at $venv/http (make tools)" >&2; exit 2; }

# shellcheck source=tests/local-runtime.sh
. "$root/tests/local-runtime.sh"
start_runtime seed-httpie "$bin" "$root"
port="${url##*:}"

# The walkthrough's commands, from the doc, pointed at this runtime's port.
mapfile -t commands < <(sed -n '/^## The seed facade/,/^## /p' "$root/docs/api.md" \
    | grep '^http --ignore-stdin ' | sed 's/ *#.*$//' \
    | sed "s/localhost:3000/127.0.0.1:$port/; s/ :3000/ :$port/")
[ "${#commands[@]}" -ge 5 ] || { echo "seed-httpie: the walkthrough has ${#commands[@]} commands" >&2; exit 1; }

status_of() {  # the seed status of /mypages/$1, as httpie prints it
    PATH="$venv:$PATH" http --ignore-stdin --body ":$port/mypages/$1" </dev/null \
        | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status", ""))' 2>/dev/null || true
}
wait_status() {  # order $1 reaches status $2 within 30 s
    for _ in $(seq 1 300); do
        [ "$(status_of "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    echo "seed-httpie: order $1 never reached $2 (last: $(status_of "$1"))" >&2
    exit 1
}

for cmd in "${commands[@]}"; do
    echo "+ $cmd"
    # As a script runs it: stdin is not a terminal (without --ignore-stdin a GET became a POST).
    out="$(PATH="$venv:$PATH" bash -c "$cmd" </dev/null)"
    echo "$out"
    case "$cmd" in
        *"/accommodations "*"usrId=2 "*) wait_status 1 "예약완료" ;;
        *"/accommodations "*"usrId=33 "*) wait_status 2 "예약취소" ;;
    esac
done
wait_status 1 "예약완료"
wait_status 2 "예약취소"
echo "seed walkthrough with httpie: 2 passed, 0 failed"
