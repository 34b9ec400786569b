#!/usr/bin/env bash
# `make sam-local`: SAM's own `sam local invoke` runs every function of template.yaml on its sample
# from events/, against the AWS emulator (moto), in the order of the samples' story
# (events/README.md), and checks each answer; then one `sam local start-api` run serves a seed
# facade route and a /v1 route. No Docker is needed: Podman serves the Docker API SAM talks to.
#
# - Installs what is missing from Debian: podman, runc, debootstrap, slirp4netns, fuse-overlayfs,
#   uidmap (with sudo when not root).
# - Starts `podman system service` on a socket under target/sam-local/ (DOCKER_HOST), with a
#   containers.conf of its own there: runc as the runtime, and open-file and process limits a
#   container may set (SAM's containers raise theirs).
# - The Lambda base image for provided.al2023 is not pulled: once per machine, one is built from a
#   Debian minbase root file system (debootstrap from the mirror this machine's apt sources name)
#   and imported under that image's name; `--skip-pull-image` makes SAM use it. The bootstrap
#   needs only glibc.
# - No `sam build` (it would compile the bootstrap once more, for many minutes): `make
#   lambda-build` built the same bootstrap, and tests/cfn/sam_local_template.py writes the template
#   `sam build` would, every CodeUri pointing at it, into target/sam-local/template.yaml, with its
#   Fn::ForEach loops expanded (`sam local start-api` does not expand them). The functions reach
#   the emulator through the template's `EndpointUrl` parameter (their AWS_ENDPOINT_URL).
# - Starts moto on all interfaces (the containers reach this host as host.containers.internal)
#   on a free port, and `reserveplace-probe emulator stack` creates the template's tables, bus,
#   consumer queues and state machine there, named as SAM resolves a `!Ref` (the logical id).
#
# What SAM does not emulate, the script does in its place, with the real functions: it wraps a
# consumer's sample (an EventBridge event) into the SQS batch its queue hands it, and where the
# story needs what the bus delivers (the catalogue copy of the seed facade's place, the views of
# a confirmed stay), it hands the outbox relay the records committed so far (the tables' streams)
# and each consumer the messages its queue then holds (`reserveplace-probe emulator outbox|queue`).
# The saga's steps are invoked one by one, in the order the state machine runs them.
#
# Usage: tests/sam-local.sh (after `make tools lambda-build debug-bins`; prints the total time).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
started=$SECONDS
work="$root/target/sam-local"
venv="$root/.venv/bin"
bootstrap="$root/target/lambda/reserveplace/bootstrap"
probe="$root/target/debug/reserveplace-probe"
mkdir -p "$work"
rm -rf "$work/out" "$work/events"
mkdir -p "$work/out" "$work/events"

note() { printf '%s\n' "$*"; }
die() {
    printf 'sam-local: %s\n' "$*" >&2
    exit 1
}

[ "$(uname -m)" = x86_64 ] || die "this runs the x86_64 bootstrap that make lambda-build builds here, not on $(uname -m)"
[ -x "$venv/sam" ] || die "no SAM CLI at $venv/sam (make tools)"
[ -x "$bootstrap" ] || die "no bootstrap at $bootstrap (make lambda-build)"
[ -x "$probe" ] || die "no probe at $probe (make debug-bins)"

# --- the container engine ------------------------------------------------------------------
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
missing=()
for p in podman runc debootstrap slirp4netns fuse-overlayfs uidmap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    note "installing ${missing[*]}"
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

cat >"$work/containers.conf" <<'EOF'
[containers]
# SAM's containers set these limits; without room for them runc fails (setrlimit: not permitted).
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
# crun refuses this kernel's cgroup setup (hybrid mode); runc runs the containers.
runtime = "runc"
EOF
export CONTAINERS_CONF="$work/containers.conf"
socket="$work/podman.sock"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
rm -f "$socket"
podman system service --time=0 "unix://$socket" >"$work/podman.log" 2>&1 &
pids+=($!)
export DOCKER_HOST="unix://$socket"
for _ in $(seq 1 100); do
    curl -fsS --unix-socket "$socket" http://podman/_ping >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS --unix-socket "$socket" http://podman/_ping >/dev/null || die "podman's API did not come up ($work/podman.log)"

