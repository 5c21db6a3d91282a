#!/usr/bin/env bash
# Runs every kube-emulator test: the Python unit tests of its semantics, the real kubectl over
# HTTP and over HTTPS with a token, and the real helm.
#   run-all.sh [BUILD_DIR]     (BUILD_DIR defaults to <repo>/build; helm goes to BUILD_DIR/tools)
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../../.." && pwd)"
BUILD_DIR="${1:-$REPO_ROOT/build}"
mkdir -p "$BUILD_DIR"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"

export PYTHONDONTWRITEBYTECODE=1
passed=0
failed=0
failures=()

step() {
  local name="$1" limit="$2"; shift 2
  local start=$SECONDS
  echo "=== $name"
  if timeout --kill-after=10 "$limit" "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - start))s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start))s)" >&2
  fi
}

cd "$HERE" || exit 1
step "emulator unit tests" 240 /usr/bin/python3 -m unittest discover -s "$HERE" -p 'test_*.py'
step "kubectl over HTTP" 240 bash "$HERE/kubectl-e2e.sh"
step "kubectl over HTTPS with a token" 120 bash "$HERE/kubectl-e2e.sh" --tls
step "helm" 240 bash "$HERE/helm-e2e.sh" "$BUILD_DIR"

echo "kube-emulator suites: $passed passed, $failed failed"
if ((failed > 0)); then
  printf 'failed: %s\n' "${failures[@]}" >&2
  exit 1
fi
