#!/usr/bin/env bash
# Runs heartbeat-operator's main job on an embedded default: builds the binary, starts a
# local etcd on 127.0.0.1 with a temporary data directory, and heartbeats the sample
# capabilities in examples/capabilities until Ctrl-C (then the leases are revoked and the
# keys removed, and etcd is stopped). RUN_SECONDS=N stops by itself after N seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja >/dev/null
ninja -C "$build" heartbeat-operator
bin=$build/controller/heartbeat-operator

data=$(mktemp -d "${TMPDIR:-/tmp}/heartbeat-etcd.XXXXXX")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
client_port=$(free_port)
peer_port=$(free_port)
endpoint=127.0.0.1:$client_port

cleanup() {
  [[ -n ${hb_pid:-} ]] && kill -TERM "$hb_pid" 2>/dev/null && wait "$hb_pid" 2>/dev/null
  [[ -n ${etcd_pid:-} ]] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

/usr/bin/etcd --name local --data-dir "$data/data" \
  --listen-client-urls "http://$endpoint" --advertise-client-urls "http://$endpoint" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "local=http://127.0.0.1:$peer_port" \
  --logger=zap --log-level=error >"$data/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do
  ETCDCTL_API=3 etcdctl --endpoints "$endpoint" endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
echo "etcd running at $endpoint (data in $data)"
echo "In another terminal:  $bin status --watch --etcd-endpoints $endpoint"
echo

"$bin" heartbeat --auto-discover --capabilities "$root/examples/capabilities" \
  --etcd-endpoints "$endpoint" &
hb_pid=$!
sleep 2
echo
"$bin" status --etcd-endpoints "$endpoint"
echo
if [[ -n ${RUN_SECONDS:-} ]]; then
  sleep "$RUN_SECONDS"
  kill -TERM "$hb_pid"
fi
wait "$hb_pid"
hb_pid=