# --- SAM's base image, once ------------------------------------------------------------------
image="public.ecr.aws/lambda/provided:al2023-x86_64"
# The Debian mirror of this machine's apt sources for `suite` (deb822 .sources, then sources.list).
debian_mirror() {
    local suite="$1" uri=""
    if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
        uri=$(awk -v s="$suite" '
            function flush() { if (hit && uris != "") { split(uris, u, " "); print u[1] } uris = ""; hit = 0 }
            /^[[:space:]]*$/ { flush(); next }
            /^URIs:/ { uris = $0; sub(/^URIs:[[:space:]]*/, "", uris) }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
            END { flush() }' /etc/apt/sources.list.d/*.sources | head -n1)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk -v s="$suite" '$1 == "deb" {
            for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == s) print $i; break } }' \
            /etc/apt/sources.list | head -n1)
    fi
    printf '%s' "$uri"
}
if podman image exists "$image"; then
    note "base image: $image (exists)"
else
    # shellcheck source=/dev/null
    suite=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    [ -n "$suite" ] || die "no VERSION_CODENAME in /etc/os-release: which Debian suite to bootstrap?"
    mirror=$(debian_mirror "$suite")
    [ -n "$mirror" ] || die "no mirror for $suite in the apt sources"
    note "base image: building $image from Debian $suite minbase ($mirror)"
    t0=$SECONDS
    rootfs="$work/rootfs"
    $SUDO rm -rf "$rootfs" "$work/rootfs.tar"
    $SUDO debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || die "debootstrap failed ($work/debootstrap.log)"
    $SUDO mkdir -p "$rootfs/var/task" "$rootfs/var/runtime"
    $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    $SUDO tar -C "$rootfs" -cf "$work/rootfs.tar" .
    podman import --change 'ENV LAMBDA_TASK_ROOT=/var/task' --change 'WORKDIR /var/task' \
        "$work/rootfs.tar" "$image" >"$work/import.log" 2>&1 || die "podman import failed ($work/import.log)"
    $SUDO rm -rf "$rootfs" "$work/rootfs.tar"
    note "base image: built in $((SECONDS - t0)) s"
fi

# --- the template sam build would make, the emulator, the stack --------------------------------
"$venv/python" tests/cfn/sam_local_template.py "$work/template.yaml" ../lambda/reserveplace

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
emulator="http://127.0.0.1:$port"
"$venv/moto_server" -H 0.0.0.0 -p "$port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -fsS "$emulator/moto-api/" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$emulator/moto-api/" >/dev/null || die "the emulator did not come up ($work/moto.log)"
"$probe" emulator --endpoint "$emulator" stack --function-endpoint "http://host.containers.internal:$port" \
    >"$work/env.json"

# SAM passes the functions these credentials and region; its own account lookup (STS) goes to the
# emulator rather than waiting for AWS.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_STS="$emulator" SAM_CLI_TELEMETRY=0
params=(Architecture=x86_64 SeedFacadeEnabled=true
    "EndpointUrl=http://host.containers.internal:$port")
sam_args=(--template "$work/template.yaml" --skip-pull-image
    --parameter-overrides "${params[*]}" --env-vars "$work/env.json")

# --- invoking and checking -------------------------------------------------------------------
declare -A invoked=()
failures=0
steps=0

