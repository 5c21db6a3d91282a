#!/usr/bin/env bash
# Builds the Dockerfile with Debian's docker.io and its classic builder, and runs the image the
# way the chart does: read-only root file system, its own non-root user, no capabilities, no new
# privileges; always with --network host (never docker's default bridge), everything on
# 127.0.0.1:
#   1. The docker daemon: used when it answers; otherwise started (root only) with
#      --bridge=none --iptables=false, and stopped at exit. No daemon and not root: failure.
#   2. The base images debian:bookworm and debian:bookworm-slim: no registry is reachable, so
#      hack/image/base-images.sh makes them by debootstrap of this machine's Debian mirror
#      unless docker has them (their root file systems are cached outside the repository).
#   3. `DOCKER_BUILDKIT=0 docker build --network host`, the compile step sharing ccache entries
#      through hack/image/ccache-http-server.py (CCACHE_REMOTE=0: a cold compile); the build
#      time, the image size and the share of compiler cache hits are printed. The layer of
#      hack/install-deps.sh stays tagged as the next build's cache; the untagged images the
#      build leaves are removed.
#   4. The image's configuration: USER 65532:65532, exec-form ENTRYPOINT and CMD; --version
#      and --help. Every container runs with PATH empty and /usr/bin and /usr/sbin hidden (no
#      shell, no coreutils), which stops a /bin/sh entrypoint, as a control run shows.
#   5. The standalone heartbeat on the sample manifests of examples/capabilities (mounted
#      read-only) against a real etcd: a health key for every Service-type manifest, healthy,
#      written from the mounted files, by a process of UID 65532 with no capability (its
#      permitted, effective, inheritable, bounding and ambient sets all empty) and no_new_privs
#      set; docker stop ends it by SIGTERM (exit status 0) and its keys are revoked.
#   6. The controller against the test Kubernetes API server over TLS with a token (its
#      kubeconfig mounted read-only): a Capability applied with kubectl gets its health key,
#      written by the controller's instance (UID 65532, no capability), and the status Healthy;
#      /healthz and /readyz answer; deleting the Capability removes its key.
#
#   hack/test-image.sh [BUILD_DIR]     (BUILD_DIR is unused: the image builds its own)
# IMAGE names the image (default heartbeat-operator:test); IMAGE_CONTEXT=DIR builds another copy
# of the sources (default: this repository); CCACHE_REMOTE=0 builds without the shared compiler
# cache; IMAGE_BUILD_LOCK=FILE runs docker build under flock FILE. The caches live
# in ${XDG_CACHE_HOME:-$HOME/.cache}/heartbeat-operator. Needs docker.io, debootstrap (when the
# base images are missing), etcd-server, etcd-client, kubectl, python3-yaml. Every container and
# process it starts is stopped at exit and its temporary directory removed (KEEP_WORK=1 keeps it
# after a failure).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=lib/checks.sh
source "$ROOT/hack/lib/checks.sh"
DOCKER="${DOCKER:-/usr/bin/docker}"
DOCKERD="${DOCKERD:-/usr/sbin/dockerd}"
ETCD="${ETCD:-/usr/bin/etcd}"
ETCDCTL="${ETCDCTL:-/usr/bin/etcdctl}"
KUBECTL="${KUBECTL:-/usr/bin/kubectl}"
EMULATOR="$ROOT/hack/kube-emulator/kube-emulator"
CRD="$ROOT/crds/capabilities.chora.dev.yaml"
SAMPLES="$ROOT/examples/capabilities"
PY=/usr/bin/python3
IMAGE="${IMAGE:-heartbeat-operator:test}"
CONTEXT="${IMAGE_CONTEXT:-$ROOT}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/heartbeat-operator"
CCACHE_STORE="$CACHE_ROOT/ccache-remote"
ENTRYPOINT='["/usr/local/bin/heartbeat-operator"]'
IMAGE_USER=65532:65532
PREFIX=/chora/capabilities/
T0=$SECONDS

