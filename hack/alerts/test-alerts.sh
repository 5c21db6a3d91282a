#!/usr/bin/env bash
# Tests the notifications end to end with real programs, everything on 127.0.0.1: etcd, a
# real Alertmanager (Debian's prometheus-alertmanager), a real HTTP receiver for the webhook
# (webhook_receiver.py: verifies the HMAC signature, fails, hangs and recovers on command), a
# health-check target (tests/support/check_target.py), and the binary in standalone mode on
# three capabilities (one with an HTTP check of the target, two without a check):
#   1. Nothing is notified while all is healthy (a first healthy level is not news): past
#      --alert-hold of beats, the receiver got no attempt and Alertmanager holds no alert.
#   2. The target fails: Alertmanager shows CapabilityUnhealthy for that capability (labels,
#      annotations message and last_check), the webhook gets one signed healthy -> unhealthy
#      transition.
#   3. The receiver fails (500), then hangs (past --alert-timeout), while the target recovers:
#      the heartbeats go on meanwhile (a key's heartbeat_count grows while the receiver hangs),
#      the recovery is retried, and once the receiver is back it is delivered exactly once;
#      Alertmanager no longer shows the alert (resolved long before the endsAt it was sent with).
#   4. Storm guard: etcd is stopped, so every capability fails at once: Alertmanager shows the
#      one CapabilitiesFailingAtOnce alert and the webhook one storm document, no
#      per-capability notification; etcd is back: the storm ends, and the capabilities that
#      recovered meanwhile are never notified, not even after the one more --alert-hold that
#      the failures standing at its end get: a later failure of the target is the fence, the
#      first per-capability notification after the storm in both Alertmanager and the webhook.
#   5. The binary stops: its final statistics count as many transitions as the receiver got,
#      nothing queued, and the webhook secret is in no log line.
#
#   hack/alerts/test-alerts.sh [BUILD_DIR]      (default <repo>/build)
# Every process it starts is stopped at exit and its temporary directory removed (KEEP_WORK=1
# keeps it after a failure).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../lib/checks.sh
source "$ROOT/hack/lib/checks.sh"
BUILD_DIR="${1:-$ROOT/build}"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
BINARY="$BUILD_DIR/controller/heartbeat-operator"
ALERTMANAGER="${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}"
ETCD="${ETCD:-/usr/bin/etcd}"
ETCDCTL="${ETCDCTL:-/usr/bin/etcdctl}"
PY=/usr/bin/python3
for tool in "$ALERTMANAGER" "$ETCD" "$ETCDCTL" "$PY"; do
  [[ -x "$tool" ]] || { echo "test-alerts: $tool is required (hack/install-deps.sh installs it)" >&2; exit 1; }