# run LABEL FUNCTION EVENT CHECK WHAT: `sam local invoke FUNCTION -e EVENT`, then the jq
# expression CHECK must hold for the answer (an HTTP answer as {status, headers, body}, its body
# parsed). Sets `answer` to the answer's file.
run() {
    local label="$1" fn="$2" event="$3" check="$4" what="$5" t0=$SECONDS
    steps=$((steps + 1))
    local base
    base="$work/out/$(printf '%02d' "$steps")-$label"
    answer="$base.json"
    invoked[$fn]=1
    if ! "$venv/sam" local invoke "$fn" -e "$event" "${sam_args[@]}" >"$base.raw" 2>"$base.log"; then
        failures=$((failures + 1))
        note "FAIL $label ($fn): sam local invoke failed: $(tail -n 3 "$base.log" | tr '\n' ' ')"
        return 0
    fi
    jq 'if type == "object" and has("statusCode")
        then {status: .statusCode, headers: (.headers // {}), body: ((.body // "null") | fromjson? // .)}
        else . end' "$base.raw" >"$answer" 2>/dev/null || cp "$base.raw" "$answer"
    if jq -e 'type == "object" and has("errorType")' "$answer" >/dev/null 2>&1 \
        || ! jq -e "$check" "$answer" >/dev/null 2>&1; then
        failures=$((failures + 1))
        note "FAIL $label ($fn): expected $what; got $(jq -c . "$answer" 2>/dev/null | cut -c1-400)"
        return 0
    fi
    note "ok   $label ($fn, $((SECONDS - t0)) s): $what"
}

# The sample of HANDLER with the story's reservation id in place of the samples' (file path).
sample_id=$(jq -r '.detail.reservationId' events/payment-authorize.json)
sample() {
    local handler="$1" id="${2:-$rid}" out
    out="$work/events/$handler-${id:0:8}.json"
    jq --arg from "$sample_id" --arg to "$id" \
        'walk(if type == "string" then gsub($from; $to) else . end)' "events/$handler.json" >"$out"
    printf '%s' "$out"
}

# An EventBridge event (file) as one record of the SQS batch its consumer's queue hands over.
as_batch() {
    local out
    out="$work/events/$(basename "${1%.json}")-sqs.json"
    jq '{Records: [{messageId: "00000000-0000-4000-8000-000000000001", receiptHandle: "sam-local",
        body: tojson, attributes: {ApproximateReceiveCount: "1"}, messageAttributes: {},
        eventSource: "aws:sqs", eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:sam-local",
        awsRegion: "us-east-1"}]}' "$1" >"$out"
    printf '%s' "$out"
}

consumed='.batchItemFailures == []'

# consume LABEL FUNCTION EVENT WHAT: a consumer gets EVENT (an EventBridge event) from its queue.
consume() {
    run "$1" "$2" "$(as_batch "$3")" "$consumed" "${4:-every record handled (no batchItemFailures)}"
}

declare -A delivered=()
# What the bus would have delivered by now: the outbox relay gets the outbox records committed so
# far (published on the emulator's bus, whose rules put them on the consumers' queues), then every
# consumer named gets what its queue holds.
deliver() {
    local batch="$work/events/outbox-$steps.json" fn
    "$probe" emulator --endpoint "$emulator" outbox >"$batch"
    run outbox-relay OutboxRelayFunction "$batch" "(.batchItemFailures // []) == []" \
        "the $(jq '.Records | length' "$batch") outbox records committed so far published on the bus"
    for fn in "$@"; do
        batch="$work/events/queue-$fn-$steps.json"
        delivered[$fn]="$batch"
        "$probe" emulator --endpoint "$emulator" queue --function "$fn" >"$batch"
        if [ "$(jq '.Records | length' "$batch")" -gt 0 ]; then
            run queue "$fn" "$batch" "$consumed" \
                "the $(jq '.Records | length' "$batch") events its rule put on its queue, every one handled"
        fi
    done
}

# A raw call to the emulator's JSON API.
emulator_call() {
    curl -fsS "$emulator" -H "content-type: application/x-amz-json-1.0" -H "x-amz-target: $2" \
        -H "authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/$1/aws4_request, SignedHeaders=host, Signature=0" \
        -d "$3"
}