WORK="$(mktemp -d "${TMPDIR:-/tmp}/test-image.XXXXXX")"
export HOME="$WORK/home" KUBECACHEDIR="$WORK/kube-cache" PYTHONDONTWRITEBYTECODE=1 ETCDCTL_API=3
unset KUBECONFIG DOCKER_HOST DOCKER_CONTEXT
mkdir -p "$HOME"

PASSED=0
FAILED=0
PIDS=()         # processes to stop at exit, the last started first
CONTAINERS=()   # containers to remove at exit
DOCKERD_PID=""  # the docker daemon, when this script started it
ETCD_PID=""

# Containers first (the daemon must still run), then the daemon if it is this script's, then
# the processes and the work directory.
cleanup() {
  local c pid
  for c in "${CONTAINERS[@]}"; do "$DOCKER" rm -f "$c" >/dev/null 2>&1 || true; done
  if [[ -n "$DOCKERD_PID" ]]; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
  fi
  cleanup_suite
}
trap cleanup EXIT
trap 'exit 143' TERM INT

die() { fail "$1"; echo "test-image: stopped at the first failure that later steps need" >&2; show_logs; exit 1; }
docker_() { timeout 120 "$DOCKER" "$@"; }
k() { timeout 60 "$KUBECTL" --kubeconfig "$WORK/kubeconfig" --cache-dir "$KUBECACHEDIR" "$@"; }
e() { timeout 20 "$ETCDCTL" --endpoints "$ETCD_URL" "$@"; }

