#!/usr/bin/env bash
# Runs heartbeat-operator's main job on an embedded default, on 127.0.0.1 only:
#   - builds the binary,
#   - starts a local etcd (temporary data directory) and the test Kubernetes API server
#     (hack/kube-emulator), applies the Capability CRD and the samples in
#     examples/kubernetes (Capability resources and a capability ConfigMap),
#   - runs `heartbeat-operator controller` and shows `kubectl get capabilities`,
# until Ctrl-C (then everything is stopped and removed). RUN_SECONDS=N stops by itself.
#
#   hack/run-local.sh               the controller (the product's main job)
#   hack/run-local.sh --standalone  the standalone heartbeat command on examples/capabilities
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
mode=${1:-controller}
cmake -S "$root" -B "$build" -G Ninja >/dev/null
ninja -C "$build" heartbeat-operator
bin=$build/controller/heartbeat-operator

work=$(mktemp -d "${TMPDIR:-/tmp}/heartbeat-local.XXXXXX")
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

client_port=$(free_port)
peer_port=$(free_port)
endpoint=127.0.0.1:$client_port
/usr/bin/etcd --name local --data-dir "$work/etcd" \
  --listen-client-urls "http://$endpoint" --advertise-client-urls "http://$endpoint" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "local=http://127.0.0.1:$peer_port" \
  --logger=zap --log-level=error >"$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  ETCDCTL_API=3 etcdctl --endpoints "$endpoint" endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
echo "etcd running at $endpoint"

if [[ $mode == --standalone ]]; then
  echo "In another terminal:  $bin status --watch --etcd-endpoints $endpoint"
  "$bin" heartbeat --auto-discover --capabilities "$root/examples/capabilities" \
    --etcd-endpoints "$endpoint" &
  pids+=($!)
  sleep 2
  "$bin" status --etcd-endpoints "$endpoint"
else
  /usr/bin/python3 "$root/hack/kube-emulator/kube-emulator" --port 0 \
    --port-file "$work/api-port" --kubeconfig "$work/kubeconfig" >"$work/api.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [[ -s $work/api-port ]] && break; sleep 0.05; done
  kubectl=(/usr/bin/kubectl --kubeconfig "$work/kubeconfig" --cache-dir "$work/kubectl-cache")
  echo "Kubernetes API (test server) at http://127.0.0.1:$(cat "$work/api-port")"
  "${kubectl[@]}" apply -f "$root/crds/" >/dev/null
  "${kubectl[@]}" wait --for=condition=established crd/capabilities.chora.dev >/dev/null
  "${kubectl[@]}" apply -f "$root/examples/kubernetes/"
  echo "In another terminal:  kubectl --kubeconfig $work/kubeconfig get capabilities -o wide"
  echo "                      $bin status --watch --etcd-endpoints $endpoint"
  echo
  "$bin" controller --kubeconfig "$work/kubeconfig" --etcd-endpoints "$endpoint" \
    --metrics-bind-address 0 --health-probe-bind-address 0 &
  pids+=($!)
  "${kubectl[@]}" wait --for=condition=Ready --timeout=30s capability/registry >/dev/null || true
  sleep 1
  echo
  "${kubectl[@]}" get capabilities -o wide
  echo
  "$bin" status --etcd-endpoints "$endpoint"
fi
echo
if [[ -n ${RUN_SECONDS:-} ]]; then
  sleep "$RUN_SECONDS"
  exit 0
fi
wait "${pids[-1]}"