http() { printf '.status == %s' "$1"; }
nights_held() { # the place-get answer: place-sample, each night of the stay with HELD held, FREE free
    printf '.body.place.placeId == "place-sample" and .body.nights == [{night: "2030-05-01", roomTypeId: "standard", held: %s, free: %s}, {night: "2030-05-02", roomTypeId: "standard", held: %s, free: %s}]' "$1" "$2" "$1" "$2"
}

note "sam local invoke, every function, in the order of the samples' story (events/README.md)"

# The place: the stack registered place-sample through the place context; its owner lists it and
# registers another.
run place-list PlaceListFunction events/place-list.json \
    "$(http 200) and ([.body.items[].placeId] == [\"place-sample\"])" "200, items = [place-sample]"
run place-register PlaceRegisterFunction events/place-register.json \
    "$(http 201) and .body.ownerId == \"owner-1\" and .body.instantBook == false
     and .headers.location == \"/v1/places/\" + .body.placeId" \
    "201, ownerId owner-1, instantBook false, location /v1/places/{placeId}"
consume reservation-catalogue ReservationCatalogueFunction events/reservation-catalogue.json

# The seed facade's place 1. Its catalogue copy, and place-sample's search entry, come from their
# PlaceRegistered events through the outbox, the bus and the queues.
run seed-reservation-management SeedReservationManagementFunction events/seed-reservation-management.json \
    "$(http 201) and .body == {placeId: 1, stock: 1, orderId: null}" '201 {"placeId":1,"stock":1,"orderId":null}'
deliver ReservationCatalogueFunction SearchProjectionFunction
run seed-accommodation SeedAccommodationFunction events/seed-accommodation.json \
    "$(http 201) and .body.orderId == 1 and .body.status == \"예약처리\" and .body.amount == 5000 and .body.placeId == 1" \
    "201, orderId 1, status 예약처리, amount 5000, placeId 1"

# customer-1 reserves; the reservation gets an id of its own, which the later samples are given.
run reservation-place ReservationPlaceFunction events/reservation-place.json \
    "$(http 202) and .body.status == \"PENDING\" and .body.amount == 100000
     and .headers.location == \"/v1/reservations/\" + .body.reservationId" \
    "202, status PENDING, amount 100000, location /v1/reservations/{reservationId}"
rid=$(jq -r '.body.reservationId // empty' "$answer")
[ -n "$rid" ] || die "reservation-place answered no reservationId: the story cannot go on"
note "     the story's reservation: $rid (the samples' $sample_id)"
run outbox-relay OutboxRelayFunction "$(sample outbox-relay)" "(.batchItemFailures // []) == []" \
    "the sample's stream batch: its outbox record published, nothing to retry"
consume mypage-projector MyPageProjectorFunction "$(sample mypage-projector)"
consume reservation-saga-start ReservationSagaStarterFunction "$(sample reservation-saga-start)"
saga_arn=$(jq -r '.ReservationSagaStarterFunction.SAGA_STATE_MACHINE_ARN' "$work/env.json")
if emulator_call states AWSStepFunctions.ListExecutions "{\"stateMachineArn\": \"$saga_arn\"}" \
    | jq -e --arg id "$rid" '[.executions[] | select(.name == $id)] | length == 1' >/dev/null; then
    note "ok   reservation-saga-start: one execution of the saga's state machine, named by the reservation id"
else
    failures=$((failures + 1))
    note "FAIL reservation-saga-start: no execution named $rid on the emulator"
fi

# The saga's steps, as the state machine runs them, with the queries of each state between them.
run payment-authorize PaymentAuthorizeFunction "$(sample payment-authorize)" \
    '.outcome == "APPROVED" and (.paymentId | type == "string")' "outcome APPROVED with a paymentId"
