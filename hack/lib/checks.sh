# Helpers shared by the shell test suites (hack/chart/test-chart.sh,
# hack/prometheus/test-prometheus.sh): assertions, and stopping what a suite started.
# The assertions call pass DESCRIPTION and fail MESSAGE, which each suite defines (it counts
# and reports in its own way), and free_port needs PY (a python3); cleanup_suite reads PIDS,
# WORK, FAILED and KEEP_WORK. Each check calls pass or fail once; what a check returns is
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