done
[[ -x "$BINARY" ]] || { echo "test-alerts: $BINARY is missing: ninja -C $BUILD_DIR heartbeat-operator" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/test-alerts.XXXXXX")"
export PYTHONDONTWRITEBYTECODE=1
PASSED=0
FAILED=0
PIDS=()
trap cleanup_suite EXIT
trap 'exit 143' TERM INT

step "0. bad options are usage errors that name the flag"
expect_fail_with "a webhook URL that is not http(s)" "--alert-webhook-url must be an http:// or https:// URL" \
  "$BINARY" heartbeat --namespace a --alert-webhook-url ftp://127.0.0.1/x
expect_fail_with "an unreadable secret file" "--alert-webhook-secret-file: cannot read $WORK/none" \
  "$BINARY" heartbeat --namespace a --alert-webhook-url http://127.0.0.1:1/x --alert-webhook-secret-file "$WORK/none"
expect_fail_with "a storm share of 0" "--alert-storm-share must be above 0" \
  "$BINARY" heartbeat --namespace a --alertmanager-url http://127.0.0.1:1 --alert-storm-share 0

# --- processes -------------------------------------------------------------------------------
start_etcd alerts || die "etcd did not start"

AM_PORT="$(free_port)"; AM="http://127.0.0.1:$AM_PORT"
cat >"$WORK/alertmanager.yml" <<'YAML'
route: {receiver: "null", group_wait: 1s, group_interval: 1s}
receivers: [{name: "null"}]
YAML
# An empty cluster address turns Alertmanager's gossip (which listens on every interface) off.
"$ALERTMANAGER" --config.file="$WORK/alertmanager.yml" --storage.path="$WORK/am" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= --log.level=warn >"$WORK/alertmanager.log" 2>&1 &
PIDS=("$!" "${PIDS[@]}")
poll_until 20 "Alertmanager answers on $AM" http_ok "$AM/-/ready" || die "Alertmanager did not start"

SECRET="s3cr3t-$RANDOM$RANDOM"
printf '%s\n' "$SECRET" >"$WORK/webhook-secret"
"$PY" "$HERE/webhook_receiver.py" --port-file "$WORK/receiver.port" --secret-file "$WORK/webhook-secret" >"$WORK/receiver.log" 2>&1 &
PIDS=("$!" "${PIDS[@]}")
poll_until 10 "the webhook receiver listens" test -s "$WORK/receiver.port" || die "no receiver"
HOOK="http://127.0.0.1:$(cat "$WORK/receiver.port")"

"$PY" "$ROOT/tests/support/check_target.py" -q --exit-with-parent >"$WORK/target.ports" 2>"$WORK/target.log" &
PIDS=("$!" "${PIDS[@]}")
poll_until 10 "the check target listens" test -s "$WORK/target.ports" || die "no check target"
TARGET_PORT="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["http"])' "$WORK/target.ports")"
TARGET="http://127.0.0.1:$TARGET_PORT"

mkdir -p "$WORK/caps"
cat >"$WORK/caps/flaky.yaml" <<YAML
apiVersion: chora.dev/v1
kind: Capability
metadata: {dc_identifier: svc.flaky, dc_type: Service, dc_title: Flaky}
chora_service:
  interfaces:
    - {type: rest, host: 127.0.0.1, port: $TARGET_PORT}
  health: {endpoint: /health, interval: 1s, heartbeat_ttl: 5s, timeout: 500ms, failure_threshold: 1}
YAML
for name in steady.one steady.two; do
  cat >"$WORK/caps/$name.yaml" <<YAML
apiVersion: chora.dev/v1
kind: Capability
metadata: {dc_identifier: svc.$name, dc_type: Service, dc_title: Steady}
chora_service:
  interfaces: [cli]
  health: {endpoint: /health, interval: 1, heartbeat_ttl: 5}
YAML
done

"$BINARY" heartbeat --auto-discover --capabilities "$WORK/caps" --etcd-endpoints "127.0.0.1:$ETCD_PORT" \
  --etcd-timeout 1 --alertmanager-url "$AM" --alert-webhook-url "$HOOK/hook" \
  --alert-webhook-secret-file "$WORK/webhook-secret" --alert-hold 3 --alert-timeout 1 \
  --alertmanager-resend-interval 2 --alert-storm-share 0.5 --alert-storm-min 2 >"$WORK/heartbeat.log" 2>&1 &
HB_PID=$!
PIDS=("$HB_PID" "${PIDS[@]}")

# --- queries ---------------------------------------------------------------------------------
state() { fetch "$HOOK/_state"; }
mode() { fetch "$HOOK/_control?mode=$1" >/dev/null; }
target_mode() { fetch "$TARGET/_control?mode=$1" >/dev/null; }
# recv EXPRESSION: a python expression over s (the receiver's state) and d (its deliveries).
recv() { state | "$PY" -c 'import json, sys; s = json.load(sys.stdin); d = s["deliveries"]; print(eval(sys.argv[1]))' "$1"; }
# am EXPRESSION: over a (Alertmanager's active alerts).
am() { fetch "$AM/api/v2/alerts?active=true&silenced=false&inhibited=false" | "$PY" -c 'import json, sys; a = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
am_has() { [[ "$(am "any(x['labels'].get('alertname') == '$1' and x['labels'].get('identifier', '') == '$2' for x in a)")" == True ]]; }
am_lacks() { [[ "$(am "any(x['labels'].get('alertname') == '$1' and x['labels'].get('identifier', '') == '$2' for x in a)")" == False ]]; }
# am_annotation IDENTIFIER KEY: that annotation of the capability's active alert.
am_annotation() { am "[x['annotations'].get('$2', '') for x in a if x['labels'].get('identifier', '') == '$1'][0]"; }
# am_identifiers: the identifiers of the active per-capability alerts, sorted.
am_identifiers() { am "' '.join(sorted(x['labels']['identifier'] for x in a if 'identifier' in x['labels']))"; }
keys_present() { [[ "$("$ETCDCTL" --endpoints "$ETCD_URL" get --prefix /chora/capabilities/ --keys-only 2>/dev/null | grep -c /health)" == 3 ]]; }
# value_field IDENTIFIER FIELD: one field of the capability's health value in etcd.
value_field() { "$ETCDCTL" --endpoints "$ETCD_URL" get --print-value-only "/chora/capabilities/$1/health" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
value_status() { value_field "$1" status; }
# beats_above IDENTIFIER N: the capability's heartbeat_count is above N.
beats_above() { local n; n="$(value_field "$1" heartbeat_count)" && ((n > $2)); }
all_healthy() { keys_present && [[ "$(value_status svc.flaky) $(value_status svc.steady.one) $(value_status svc.steady.two)" == "healthy healthy healthy" ]]; }
# transitions_since N: the per-capability transitions the webhook got after its first N
# deliveries, as identifier:from>to.
transitions_since() { recv '" ".join("%s:%s>%s" % (x["body"].get("identifier"), x["body"].get("from"), x["body"].get("to")) for x in d['"$1"':] if x["event"] == "transition")'; }

# ---------------------------------------------------------------------------------------------
step "1. all healthy: nothing to notify"
poll_until 20 "the three health keys are in etcd" keys_present || die "no keys"
poll_until 10 "svc.flaky's value says healthy (its check passed)" output_is healthy value_status svc.flaky || die "no check"
# Beats at 1 s: 4 more are past --alert-hold (3 s), so a notification of the healthy start
# would have been due and sent by then.
beats="$(value_field svc.flaky heartbeat_count)"
poll_until 15 "svc.flaky beats 4 more times, past --alert-hold" beats_above svc.flaky $((beats + 3))
expect_eq "  ... and nothing was notified: no webhook attempt, no alert in Alertmanager" "0 0" \
  "$(recv 's["attempts"]') $(am 'len(a)')"

step "2. a failing check: Alertmanager alert and one signed webhook"
target_mode fail
poll_until 20 "Alertmanager shows CapabilityUnhealthy for svc.flaky" am_has CapabilityUnhealthy svc.flaky || die "no alert"
expect_eq "  ... with severity warning, the source and the check's reason" "warning True True" \
  "$(am "' '.join(str(v) for v in [[x['labels']['severity'] for x in a if x['labels'].get('identifier') == 'svc.flaky'][0], any('flaky.yaml' in x['labels'].get('source', '') for x in a), any('503' in x['annotations'].get('reason', '') for x in a)])")"
poll_until 20 "the webhook got the transition" output_is 1 recv 'len(d)'
expect_eq "  ... healthy -> unhealthy for svc.flaky, first of all (healthy at start was not news)" \
  "transition svc.flaky healthy unhealthy" "$(recv '" ".join([d[0]["event"], d[0]["body"]["identifier"], d[0]["body"]["from"], d[0]["body"]["to"]])')"
expect_eq "  ... signed (HMAC-SHA256 of timestamp.body), its id in X-Heartbeat-Delivery" "True True" \
  "$(recv 'd[0]["signature_ok"], d[0]["id"] == d[0]["body"]["id"]' | tr -d '(),')"
expect_contains "  ... with the check's last result in its value" "fail" "$(recv 'd[0]["body"]["value"].get("last_check", "")')"
expect_eq "  ... Alertmanager's alert has annotation message: its summary and reason" \
  "Capability svc.flaky is unhealthy: HTTP 503" "$(am_annotation svc.flaky message)"
expect_contains "  ... and annotation last_check: the check's last result" "fail: HTTP 503 (" \
  "$(am_annotation svc.flaky last_check)"

step "3. the receiver fails, then hangs; the recovery is delivered once it is back"
mode fail
target_mode ok
poll_until 20 "the recovery is retried while the receiver answers 500" output_is True recv 's["failed"] >= 2'
mode hang
poll_until 20 "... and while it hangs (past --alert-timeout)" output_is True recv 's["hung"] >= 2'
beats="$(value_field svc.steady.one heartbeat_count)"
poll_until 10 "the heartbeats go on while the receiver hangs (svc.steady.one beats twice more)" \
  beats_above svc.steady.one $((beats + 1))
expect_eq "  ... the receiver still hangs, and nothing was delivered meanwhile" "hang 1" "$(recv 's["mode"], len(d)' | tr -d "(),'")"
mode ok
poll_until 30 "the recovery is delivered once the receiver is back" output_is 2 recv 'len(d)'
expect_eq "  ... unhealthy -> healthy, signed, no duplicate" "svc.flaky unhealthy healthy True 0" \
  "$(recv '" ".join([d[1]["body"]["identifier"], d[1]["body"]["from"], d[1]["body"]["to"], str(d[1]["signature_ok"]), str(s["duplicates"])])')"
poll_until 20 "Alertmanager no longer shows svc.flaky's alert (resolved)" am_lacks CapabilityUnhealthy svc.flaky

step "4. storm guard: etcd stops, every capability fails at once"
before="$(recv 'len(d)')"
stop_pid "$ETCD_PID"
poll_until 30 "Alertmanager shows one CapabilitiesFailingAtOnce alert" am_has CapabilitiesFailingAtOnce ""
poll_until 20 "the webhook got one storm document (started)" output_is "started" recv '" ".join(x["body"]["state"] for x in d if x["event"] == "storm")'
expect_eq "  ... counting the failing ones when it began (at least 2, --alert-storm-min) of 3" "True 3" \
  "$(recv '" ".join(str(x) for x in [[y for y in d if y["event"] == "storm"][0]["body"]["failing"] >= 2, [y for y in d if y["event"] == "storm"][0]["body"]["total"]])')"
expect_eq "  ... and no per-capability alert in Alertmanager" "0" "$(am "len([x for x in a if 'identifier' in x['labels']])")"
start_etcd alerts || die "etcd did not come back"
poll_until 60 "the storm ends once the keys are back (webhook: ended)" output_is "started ended" recv '" ".join(x["body"]["state"] for x in d if x["event"] == "storm")'
poll_until 20 "Alertmanager no longer shows CapabilitiesFailingAtOnce" am_lacks CapabilitiesFailingAtOnce ""
expect_eq "  ... no per-capability transition during it" "" "$(transitions_since "$before")"
# What still fails as the storm ends is held one more --alert-hold. The fence: once every key
# is healthy again, the target fails; that transition is due a hold later still, and each sink
# sends in order (Alertmanager: every active alert in each POST), so when it arrives, any
# transition the end of the storm released has arrived before it.
poll_until 30 "every key is healthy again" all_healthy || die "the keys did not recover"
target_mode fail
poll_until 20 "the fence: the webhook gets svc.flaky's new failure, the first transition since the storm began" \
  output_is "svc.flaky:healthy>unhealthy" transitions_since "$before" || die "got: [$(transitions_since "$before")]"
poll_until 20 "  ... and Alertmanager its CapabilityUnhealthy, the only per-capability alert" \
  output_is svc.flaky am_identifiers || die "Alertmanager shows: [$(am_identifiers)]"
target_mode ok
poll_until 20 "svc.flaky's recovery is delivered" output_is "svc.flaky:healthy>unhealthy svc.flaky:unhealthy>healthy" transitions_since "$before"
poll_until 20 "  ... and Alertmanager no longer shows its alert" am_lacks CapabilityUnhealthy svc.flaky

step "5. stop: every transition counted once, nothing queued, the secret never logged"
stop_pid "$HB_PID"
summary="$(grep 'notifications to webhook' "$WORK/heartbeat.log" | tail -n 1)"
expect_contains "the final statistics count 4 transitions" "transitions=4" "$summary"
expect_contains "  ... nothing queued for the webhook" "queued=0" "$summary"
expect_eq "the receiver got 4 transitions and 2 storm documents, none twice" "4 2 0" \
  "$(recv '" ".join(str(x) for x in [sum(x["event"] == "transition" for x in d), sum(x["event"] == "storm" for x in d), s["duplicates"]])')"
expect_eq "the secret is in no log line" "0" "$(cat "$WORK"/*.log | grep -c -- "$SECRET" || true)"

echo "# test-alerts: $PASSED passed, $FAILED failed"
((FAILED == 0)) || { show_logs; exit 1; }