run payment-get PaymentGetFunction "$(sample payment-get)" \
    "$(http 200) and .body.status == \"AUTHORIZED\" and .body.authorized == 100000 and .body.ledger[0].movement == \"AUTHORIZE\"" \
    "200, status AUTHORIZED, authorized 100000, ledger AUTHORIZE"
# On the simulated provider there are no Stripe webhooks to take: the route answers 404.
run payment-webhook PaymentWebhookFunction "$(sample payment-webhook)" \
    "$(http 404) and .body.type == \"/problems/not-found\"" "404: no Stripe webhooks on the simulation"
run reservation-record-payment ReservationRecordPaymentFunction "$(sample reservation-record-payment)" \
    '. == {status: "PAID", version: 2}' '{"status":"PAID","version":2}'
run place-hold-nights PlaceHoldNightsFunction "$(sample place-hold-nights)" \
    '. == {outcome: "HELD", instantBook: false, ownerTimeoutSeconds: 86400, decision: "NONE"}' \
    '{"outcome":"HELD","instantBook":false,"ownerTimeoutSeconds":86400,"decision":"NONE"}'
run place-get PlaceGetFunction events/place-get.json "$(http 200) and $(nights_held 1 1)" \
    "200, nights 2030-05-01 and 05-02 each held 1, free 1"
