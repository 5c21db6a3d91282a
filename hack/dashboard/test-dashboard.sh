#!/usr/bin/env bash
# The dashboard end to end, in a real headless Chromium, everything on 127.0.0.1:
#   a real etcd; `heartbeat-operator heartbeat` for the sample capabilities (examples/
#   capabilities, Service type, interval 1 s and TTL 5 s), one of them (chora.devex.registry)
#   in a process of its own; `heartbeat-operator dashboard` reading that etcd. Then
#   test-dashboard.mjs drives /usr/bin/chromium with playwright-core: the page shows the
#   capabilities healthy; after a SIGKILL of the lone capability's process its row turns
#   expired within its TTL without a reload; search and filters narrow the rows; controls
#   have accessible names; a 400 px viewport has no horizontal overflow; then 10,000 keys
#   written straight into etcd arrive live, the summary counts them and fewer than 200 row
#   elements exist (virtual scrolling). Screenshots go to BUILD_DIR/artifacts/dashboard-*.png.
#
#   hack/dashboard/test-dashboard.sh [BUILD_DIR]      (default <repo>/build)
# Needs BUILD_DIR/controller/heartbeat-operator, /usr/bin/etcd, /usr/bin/chromium, node and
# npm (playwright-core is installed into BUILD_DIR/tools/playwright by install-playwright.sh).
# Every process it starts is stopped at exit and its temporary directory removed
# (KEEP_WORK=1 keeps it after a failure). DASHBOARD_SKIP_10K=1 skips the 10,000-key part.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../lib/checks.sh
source "$ROOT/hack/lib/checks.sh"
BUILD_DIR="${1:-$ROOT/build}"
[[ -d "$BUILD_DIR" ]] || { echo "test-dashboard: no build directory $BUILD_DIR" >&2; exit 1; }
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
BINARY="$BUILD_DIR/controller/heartbeat-operator"
ETCD="${ETCD:-/usr/bin/etcd}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
PY=/usr/bin/python3
ARTIFACTS="$BUILD_DIR/artifacts"
VICTIM=chora.devex.registry
TTL=5

WORK="$(mktemp -d "${TMPDIR:-/tmp}/test-dashboard.XXXXXX")"
PASSED=0
FAILED=0
PIDS=()  # processes to stop at exit, the last started first
trap cleanup_suite EXIT
trap 'exit 143' TERM INT

SHOW_LOG_LINES=15
# keys_under URL PREFIX: how many keys etcd holds under PREFIX (its JSON gateway).
keys_under() {
  "$PY" - "$1" "$2" <<'PY'
import base64, json, sys, urllib.request
url, prefix = sys.argv[1], sys.argv[2].encode()
end = prefix[:-1] + bytes([prefix[-1] + 1])
body = json.dumps({"key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(end).decode(),
                   "count_only": True}).encode()
print(json.load(urllib.request.urlopen(url + "/v3/kv/range", body, timeout=5)).get("count", "0"))
PY
}

for tool in "$ETCD" "$CHROMIUM" "$PY"; do
  [[ -x "$tool" ]] || { echo "test-dashboard: $tool is required (hack/install-deps.sh installs it)" >&2; exit 1; }
done
command -v node >/dev/null || { echo "test-dashboard: node is required" >&2; exit 1; }
[[ -x "$BINARY" ]] || { echo "test-dashboard: $BINARY is missing: ninja -C $BUILD_DIR heartbeat-operator" >&2; exit 1; }
PLAYWRIGHT="$("$HERE/install-playwright.sh" "$BUILD_DIR/tools")" || { echo "test-dashboard: playwright-core could not be installed" >&2; exit 1; }
mkdir -p "$ARTIFACTS" "$WORK/bin" && cp "$BINARY" "$WORK/bin/heartbeat-operator" && BINARY="$WORK/bin/heartbeat-operator"
echo "# $("$CHROMIUM" --version 2>/dev/null), node $(node --version), $("$BINARY" --version)"

# --- etcd
start_etcd dash-test --max-txn-ops 1000 || die "etcd did not start"

