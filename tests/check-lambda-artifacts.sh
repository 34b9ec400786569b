#!/usr/bin/env bash
# After `cargo lambda build --release`: every function of template.yaml has its bootstrap, an
# executable ELF for the architecture built here (x86_64; the template deploys arm64, which needs a
# toolchain this machine cannot download).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
count=0
for binary in $(grep -oE 'Binary: [a-z0-9-]+' template.yaml | awk '{print $2}' | sort -u); do
  artifact="target/lambda/$binary/bootstrap"
  count=$((count + 1))
  if [[ ! -x "$artifact" ]]; then
    echo "missing: $artifact" >&2
    missing=$((missing + 1))
  elif [[ "$(head -c 4 "$artifact" | od -An -c | tr -d ' ')" != '177ELF' ]]; then
    echo "not an ELF executable: $artifact" >&2
    missing=$((missing + 1))
  fi
done
if (( missing > 0 )); then
  echo "$missing of $count Lambda artifacts missing or invalid" >&2
  exit 1
fi
echo "all $count Lambda bootstraps built: target/lambda/<binary>/bootstrap ($(du -ch target/lambda/*/bootstrap | tail -1 | cut -f1) in all)"