run place-quote PlaceQuoteFunction events/place-quote.json \
    "$(http 200) and .body.total == 100000 and .body.available == true
     and .body.nights == [{date: \"2030-05-01\", nightlyPrice: 50000, free: 1}, {date: \"2030-05-02\", nightlyPrice: 50000, free: 1}]" \
    "200, each night nightlyPrice 50000 and free 1, total 100000, available true"
consume search-projection SearchProjectionFunction "$(sample search-projection)"
run search SearchFunction events/search.json \
    "$(http 200) and ([.body.items[] | [.placeId, .free, .total]] == [[\"place-sample\", 1, 100000]])
     and .body.nextCursor == null and .headers[\"x-read-units\"] == \"1\"" \
    "200, one item: place-sample, free 1, total 100000; nextCursor null, X-Read-Units 1"
run reservation-await-owner ReservationAwaitOwnerFunction "$(sample reservation-await-owner)" \
    '. == {status: "AWAITING_OWNER", version: 3}' '{"status":"AWAITING_OWNER","version":3}'
consume owner-view-projector OwnerViewProjectorFunction "$(sample owner-view-projector)"
run owner-reservations OwnerReservationsFunction events/owner-reservations.json \
    "$(http 200) and .body.items[0].reservationId == \"$rid\" and .body.items[0].status == \"AWAITING_OWNER\"" \
    "200, items[0] is the reservation, status AWAITING_OWNER"
run place-request-decision PlaceRequestDecisionFunction "$(sample place-request-decision)" \
    '. == {waiting: true}' '{"waiting":true}'
run owner-decision OwnerDecisionFunction "$(sample owner-decision)" \
    "$(http 200) and .body == {reservationId: \"$rid\", placeId: \"place-sample\", decision: \"CONFIRMED\"}" \
    "200 {reservationId, placeId, decision: CONFIRMED}"
consume place-resume-saga PlaceResumeSagaFunction "$(sample place-resume-saga)" \
    "the owner's decision sent to the waiting saga (SendTaskSuccess: the emulator accepts any token)"
run reservation-confirm ReservationConfirmFunction "$(sample reservation-confirm)" \
    '. == {status: "CONFIRMED", version: 4}' '{"status":"CONFIRMED","version":4}'
run payment-capture PaymentCaptureFunction "$(sample payment-capture)" \
    '. == {status: "CAPTURED", captured: 100000, refunded: 0, kept: 100000}' \
    '{"status":"CAPTURED","captured":100000,"refunded":0,"kept":100000}'
consume notification-sender NotificationSenderFunction "$(sample notification-sender)"
consume loyalty-awarder LoyaltyAwarderFunction "$(sample loyalty-awarder)"

# The views of the confirmed stay: what the bus delivered of every event committed so far.
deliver MyPageProjectorFunction NotificationSenderFunction LoyaltyAwarderFunction ReservationSagaStarterFunction
run reservation-get ReservationGetFunction "$(sample reservation-get)" \
    "$(http 200) and .body.status == \"CONFIRMED\" and .body.version == 4" "200, status CONFIRMED, version 4"
run reservation-cancellation ReservationCancellationFunction "$(sample reservation-cancellation)" \
    "$(http 200) and .body.refundAmount == 100000 and .body.penaltyAmount == 0 and .body.currency == \"KRW\"" \
    "200, refundAmount 100000, penaltyAmount 0 (a full refund this far before check-in)"
run mypage-get MyPageGetFunction "$(sample mypage-get)" \
    "$(http 200) and .body.reservationStatus == \"CONFIRMED\" and .body.paymentStatus == \"CAPTURED\" and .body.amount == 100000" \
    "200, reservationStatus CONFIRMED, paymentStatus CAPTURED, amount 100000"
run mypage-list MyPageListFunction events/mypage-list.json \
    "$(http 200) and ([.body.items[] | [.reservationId, .reservationStatus]] == [[\"$rid\", \"CONFIRMED\"]])" \
    "200, one item: the reservation, CONFIRMED"
# The notification-sender sample is the CONFIRMED event of an earlier time (2026-11-24): its
# notification comes after the three the stay's own events made, newest first.
run notification-list NotificationListFunction events/notification-list.json \
    "$(http 200) and ([.body.items[:3][].status] == [\"CONFIRMED\", \"AWAITING_OWNER\", \"PAID\"])" \
    "200, newest first: CONFIRMED, AWAITING_OWNER, PAID (then the sample's own CONFIRMED of 2026-11-24)"
run loyalty-get LoyaltyGetFunction events/loyalty-get.json \
    "$(http 200) and .body.userId == \"customer-1\" and .body.points == 1000 and .body.entries[0].kept == 100000 and .body.entries[0].points == 1000" \
    '200, customer-1 has 1000 points, the entry: 1000 points for the 100000 the confirmed stay keeps'

# The seed facade's order 1 goes through its saga too: its place is instantly bookable, so the
# state machine runs AuthorizePayment, RecordPayment, HoldNights and ConfirmReservation, each adding
# its result to the input (ResultPath), which is the order's ReservationPlaced event as the saga
# starter received it.
step_input() { # step_input KEY FILE: FILE's input plus the last answer under KEY (as {Payload})
    local out="${2%.json}-$1.json"
    jq --slurpfile r "$answer" --arg k "$1" '.[$k] = {Payload: $r[0]}' "$2" >"$out"
    printf '%s' "$out"
}
order="$work/events/saga-order-1.json"
jq '[.Records[].body | fromjson | select(.detail.reservationId == "1")][0]' \
    "${delivered[ReservationSagaStarterFunction]}" >"$order"
if [ "$(jq -r '.["detail-type"]' "$order")" = ReservationPlaced ]; then
    run payment-authorize PaymentAuthorizeFunction "$order" '.outcome == "APPROVED"' "order 1: outcome APPROVED"
    order=$(step_input payment "$order")
    run reservation-record-payment ReservationRecordPaymentFunction "$order" '.status == "PAID"' "order 1: status PAID"
    order=$(step_input reservation "$order")
    run place-hold-nights PlaceHoldNightsFunction "$order" '.outcome == "HELD" and .instantBook == true' \
        "order 1: outcome HELD, instantBook true"
    order=$(step_input hold "$order")
    run reservation-confirm ReservationConfirmFunction "$order" '.status == "CONFIRMED"' "order 1: status CONFIRMED"
else
    failures=$((failures + 1))
    note "FAIL the saga starter's queue held no ReservationPlaced of the seed facade's order 1"
fi
deliver MyPageProjectorFunction
run seed-mypage SeedMyPageFunction events/seed-mypage.json \
    "$(http 200) and .body.orderId == 1 and .body.status == \"예약완료\" and .body.payStatus == \"결제완료\"
     and .body.amount == 5000 and .body.placeNm == \"test01\"" \
    "200, orderId 1, status 예약완료, payStatus 결제완료, amount 5000, placeNm test01"

# The customer cancels the confirmed stay; the captured payment is refunded, the nights released.
run reservation-cancel ReservationCancelFunction "$(sample reservation-cancel)" \
    "$(http 200) and .body.status == \"CANCELLED\" and .body.statusReason == \"CUSTOMER_CANCELLED\"" \
    "200, status CANCELLED, statusReason CUSTOMER_CANCELLED"
# The owner can no longer cancel it (only a confirmed stay): a 409 naming why.
run owner-cancel OwnerCancelFunction "$(sample owner-cancel)" \
    "$(http 409) and (.body.detail | test(\"only a confirmed stay\"))" "409: only a confirmed stay can be cancelled by its owner"
consume payment-refund-on-cancel PaymentRefundOnCancelFunction "$(sample payment-refund-on-cancel)"
run payment-get PaymentGetFunction "$(sample payment-get)" \
    "$(http 200) and .body.status == \"REFUNDED\" and .body.refunded == 100000" \
    "200, status REFUNDED, refunded 100000 (after payment-refund-on-cancel)"
consume place-release-on-cancel PlaceReleaseOnCancelFunction "$(sample place-release-on-cancel)"
run place-get PlaceGetFunction events/place-get.json "$(http 200) and $(nights_held 0 2)" \
    "200, nights 2030-05-01 and 05-02 each held 0, free 2 (after place-release-on-cancel)"

# The other branches of the saga, each on a reservation of its own (the reservation-place sample
# with another Idempotency-Key), run up to the owner's decision.
reserve() { # reserve KEY: places a reservation, runs the saga up to the owner's decision; sets rid
    local event="$work/events/reservation-place-$1.json"
    jq --arg key "$1" '.headers["idempotency-key"] = $key' events/reservation-place.json >"$event"
    run reservation-place ReservationPlaceFunction "$event" "$(http 202) and .body.status == \"PENDING\"" \
        "202, status PENDING (Idempotency-Key $1)"
    rid=$(jq -r '.body.reservationId // empty' "$answer")
    [ -n "$rid" ] || die "reservation-place answered no reservationId"
    run payment-authorize PaymentAuthorizeFunction "$(sample payment-authorize)" '.outcome == "APPROVED"' "outcome APPROVED"
    run reservation-record-payment ReservationRecordPaymentFunction "$(sample reservation-record-payment)" \
        '. == {status: "PAID", version: 2}' '{"status":"PAID","version":2}'
    run place-hold-nights PlaceHoldNightsFunction "$(sample place-hold-nights)" '.outcome == "HELD"' "outcome HELD"
    run reservation-await-owner ReservationAwaitOwnerFunction "$(sample reservation-await-owner)" \
        '. == {status: "AWAITING_OWNER", version: 3}' '{"status":"AWAITING_OWNER","version":3}'
    run place-request-decision PlaceRequestDecisionFunction "$(sample place-request-decision)" \
        '. == {waiting: true}' '{"waiting":true}'
}
# The owner does not answer in time.
reserve sample-trip-owner-timeout
run place-expire-decision PlaceExpireDecisionFunction "$(sample place-expire-decision)" \
    '. == {decision: "TIMED_OUT"}' '{"decision":"TIMED_OUT"}'
run payment-void PaymentVoidFunction "$(sample payment-void)" \
    '. == {status: "VOIDED", captured: 0, refunded: 0, kept: 0}' '{"status":"VOIDED","captured":0,...}'
run reservation-cancel-step ReservationCancelStepFunction "$(sample reservation-cancel-step)" \
    '. == {status: "CANCELLED", version: 4}' '{"status":"CANCELLED","version":4}'
# The customer cancels while the owner decides.
reserve sample-trip-customer-cancel
run reservation-cancel ReservationCancelFunction "$(sample reservation-cancel)" \
    "$(http 200) and .body.status == \"CANCELLED\"" "200, status CANCELLED"
run place-release-nights PlaceReleaseNightsFunction "$(sample place-release-nights)" \
    '. == {released: true}' '{"released":true}'
run place-get PlaceGetFunction events/place-get.json "$(http 200) and $(nights_held 0 2)" \
    "200, nights 2030-05-01 and 05-02 each held 0, free 2 (every branch gave its rooms back)"

# Last, as it changes the place the others read.
run place-update PlaceUpdateFunction events/place-update.json \
    "$(http 200) and .body.roomCount == 3 and .body.version == 2" "200, roomCount 3, version 2"

# Every function of the template was invoked.
mapfile -t functions < <("$venv/python" -c '
import sys
sys.path.insert(0, "tests/cfn")
from samtranslator.yaml_helper import yaml_parse
t = yaml_parse(open("template.yaml").read())
for k, r in t["Resources"].items():
    if isinstance(r, dict) and r.get("Type") == "AWS::Serverless::Function":
        print(k)')
for fn in "${functions[@]}"; do
    if [ -z "${invoked[$fn]:-}" ]; then
        failures=$((failures + 1))
        note "FAIL $fn: never invoked"
    fi
done
note "invoked ${#invoked[@]} of the template's ${#functions[@]} functions, $steps invocations"

# --- sam local start-api -----------------------------------------------------------------------
api_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api="http://127.0.0.1:$api_port"
"$venv/sam" local start-api "${sam_args[@]}" --host 127.0.0.1 --port "$api_port" >"$work/start-api.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
    curl -sS -o /dev/null "$api/" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || die "sam local start-api exited ($work/start-api.log)"
    sleep 0.2
done
request() { # request NAME METHOD PATH [BODY] [HEADER]: the status, the body in $work/out/api-NAME.json
    local out="$work/out/api-$1.json" status
    status=$(curl -sS -o "$out" -w '%{http_code}' -X "$2" "$api$3" -H 'content-type: application/json' \
        ${5:+-H "$5"} ${4:+--data "$4"}) || status=000
    printf '%s' "$status"
}
api_check() { # api_check WHAT STATUS EXPECTED_STATUS FILE JQ
    if [ "$2" = "$3" ] && jq -e "$5" "$4" >/dev/null 2>&1; then
        note "ok   start-api $1: $3"
    else
        failures=$((failures + 1))
        note "FAIL start-api $1: expected $3, got $2 $(head -c 300 "$4" 2>/dev/null)"
    fi
}
note "sam local start-api (SeedFacadeEnabled=true)"
status=$(request place POST /reservationManagements '{"placeId":"2","stock":"1"}')
api_check "POST /reservationManagements placeId=2 stock=1" "$status" 201 "$work/out/api-place.json" \
    '. == {placeId: 2, stock: 1, orderId: null}'
status=$(request order POST /accommodations "$(jq -r .body events/seed-accommodation.json)")
api_check "POST /accommodations (the seed-accommodation sample's body again: order 2)" "$status" 201 "$work/out/api-order.json" \
    '.orderId == 2 and .status == "예약처리"'
# SAM runs no JWT authorizer locally: a /v1 route gets no claims, and the function answers 401.
status=$(request v1 GET /v1/places '' 'authorization: Bearer dev:owner-1')
api_check "GET /v1/places (no JWT authorizer locally: no claims)" "$status" 401 "$work/out/api-v1.json" 'true'

note "sam-local: $steps invocations, $failures failed, $((SECONDS - started)) s in all"
[ "$failures" -eq 0 ]
