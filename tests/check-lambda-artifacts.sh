#!/usr/bin/env bash
# After `make lambda-build`: the one bootstrap every function of template.yaml runs exists, is an
# executable ELF for the architecture built here (x86_64; the template's Architecture parameter
# picks what `sam build` builds), stays within its size budget (LAMBDA_MAX_BYTES, 9 MB: the
# package Lambda fetches on every cold start; it was 8 MB until the IANA time zone database was
# built in, so that deadlines resolve the same on Lambda as locally), and dispatches on `_HANDLER`: an unknown handler
# fails init naming it, and every template Handler is one it knows.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=reserveplace
artifact="target/lambda/$binary/bootstrap"
fail() {
  echo "$*" >&2
  exit 1
}

binaries=$(grep -oE 'Binary: [a-z0-9-]+' template.yaml | awk '{print $2}' | sort -u)
[[ "$binaries" == "$binary" ]] || fail "every function must build Binary: $binary (found: $(echo $binaries))"
[[ -x "$artifact" ]] || fail "missing: $artifact"
[[ "$(head -c 4 "$artifact" | od -An -c | tr -d ' ')" == '177ELF' ]] || fail "not an ELF executable: $artifact"
size=$(stat -c %s "$artifact")
max=${LAMBDA_MAX_BYTES:-9000000}
(( size <= max )) || fail "$artifact is $size bytes, over the budget of $max (see [profile.lambda] in Cargo.toml)"

# No Runtime API here: the bootstrap must stop at dispatch, with a message naming the handler.
set +e
out=$(env -i _HANDLER=nope timeout 20 "$artifact" 2>&1)
status=$?
set -e
(( status != 0 )) || fail "_HANDLER=nope: the bootstrap exited 0"
grep -q '"nope" names no handler' <<<"$out" || fail "_HANDLER=nope: no message naming it: $out"

# Every template Handler gets past dispatch (it then stops for want of a Runtime API).
handlers=$(grep -oE '^      Handler: [a-z0-9-]+' template.yaml | awk '{print $2}' | sort -u)
count=0
for handler in $handlers; do
  count=$((count + 1))
  out=$(env -i _HANDLER="$handler" AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    timeout 20 "$artifact" 2>&1 || true)
  if grep -q '_HANDLER' <<<"$out"; then
    fail "Handler $handler: the bootstrap does not know it: $out"
  fi
done
(( count > 0 )) || fail "template.yaml names no Handler"
echo "one bootstrap for all $count functions: $artifact ($(du -h "$artifact" | cut -f1)), dispatching on _HANDLER"
