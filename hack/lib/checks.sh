# Helpers shared by the shell test suites (hack/chart/test-chart.sh,
# hack/prometheus/test-prometheus.sh, hack/alerts/test-alerts.sh, hack/test-image.sh, ...):
# assertions, HTTP probes, logs, and stopping what a suite started.
# The assertions call pass DESCRIPTION and fail MESSAGE: the ones below count into PASSED and
# FAILED, and a suite may define its own after sourcing this file. free_port, http_ok and fetch
# need PY (a python3); show_logs reads WORK; cleanup_suite reads PIDS, WORK, FAILED and
# KEEP_WORK. Each check calls pass or fail once; what a check returns is
# what that call returned, except poll_until, which returns 1 on timeout.

# stop_pid PID: SIGTERM, up to 5 s to exit, then SIGKILL.
stop_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
# cleanup_suite: stops the processes in PIDS, in that order, then removes WORK (kept, and
# said so, when a check failed and KEEP_WORK is set). For `trap cleanup_suite EXIT`.
cleanup_suite() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if ((FAILED > 0)) && [[ -n "${KEEP_WORK:-}" ]]; then
    echo "work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}

expect_eq() { if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi; }
expect_contains() { if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1: [$2] not in: ${3:0:2000}"; fi; }
# expect_fail_with DESCRIPTION NEEDLE COMMAND...: fails, and its output names the problem.
expect_fail_with() {
  local what="$1" needle="$2"; shift 2
  if OUT="$("$@" 2>&1)"; then
    fail "$what: command unexpectedly succeeded: $*"
  elif [[ "$OUT" != *"$needle"* ]]; then
    fail "$what: failed, but without [$needle]: ${OUT:0:1500}"
  else
    pass "$what"
  fi
}
# poll_until SECONDS DESCRIPTION COMMAND...: COMMAND succeeds before the deadline.
poll_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "timed out after ${secs}s waiting for: $what (last: $("$@" 2>&1 | head -c 1500))"
      return 1
    fi
    sleep 0.25
  done
  pass "$what"
}
# output_is WANT COMMAND...: COMMAND prints exactly WANT.
output_is() { local want="$1"; shift; [[ "$("$@" 2>/dev/null)" == "$want" ]]; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

pass() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1" >&2; }
# expect_ok DESCRIPTION COMMAND...: succeeds; its output is in OUT.
expect_ok() {
  local what="$1"; shift
  if OUT="$("$@" 2>&1)"; then pass "$what"; return 0; fi
  fail "$what: failed: $* -> ${OUT:0:3000}"
  return 1
}
# show_logs: the last SHOW_LOG_LINES (20) lines of every non-empty WORK/*.log, to stderr.
show_logs() {
  local f
  for f in "$WORK"/*.log; do
    [[ -s "$f" ]] || continue
    echo "--- $(basename "$f") (last ${SHOW_LOG_LINES:-20} lines)" >&2
    tail -n "${SHOW_LOG_LINES:-20}" "$f" >&2
  done
}
# http_ok URL: a 2xx answer within 2 s. fetch URL: prints the answer's body (5 s).
http_ok() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"; }
fetch() { "$PY" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
# step NAME ... step_end: a titled part of a suite and how long it took.
step() { STEP_NAME="$1"; STEP_T0=$SECONDS; echo "=== $1"; }
step_end() { echo "=== $STEP_NAME: $((SECONDS - STEP_T0))s"; }
# die MESSAGE: a failed check that later steps need: the logs, then exit 1.
die() { fail "$1"; show_logs; exit 1; }
# start_etcd NAME [ETCD FLAGS...]: a one-member etcd on 127.0.0.1, data in WORK/etcd (kept
# when it is started again after stop_pid), log appended to WORK/etcd.log. Ports are picked
# on the first call and kept: sets ETCD_PORT and ETCD_URL (once) and ETCD_PID, adds the
# process to PIDS, then waits up to 20 s for it to answer. Needs ETCD (the binary) and PY.
start_etcd() {
  local name="$1"; shift
  if [[ -z "${ETCD_PEER_PORT:-}" ]]; then
    ETCD_PORT="$(free_port)"; ETCD_PEER_PORT="$(free_port)"; ETCD_URL="http://127.0.0.1:$ETCD_PORT"
  fi
  "$ETCD" --name "$name" --data-dir "$WORK/etcd" \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "$name=http://127.0.0.1:$ETCD_PEER_PORT" --log-level error "$@" >>"$WORK/etcd.log" 2>&1 &
  ETCD_PID=$!
  PIDS=("$ETCD_PID" "${PIDS[@]}")
  poll_until 20 "etcd answers on 127.0.0.1:$ETCD_PORT" http_ok "$ETCD_URL/health"
}
