# Shared helpers for the shell-driven end-to-end tests (sourced, not executed).
# Provides: start_emulator, k (kubectl), check helpers, poll_until, and cleanup on exit.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EMULATOR="$HERE/../kube-emulator"
DATA="$HERE/testdata"
KUBECTL="${KUBECTL:-/usr/bin/kubectl}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kube-emulator-e2e.XXXXXX")"
PASSED=0
FAILED=0
BG_PIDS=()
EMU_PID=""

export HOME="$WORK/home" KUBECACHEDIR="$WORK/kube-cache" KUBECONFIG="$WORK/kubeconfig"
mkdir -p "$HOME"

cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -n "$EMU_PID" ]]; then
    kill -TERM "$EMU_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$EMU_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$EMU_PID" 2>/dev/null || true
  fi
  if [[ "$FAILED" -gt 0 && -f "$WORK/requests.log" ]]; then
    echo "--- last requests seen by the emulator:" >&2
    tail -n 20 "$WORK/requests.log" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# start_emulator [extra flags...]: starts it on an ephemeral port, waits for the port file.
start_emulator() {
  /usr/bin/python3 "$EMULATOR" --port 0 --port-file "$WORK/port" --kubeconfig "$WORK/kubeconfig" \
    --log-file "$WORK/requests.log" --exit-with-parent "$@" >"$WORK/emulator.out" 2>&1 &
  EMU_PID=$!
  poll_until 10 "emulator port file" test -s "$WORK/port"
  PORT="$(cat "$WORK/port")"
}

k() { timeout 60 "$KUBECTL" --kubeconfig "$WORK/kubeconfig" --cache-dir "$WORK/kube-cache" "$@"; }

# poll_until SECONDS DESCRIPTION COMMAND...: runs COMMAND until it succeeds or time runs out.
poll_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "timed out after ${secs}s waiting for: $what" >&2
      return 1
    fi
    sleep 0.1
  done
}

pass() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1" >&2; }

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
  if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}

# expect_contains DESCRIPTION NEEDLE HAYSTACK
expect_contains() {
  if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1: [$2] not found in: $3"; fi
}

expect_not_contains() {
  if [[ "$3" != *"$2"* ]]; then pass "$1"; else fail "$1: [$2] unexpectedly found in: $3"; fi
}

# expect_ok DESCRIPTION COMMAND...: the command succeeds; its output is kept in $OUT.
expect_ok() {
  local what="$1"; shift
  if OUT="$("$@" 2>&1)"; then pass "$what"; else fail "$what: command failed: $* -> $OUT"; fi
}

# expect_fail DESCRIPTION COMMAND...: the command fails; its combined output is kept in $OUT.
expect_fail() {
  local what="$1"; shift
  if OUT="$("$@" 2>&1)"; then fail "$what: command unexpectedly succeeded: $* -> $OUT"; else pass "$what"; fi
}

# squeeze: collapse runs of spaces so table output can be compared.
squeeze() { tr -s ' ' | sed 's/ *$//'; }

# watch_registered RESOURCE: true once the emulator reports an open watch on RESOURCE.
watch_registered() {
  k get --raw /_emulator/info | /usr/bin/python3 -c \
    'import json,sys; sys.exit(0 if any(w["resource"]==sys.argv[1] for w in json.load(sys.stdin)["watches"]) else 1)' "$1"
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [[ "$FAILED" -eq 0 ]]
}
