# Assertions shared by the shell test suites (hack/chart/test-chart.sh,
# hack/prometheus/test-prometheus.sh). Source it after defining pass DESCRIPTION and
# fail MESSAGE (each suite counts and reports in its own way) and PY (a python3).
# Each check calls pass or fail once; what a check returns is what that call returned,
# except poll_until, which returns 1 on timeout.

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