# --- the sample capabilities, interval 1 s and TTL 5 s; the victim in a process of its own
mkdir -p "$WORK/caps" "$WORK/victim"
for f in "$ROOT"/examples/capabilities/*.yaml; do
  dest="$WORK/caps"
  [[ "$(basename "$f")" == "$VICTIM.yaml" ]] && dest="$WORK/victim"
  sed -e 's/^\(\s*\)interval: .*/\1interval: 1/' -e "s/^\(\s*\)heartbeat_ttl: .*/\1heartbeat_ttl: $TTL/" "$f" >"$dest/$(basename "$f")"
done
SERVICES="$(grep -l 'dc_type: Service' "$WORK"/caps/*.yaml "$WORK"/victim/*.yaml | xargs -n1 basename | sed 's/\.yaml$//' | sort | paste -sd, -)"
heartbeat() {
  local dir="$1" log="$2"
  "$BINARY" heartbeat --auto-discover --capabilities "$dir" --health-checks=false \
    --etcd-endpoints "$ETCD_URL" --interval 1 --ttl "$TTL" >"$WORK/$log" 2>&1 &
}
heartbeat "$WORK/caps" heartbeat.log; PIDS=("$!" "${PIDS[@]}")
heartbeat "$WORK/victim" victim.log; VICTIM_PID=$!; PIDS=("$VICTIM_PID" "${PIDS[@]}")
disown "$VICTIM_PID"  # the browser checks SIGKILL it: no job report for that
N_SERVICES="$(tr ',' '\n' <<<"$SERVICES" | wc -l)"
poll_until 20 "etcd holds the $N_SERVICES sample health keys" output_is "$N_SERVICES" keys_under "$ETCD_URL" /chora/capabilities/ ||
  die "the heartbeats did not write their keys"

# --- the dashboard
expect_fail_with "the dashboard refuses a bind address without a port" "bind address" \
  "$BINARY" dashboard --bind-address 127.0.0.1 --etcd-endpoints "$ETCD_URL"
DASH_PORT="$(free_port)"
DASH_URL="http://127.0.0.1:$DASH_PORT"
"$BINARY" dashboard --bind-address "127.0.0.1:$DASH_PORT" --etcd-endpoints "$ETCD_URL" >"$WORK/dashboard.log" 2>&1 &
DASH_PID=$!; PIDS=("$DASH_PID" "${PIDS[@]}")
poll_until 20 "the dashboard serves its page on 127.0.0.1:$DASH_PORT" http_ok "$DASH_URL/" || die "the dashboard did not start"
SNAPSHOT="$(fetch "$DASH_URL/api/snapshot")"
expect_contains "the snapshot names the lone capability" "\"id\":\"$VICTIM\"" "$SNAPSHOT"
expect_contains "  ... and its lease" "\"lease\":\"" "$SNAPSHOT"
expect_fail_with "a path that is not the dashboard's is 404" "404" fetch "$DASH_URL/etc/passwd"

# --- the browser
set +e
DASHBOARD_URL="$DASH_URL" ETCD_URL="$ETCD_URL" VICTIM="$VICTIM" VICTIM_PID="$VICTIM_PID" TTL="$TTL" \
  SERVICES="$SERVICES" ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" \
  PLAYWRIGHT_DIR="$PLAYWRIGHT" node "$HERE/test-dashboard.mjs"
BROWSER=$?
set -e
if ((BROWSER == 0)); then pass "the browser checks (test-dashboard.mjs)"; else fail "the browser checks (test-dashboard.mjs) failed"; fi
kill -0 "$DASH_PID" 2>/dev/null && pass "the dashboard is still running" || fail "the dashboard exited"
stop_pid "$DASH_PID"
expect_contains "the dashboard stops cleanly on SIGTERM" "Dashboard stopped" "$(cat "$WORK/dashboard.log")"

echo "# $PASSED passed, $FAILED failed; screenshots in $ARTIFACTS"
((FAILED == 0)) || { show_logs; exit 1; }