# The way the chart runs the container, on the host's network, with no shell or coreutils to be
# found: PATH is empty and /usr/bin and /usr/sbin (and so /bin and /sbin) are empty tmpfs.
RUN_FLAGS=(--read-only --cap-drop ALL --security-opt no-new-privileges --network host)
NO_SHELL=(-e PATH= --tmpfs "/usr/bin:ro,size=4k" --tmpfs "/usr/sbin:ro,size=4k")
# run_once ARGS...: a container of the image with ARGS, removed when it ends; prints its output.
run_once() { docker_ run --rm "${RUN_FLAGS[@]}" "${NO_SHELL[@]}" "$@"; }
# start_container NAME DOCKER-ARGS... -- IMAGE-ARGS...: a detached container of the image.
start_container() {
  local name="$1" opts=(); shift
  while (($#)) && [[ "$1" != -- ]]; do opts+=("$1"); shift; done
  shift
  CONTAINERS+=("$name")
  docker_ run -d --name "$name" "${RUN_FLAGS[@]}" "${NO_SHELL[@]}" "${opts[@]}" "$IMAGE" "$@" >/dev/null
}
container_state() { docker_ inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1"; }
# container_uid NAME: the real, effective, saved and file-system UIDs of its main process.
container_uid() {
  local pid
  pid="$(docker_ inspect -f '{{.State.Pid}}' "$1")"
  awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status"
}
# container_caps NAME: its main process's capability sets (inheritable, permitted, effective,
# bounding, ambient) and no_new_privs flag, as /proc/PID/status has them.
container_caps() {
  local pid
  pid="$(docker_ inspect -f '{{.State.Pid}}' "$1")"
  awk '/^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):/ {printf "%s%s %s", sep, $1, $2; sep = " "} END {print ""}' "/proc/$pid/status"
}
NO_CAPS="CapInh: 0000000000000000 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: 0000000000000000 CapAmb: 0000000000000000 NoNewPrivs: 1"
# health_keys: the identifiers that have a health key, sorted, one line.
health_keys() { e get --prefix "$PREFIX" --keys-only | sed -n "s|^$PREFIX\(.*\)/health\$|\1|p" | sort | xargs; }
# health_field IDENTIFIER FIELD: one field of the JSON health value (empty when absent).
health_field() {
  e get --print-value-only "$PREFIX$1/health" \
    | "$PY" -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1], ""); print(v if isinstance(v, str) else json.dumps(v))' "$2"
}
output_is_quiet() { local want="$1"; shift; [[ "$("$@" 2>/dev/null)" == "$want" ]]; }

for tool in "$DOCKER" "$ETCD" "$ETCDCTL" "$KUBECTL" "$PY"; do
  [[ -x "$tool" ]] || { echo "test-image: $tool is required (hack/install-deps.sh installs it)" >&2; exit 1; }
done

# ---------------------------------------------------------------------------------------------
step "1. the docker daemon"
if "$DOCKER" info >/dev/null 2>&1; then
  pass "a docker daemon answers (used as it is; builds and containers use --network host only)"
elif [[ "$(id -u)" != 0 ]]; then
  die "no docker daemon answers and this is not root, so none can be started: start dockerd (dockerd --bridge=none --iptables=false) or run as root"
elif [[ ! -x "$DOCKERD" ]]; then
  die "no docker daemon answers and $DOCKERD is missing (hack/install-deps.sh installs docker.io)"
else
  "$DOCKERD" --bridge=none --iptables=false >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  poll_until 60 "dockerd started (--bridge=none --iptables=false), log $WORK/dockerd.log" "$DOCKER" info \
    || die "dockerd did not start"
fi
echo "# docker $("$DOCKER" version -f '{{.Client.Version}} (client), {{.Server.Version}} (daemon)' 2>&1)"
step_end

# ---------------------------------------------------------------------------------------------
step "2. the base images"
expect_ok "debian:bookworm and debian:bookworm-slim exist (made by debootstrap when missing)" \
  env DOCKER="$DOCKER" CACHE_DIR="$CACHE_ROOT/base-images" "$ROOT/hack/image/base-images.sh" \
  || die "no base images"
echo "$OUT" | sed 's/^/    /'
step_end

# ---------------------------------------------------------------------------------------------
step "3. docker build (classic builder)"
build_args=()
if [[ "${CCACHE_REMOTE:-1}" != 0 ]]; then
  mkdir -p "$CCACHE_STORE"
  # Entries unused for 30 days go: the store holds a few builds' worth.
  find "$CCACHE_STORE" -type f -mtime +30 -delete 2>/dev/null || true
  "$PY" "$ROOT/hack/image/ccache-http-server.py" --dir "$CCACHE_STORE" --port 0 --port-file "$WORK/ccache.port" \
    --exit-with-parent >"$WORK/ccache-server.log" 2>&1 &
  PIDS=("$!" "${PIDS[@]}")
  poll_until 20 "the ccache store listens on 127.0.0.1 ($CCACHE_STORE)" test -s "$WORK/ccache.port" \
    || die "the ccache store did not start"
  CCACHE_URL="http://127.0.0.1:$(cat "$WORK/ccache.port")"
  build_args=(--build-arg "CCACHE_REMOTE_STORAGE=$CCACHE_URL/ccache")
fi
# The lock is taken before the clock starts and released before anything else is started (a
# child holding the descriptor would hold the lock).
if [[ -n "${IMAGE_BUILD_LOCK:-}" ]]; then
  exec {lock_fd}>>"$IMAGE_BUILD_LOCK"
  echo "# waiting for $IMAGE_BUILD_LOCK"
  flock "$lock_fd"
fi
dangling() { docker_ image ls -q --no-trunc --filter dangling=true | sort -u; }
dangling >"$WORK/dangling-before"
build_t0=$SECONDS
if env DOCKER_BUILDKIT=0 timeout 2400 "$DOCKER" build --network host --force-rm "${build_args[@]}" \
    -t "$IMAGE" "$CONTEXT" >"$WORK/build.log" 2>&1; then
  pass "DOCKER_BUILDKIT=0 docker build --network host -t $IMAGE $CONTEXT"
else
  die "docker build failed: $(grep -E 'error|Error|ERROR' "$WORK/build.log" | head -n 10)"
fi
BUILD_SECS=$((SECONDS - build_t0))
[[ -z "${lock_fd:-}" ]] || exec {lock_fd}>&-
# The classic builder leaves the build stage as an untagged image (a few GB, most of it the
# installed dependencies). The layer of hack/install-deps.sh is tagged DEPS_TAG, the cache of the
# next build, and the images this build left untagged are removed down to it.
DEPS_TAG="${IMAGE%%:*}-build:deps"
deps_id="$(awk '/^Step [0-9]+\/[0-9]+ : RUN .*hack\/install-deps\.sh/ {f = 1; next}
               f && /^ ---> [0-9a-f]+$/ {print $2; exit}' "$WORK/build.log")"
if [[ -n "$deps_id" ]] && docker_ tag "$deps_id" "$DEPS_TAG"; then
  pass "the build stage's dependencies layer is kept as $DEPS_TAG (the next build's cache)"
else
  fail "no image id after the hack/install-deps.sh step in the build output"
fi
mapfile -t left < <(comm -13 "$WORK/dangling-before" <(dangling))
if ((${#left[@]} > 0)); then docker_ rmi "${left[@]}" >/dev/null 2>&1 || true; fi
expect_eq "the untagged images this build left are removed" "" "$(comm -12 <(printf '%s\n' "${left[@]}") <(dangling) | xargs)"
expect_eq "the classic builder built it (no BuildKit needed)" "0" \
  "$(grep -ciE 'buildkit is (required|enabled)|requires buildkit|unknown flag: (mount|network)' "$WORK/build.log" || true)"
CCACHE_FIGURE="ccache: off (CCACHE_REMOTE=0)"
if [[ -n "${CCACHE_URL:-}" ]]; then
  read -r gets hits puts < <(fetch "$CCACHE_URL/.stats") || die "the ccache store does not answer"
  CCACHE_FIGURE="ccache remote: $hits of $gets lookups hit, $puts entries written"
  # ccache falls back to compiling quietly when its remote storage is unreachable.
  if ((gets > 0)); then pass "the compile step used the ccache store ($gets lookups)"; else fail "the compile step never asked the ccache store"; fi
fi
# The compile step's own output names how many objects ninja built.
COMPILED="$(grep -cE '^\[[0-9]+/[0-9]+\] Building CXX object' "$WORK/build.log" || true)"
echo "# build: ${BUILD_SECS}s ($COMPILED objects compiled; $CCACHE_FIGURE)"
step_end

# ---------------------------------------------------------------------------------------------
step "4. the image's configuration, --version and --help, no shell"
inspect() { docker_ image inspect -f "$1" "$IMAGE"; }
expect_eq "the image runs as $IMAGE_USER" "$IMAGE_USER" "$(inspect '{{.Config.User}}')"
expect_eq "ENTRYPOINT is exec form, the executable itself" "$ENTRYPOINT" "$(inspect '{{json .Config.Entrypoint}}')"
expect_eq "CMD is exec form: controller" '["controller"]' "$(inspect '{{json .Config.Cmd}}')"
expect_eq "no HEALTHCHECK (the chart's probes use /healthz and /readyz)" "<nil>" "$(inspect '{{.Config.Healthcheck}}')"
SIZE_BYTES="$(inspect '{{.Size}}')"
SIZE_MB=$((SIZE_BYTES / 1000000))
echo "# image $IMAGE: $SIZE_MB MB ($SIZE_BYTES bytes)"
# The control: the image has a shell, and the container flags above take it away.
expect_ok "control: with /usr/bin in place the image's /bin/sh runs" \
  docker_ run --rm "${RUN_FLAGS[@]}" --entrypoint /bin/sh "$IMAGE" -c 'exit 0'
expect_fail_with "control: with PATH empty and /usr/bin, /usr/sbin hidden, /bin/sh cannot run" "no such file or directory" \
  run_once --entrypoint /bin/sh "$IMAGE" -c 'exit 0'
want_version="$(sed -n 's/^project([a-z_]* VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
expect_ok "--version with no shell in reach (the unchanged entrypoint)" run_once "$IMAGE" --version
expect_eq "  ... prints the project's version" "$want_version" "$OUT"
expect_ok "--help" run_once "$IMAGE" --help
expect_contains "  ... lists the heartbeat subcommand" "heartbeat  " "$OUT"
expect_contains "  ... lists the controller subcommand" "controller  " "$OUT"
expect_ok "heartbeat --help" run_once "$IMAGE" heartbeat --help
expect_contains "  ... shows the etcd options" "--etcd-endpoints" "$OUT"
expect_fail_with "an unknown subcommand fails, pointing to --help" "Run with --help" run_once "$IMAGE" nonsense
step_end

# ---------------------------------------------------------------------------------------------
step "5. the standalone heartbeat on the sample manifests"
start_etcd image-test || die "etcd did not start"

# The identifiers of the Service-type sample manifests (what the heartbeat must find).
want_keys="$("$PY" - "$SAMPLES" <<'PY'
import glob, os, sys, yaml
ids = []
for f in glob.glob(os.path.join(sys.argv[1], "*.y*ml")):
    m = yaml.safe_load(open(f)).get("metadata", {})
    if m.get("dc_type") == "Service":
        ids.append(m["dc_identifier"])
print(" ".join(sorted(ids)))
PY
)"
[[ -n "$want_keys" ]] || die "no Service-type manifest in $SAMPLES"
first="${want_keys%% *}"
HB="hb-image-heartbeat-$$"
start_container "$HB" -v "$SAMPLES:/capabilities:ro" -- heartbeat --auto-discover --capabilities /capabilities \
  --etcd-endpoints "127.0.0.1:$ETCD_PORT" || die "the heartbeat container did not start"
poll_until 30 "a health key for each of the $(wc -w <<<"$want_keys") Service-type samples" \
  output_is_quiet "$want_keys" health_keys || { docker_ logs "$HB" >"$WORK/heartbeat.log" 2>&1; die "no health keys"; }
expect_eq "the keys say healthy, for their own identifier, read from the mounted manifest" \
  "healthy $first /capabilities/$first.yaml" \
  "$(health_field "$first" status) $(health_field "$first" namespace) $(health_field "$first" source)"
expect_eq "  ... and name no writer (the standalone heartbeat runs alone)" "" "$(health_field "$first" writer)"
expect_eq "the heartbeat runs as UID 65532 (real, effective, saved, file system)" "65532 65532 65532 65532" "$(container_uid "$HB")"
expect_eq "  ... with no capability (every set empty) and no_new_privs set" "$NO_CAPS" "$(container_caps "$HB")"
expect_eq "  ... still running" "running 0" "$(container_state "$HB")"
docker_ logs "$HB" >"$WORK/heartbeat.log" 2>&1 || true
expect_contains "its log names the manifests it found" "Found $(wc -w <<<"$want_keys") Service-type" "$(cat "$WORK/heartbeat.log")"
docker_ stop -t 20 "$HB" >/dev/null
expect_eq "docker stop ends it by SIGTERM, exit status 0" "exited 0" "$(container_state "$HB")"
poll_until 10 "its leases are revoked: the keys are gone" output_is_quiet "" health_keys
step_end

# ---------------------------------------------------------------------------------------------
step "6. the controller against the test Kubernetes API server"
TOKEN="image-test-$RANDOM$RANDOM"
"$PY" "$EMULATOR" --port 0 --port-file "$WORK/emulator.port" --kubeconfig "$WORK/kubeconfig" \
  --tls --cert-dir "$WORK/emulator-certs" --token "$TOKEN" --exit-with-parent >"$WORK/emulator.log" 2>&1 &
PIDS=("$!" "${PIDS[@]}")
poll_until 30 "the kube emulator listens (TLS, token)" test -s "$WORK/emulator.port" || die "the emulator did not start"
poll_until 10 "its kubeconfig is written" test -s "$WORK/kubeconfig" || die "no kubeconfig"
expect_ok "Capability CRD applied" k apply -f "$CRD" || die "no CRD"
poll_until 20 "Capability CRD established" k wait --for=condition=established --timeout=5s crd/capabilities.chora.dev \
  || die "no CRD"
# The container's user reads the kubeconfig through a read-only mount of a copy it may read.
mkdir -p "$WORK/mount" && cp "$WORK/kubeconfig" "$WORK/mount/kubeconfig" && chmod 0644 "$WORK/mount/kubeconfig"
METRICS_PORT="$(free_port)"; HEALTH_PORT="$(free_port)"
CTRL="hb-image-controller-$$"
start_container "$CTRL" -v "$WORK/mount/kubeconfig:/etc/heartbeat-operator/kubeconfig:ro" \
  -e POD_NAME=hb-image-0 -e POD_NAMESPACE=default -- \
  controller --kubeconfig /etc/heartbeat-operator/kubeconfig --etcd-endpoints "127.0.0.1:$ETCD_PORT" \
  --metrics-bind-address "127.0.0.1:$METRICS_PORT" --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" \
  --interval 1 --ttl 4 --status-sync-period 1 || die "the controller container did not start"
poll_until 30 "the controller's /readyz answers on 127.0.0.1:$HEALTH_PORT" http_ok "http://127.0.0.1:$HEALTH_PORT/readyz" \
  || { docker_ logs "$CTRL" >"$WORK/controller.log" 2>&1; die "the controller never got ready"; }
expect_ok "/healthz answers" http_ok "http://127.0.0.1:$HEALTH_PORT/healthz"
expect_ok "/metrics answers" fetch "http://127.0.0.1:$METRICS_PORT/metrics"
expect_contains "  ... with the operator's metrics" "heartbeat_operator_" "$OUT"
expect_ok "a Capability whose TCP check (etcd's port) passes, applied with kubectl" k apply -f - <<YAML
apiVersion: chora.dev/v1alpha1
kind: Capability
metadata:
  name: registry
  namespace: default
spec:
  identifier: chora.devex.registry
  type: Service
  heartbeat:
    intervalSeconds: 1
    ttlSeconds: 4
  health:
    tcp: {host: 127.0.0.1, port: $ETCD_PORT}
    periodSeconds: 1
    failureThreshold: 1
YAML
poll_until 30 "the Capability's health key is in etcd" output_is_quiet chora.devex.registry health_keys \
  || { docker_ logs "$CTRL" >"$WORK/controller.log" 2>&1; die "no health key"; }
poll_until 30 "the Capability's status is Healthy" output_is Healthy k get capability registry -o jsonpath='{.status.phase}' \
  || { docker_ logs "$CTRL" >"$WORK/controller.log" 2>&1; die "the Capability never got Healthy"; }
expect_eq "its key: healthy, TCP check, written by the controller's instance (POD_NAME)" "healthy tcp hb-image-0" \
  "$(health_field chora.devex.registry status) $(health_field chora.devex.registry check) $(health_field chora.devex.registry writer)"
expect_eq "the controller runs as UID 65532" "65532 65532 65532 65532" "$(container_uid "$CTRL")"
expect_eq "  ... with no capability (every set empty) and no_new_privs set" "$NO_CAPS" "$(container_caps "$CTRL")"
expect_ok "the Capability is deleted" k delete capability registry --wait=true --timeout=30s
poll_until 20 "its key is removed from etcd" output_is_quiet "" health_keys
docker_ logs "$CTRL" >"$WORK/controller.log" 2>&1 || true
docker_ stop -t 20 "$CTRL" >/dev/null
expect_eq "docker stop ends the controller by SIGTERM, exit status 0" "exited 0" "$(container_state "$CTRL")"
step_end

echo
echo "# figures: image $IMAGE $SIZE_MB MB; docker build ${BUILD_SECS}s ($COMPILED objects compiled; $CCACHE_FIGURE); whole suite $((SECONDS - T0))s"
echo "test-image: $PASSED passed, $FAILED failed"
if ((FAILED > 0)); then show_logs; exit 1; fi
