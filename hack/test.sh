#!/usr/bin/env bash
# Builds heartbeat-operator with warnings as errors and runs every test: unit tests on
# virtual time, integration tests against a real etcd started on 127.0.0.1, and the test
# Kubernetes API server's suite with the real kubectl and helm.
#
#   hack/test.sh [ctest arguments, e.g. -L unit or -R engine]
# BUILD_DIR (default: build), SANITIZE=address|thread|undefined pick the build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja -DHB_WERROR=ON -DSANITIZE="${SANITIZE:-}" >/dev/null
ninja -C "$build"
"$root/hack/install-helm.sh" "$build/tools" >/dev/null
cd "$build"
ctest --output-on-failure "$@"
