#!/usr/bin/env bash
# Drives the real kubectl against the kube emulator.
#   kubectl-e2e.sh          plain HTTP, the full walk-through
#   kubectl-e2e.sh --tls    HTTPS with a bearer token, the basics
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

MODE="${1:-plain}"
TOKEN="e2e-$RANDOM$RANDOM"
if [[ "$MODE" == "--tls" ]]; then
  start_emulator --tls --token "$TOKEN" || exit 1
else
  start_emulator || exit 1
fi
echo "# kubectl e2e ($MODE) against 127.0.0.1:$PORT"

# --- basics (both modes) ----------------------------------------------------------------
expect_ok "kubectl version reaches the server" k version
expect_contains "server version is v1.32.0" "Server Version: v1.32.0" "$OUT"

expect_ok "apply the widgets CRD" k apply -f "$DATA/widgets-crd.yaml"
expect_contains "CRD created" "customresourcedefinition.apiextensions.k8s.io/widgets.example.dev created" "$OUT"
expect_ok "wait for the CRD to be established" \
  k wait --for=condition=established crd/widgets.example.dev --timeout=20s
expect_contains "CRD condition met" "condition met" "$OUT"

expect_ok "apply a widget" k apply -f "$DATA/widget-a.yaml"
expect_eq "widget created" "widget.example.dev/widget-a created" "$OUT"
expect_ok "apply it unchanged" k apply -f "$DATA/widget-a.yaml"
expect_eq "unchanged apply" "widget.example.dev/widget-a unchanged" "$OUT"
sed 's/size: 3/size: 5/' "$DATA/widget-a.yaml" >"$WORK/widget-a-5.yaml"
expect_ok "apply it changed" k apply -f "$WORK/widget-a-5.yaml"
expect_eq "changed apply" "widget.example.dev/widget-a configured" "$OUT"
expect_eq "spec and generation after the change" "5 2 blue" \
  "$(k get widget widget-a -o jsonpath='{.spec.size} {.metadata.generation} {.status.phase}blue')"

expect_ok "get widgets" k get widgets
expect_eq "printer-column headers" "NAME SIZE COLOR PHASE READY AGE" "$(head -1 <<<"$OUT" | squeeze)"
row="$(sed -n 2p <<<"$OUT" | squeeze)"
if [[ "$row" =~ ^widget-a\ 5\ red\ [0-9]+s$ ]]; then pass "printer-column values"; else fail "printer-column values: [$row]"; fi

expect_ok "patch the status subresource" \
  k patch widget widget-a --subresource=status --type=merge \
  -p '{"status":{"phase":"Healthy","conditions":[{"type":"Ready","status":"True","reason":"Up"}]}}'
expect_eq "status patch answer" "widget.example.dev/widget-a patched" "$OUT"
expect_ok "wait for condition Ready" k wait --for=condition=Ready widget/widget-a --timeout=20s
expect_ok "wait for a jsonpath value" k wait --for=jsonpath='{.status.phase}'=Healthy widget/widget-a --timeout=20s
expect_eq "generation unchanged by status writes" "2" "$(k get widget widget-a -o jsonpath='{.metadata.generation}')"

expect_ok "create a configmap (protobuf body)" k create configmap cfg --from-literal=a=1
expect_eq "configmap data" "1" "$(k get configmap cfg -o jsonpath='{.data.a}')"
if [[ "$MODE" == "--tls" ]]; then
  expect_fail "a wrong token is refused" k --token=wrong get widgets
  expect_contains "401 reported as Unauthorized" "Unauthorized" "$OUT"
  expect_eq "kubeconfig carries a CA" "1" \
    "$(grep -c 'certificate-authority-data' "$WORK/kubeconfig")"
fi
expect_ok "delete the widget" k delete widget widget-a --timeout=20s
expect_fail "it is gone" k get widget widget-a
expect_contains "NotFound message" 'widgets.example.dev "widget-a" not found' "$OUT"

if [[ "$MODE" == "--tls" ]]; then
  finish
  exit
fi

# --- full walk-through (plain mode) ----------------------------------------------------
expect_ok "re-create the widget" k apply -f "$DATA/widget-a.yaml"

# get -w sees a status change
k get widgets -w >"$WORK/watch.out" 2>&1 &
BG_PIDS+=($!)
watch_pid=$!
poll_until 20 "the get -w watch to open" watch_registered widgets || fail "get -w never opened its watch"
k patch widget widget-a --subresource=status --type=merge -p '{"status":{"phase":"Degraded"}}' >/dev/null
if poll_until 20 "get -w to print the change" grep -q Degraded "$WORK/watch.out"; then
  pass "get -w shows the status change"
else
  fail "get -w shows the status change: $(cat "$WORK/watch.out")"
fi
expect_eq "get -w printed the header once" "1" "$(grep -c '^NAME' "$WORK/watch.out")"
kill "$watch_pid" 2>/dev/null

# kubectl wait blocked on a watch, released by a later write
k wait --for=condition=Ready widget/widget-a --timeout=30s >"$WORK/wait.out" 2>&1 &
wait_pid=$!
BG_PIDS+=($wait_pid)
poll_until 20 "kubectl wait to watch" watch_registered widgets || fail "kubectl wait never watched"
k patch widget widget-a --subresource=status --type=merge \
  -p '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
if wait "$wait_pid"; then pass "kubectl wait released by a watch event"; else fail "kubectl wait: $(cat "$WORK/wait.out")"; fi

expect_ok "get -o wide" k get widgets -o wide
expect_eq "wide headers" "NAME SIZE COLOR PHASE READY OWNER AGE" "$(head -1 <<<"$OUT" | squeeze)"
row="$(sed -n 2p <<<"$OUT" | squeeze)"
if [[ "$row" =~ ^widget-a\ 3\ red\ Degraded\ True\ team-a\ [0-9]+s$ ]]; then pass "wide values"; else fail "wide values: [$row]"; fi
expect_ok "--show-labels" k get widgets --show-labels
expect_contains "labels column" "app=demo,tier=gold" "$OUT"

# finalizers
expect_ok "add a finalizer" k patch widget widget-a --type=merge -p '{"metadata":{"finalizers":["example.dev/hold"]}}'
expect_ok "delete with a finalizer pending" k delete widget widget-a --wait=false
expect_contains "delete answer" 'widget.example.dev "widget-a" deleted' "$OUT"
ts="$(k get widget widget-a -o jsonpath='{.metadata.deletionTimestamp}')"
if [[ "$ts" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]]; then pass "object kept with a deletionTimestamp"; else fail "deletionTimestamp: [$ts]"; fi
expect_ok "release the finalizer" k patch widget widget-a --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
expect_ok "wait for deletion" k wait --for=delete widget/widget-a --timeout=20s
expect_fail "the widget is gone" k get widget widget-a

# invalid objects and the server's messages
sed 's/size: 3/size: 50/; s/color: red/color: pink/' "$DATA/widget-a.yaml" >"$WORK/bad.yaml"
expect_fail "an invalid widget is rejected" k apply -f "$WORK/bad.yaml"
expect_contains "maximum message" "spec.size: Invalid value: 50: spec.size in body should be less than or equal to 10" "$OUT"
expect_contains "enum message" 'spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"' "$OUT"
sed 's/size: 3/size: 3\n  foo: bar/' "$DATA/widget-a.yaml" >"$WORK/unknown.yaml"
expect_fail "an unknown field is rejected (strict validation)" k apply -f "$WORK/unknown.yaml"
expect_contains "strict decoding message" 'strict decoding error: unknown field "spec.foo"' "$OUT"
expect_fail "an invalid name is rejected" k create configmap Bad_Name
expect_contains "name message" 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' "$OUT"

# configmap edit paths
cat >"$WORK/cfg.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  a: "2"
  b: "3"
YAML
expect_ok "apply over a created configmap" k apply -f "$WORK/cfg.yaml"
expect_contains "configured" "configmap/cfg configured" "$OUT"
expect_eq "data after apply" '2 3' "$(k get cm cfg -o jsonpath='{.data.a} {.data.b}')"
sed -i '/b: "3"/d' "$WORK/cfg.yaml"
expect_ok "apply removing a key" k apply -f "$WORK/cfg.yaml"
expect_eq "key removed by the three-way merge" '{"a":"2"}' "$(k get cm cfg -o jsonpath='{.data}')"
expect_ok "kubectl patch (strategic)" k patch cm cfg -p '{"data":{"c":"4"}}'
expect_eq "data after patch" '{"a":"2","c":"4"}' "$(k get cm cfg -o jsonpath='{.data}')"
expect_ok "kubectl label" k label cm cfg env=e2e
expect_eq "label selector" "configmap/cfg" "$(k get cm -l env=e2e -o name)"
expect_eq "label selector, no match" "" "$(k get cm -l env=other -o name)"

# server-side apply
cat >"$WORK/ssa.yaml" <<'YAML'
apiVersion: example.dev/v1
kind: Widget
metadata:
  name: widget-ssa
  labels: {tier: silver}
spec:
  size: 2
  owner: ssa
YAML
expect_ok "apply --server-side creates" k apply --server-side -f "$WORK/ssa.yaml"
expect_eq "serverside-applied" "widget.example.dev/widget-ssa serverside-applied" "$OUT"
sed -i 's/size: 2/size: 4/; /owner: ssa/d' "$WORK/ssa.yaml"
expect_ok "apply --server-side updates" k apply --server-side -f "$WORK/ssa.yaml"
expect_eq "applied spec (owner dropped, defaults kept)" '{"color":"blue","size":4,"ttlSeconds":30}' \
  "$(k get widget widget-ssa -o jsonpath='{.spec}')"

# namespaces, -A, -l, jsonpath
expect_ok "create a namespace" k create namespace e2e-other
expect_ok "apply a widget there" k apply -n e2e-other -f "$DATA/widget-a.yaml"
expect_ok "get -A" k get widgets -A
expect_eq "-A header" "NAMESPACE NAME SIZE COLOR PHASE READY AGE" "$(head -1 <<<"$OUT" | squeeze)"
expect_contains "-A lists the other namespace" "e2e-other widget-a 3 red" "$(squeeze <<<"$OUT")"
expect_contains "-A lists the default namespace" "default widget-ssa 4 blue" "$(squeeze <<<"$OUT")"
expect_eq "-l selects by label" "widget.example.dev/widget-ssa" "$(k get widgets -l tier=silver -o name)"
expect_eq "-l with set syntax" "widget.example.dev/widget-a" \
  "$(k get widgets -A -l 'tier in (gold,bronze)' -o name)"
expect_eq "-o jsonpath over a list" "widget-a widget-ssa" \
  "$(k get widgets -A -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort | xargs)"
expect_eq "short name" "widget.example.dev/widget-ssa" "$(k get wd widget-ssa -o name)"
expect_ok "get a built-in table" k get namespaces
expect_contains "namespace table" "e2e-other Active" "$(squeeze <<<"$OUT")"
expect_ok "delete the namespace" k delete namespace e2e-other --timeout=20s
expect_eq "its widgets went with it" "widget.example.dev/widget-ssa" "$(k get widgets -A -o name)"

# endpointslices (discovery.k8s.io/v1, a built-in kind with atomic lists)
SLICE="$DATA/endpointslice-web.yaml"
expect_ok "api-resources lists endpointslices" k api-resources --api-group=discovery.k8s.io
expect_contains "endpointslices row" "endpointslices discovery.k8s.io/v1 true EndpointSlice" "$(squeeze <<<"$OUT")"
expect_ok "apply an endpointslice" k apply -f "$SLICE"
expect_eq "endpointslice created" "endpointslice.discovery.k8s.io/web-abc12 created" "$OUT"
expect_ok "apply it unchanged" k apply -f "$SLICE"
expect_eq "unchanged endpointslice apply" "endpointslice.discovery.k8s.io/web-abc12 unchanged" "$OUT"
sed 's/web-abc12/api-xyz89/; s/service-name: web/service-name: api/' "$SLICE" >"$WORK/slice-api.yaml"
expect_ok "apply a slice of another service" k apply -f "$WORK/slice-api.yaml"
expect_ok "get endpointslices" k get endpointslices
expect_eq "endpointslice headers" "NAME ADDRESSTYPE PORTS ENDPOINTS AGE" "$(head -1 <<<"$OUT" | squeeze)"
row="$(grep '^web-abc12 ' <<<"$OUT" | squeeze)"
if [[ "$row" =~ ^web-abc12\ IPv4\ 8080\ 10\.0\.0\.1,10\.0\.0\.2\ [0-9]+s$ ]]; then pass "endpointslice row"; else fail "endpointslice row: [$row]"; fi
expect_ok "get endpointslices -l service-name -o json" \
  k get endpointslices -l kubernetes.io/service-name=web -o json
expect_eq "-l selects the service's slices" "web-abc12 IPv4 10.0.0.1:True 10.0.0.2:False 8080/TCP" \
  "$(/usr/bin/python3 -c 'import json,sys
for s in json.load(sys.stdin)["items"]:
    print(s["metadata"]["name"], s["addressType"],
          *[e["addresses"][0] + ":" + str(e["conditions"].get("ready")) for e in s["endpoints"]],
          *["%s/%s" % (p["port"], p["protocol"]) for p in s["ports"]])' <<<"$OUT")"

k get endpointslices -l kubernetes.io/service-name=web -w --output-watch-events >"$WORK/eps-watch.out" 2>&1 &
eps_watch_pid=$!
BG_PIDS+=($eps_watch_pid)
poll_until 20 "the endpointslice watch to open" watch_registered endpointslices || fail "get -w never watched endpointslices"
k patch endpointslice api-xyz89 --type=merge -p '{"metadata":{"labels":{"touched":"yes"}}}' >/dev/null
expect_ok "kubectl patch an endpoint's readiness (strategic)" k patch endpointslice web-abc12 \
  -p '{"endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true}},{"addresses":["10.0.0.2"],"conditions":{"ready":true}}]}'
expect_eq "patch answer" "endpointslice.discovery.k8s.io/web-abc12 patched" "$OUT"
expect_eq "readiness and generation after the patch" "true true 2" \
  "$(k get endpointslice web-abc12 -o jsonpath='{.endpoints[*].conditions.ready} {.metadata.generation}')"
if poll_until 20 "get -w to print the change" grep -q '^MODIFIED *web-abc12' "$WORK/eps-watch.out"; then
  pass "get -w -l shows the endpointslice change"
else
  fail "get -w -l shows the endpointslice change: $(cat "$WORK/eps-watch.out")"
fi
expect_not_contains "get -w -l leaves out other services" "api-xyz89" "$(cat "$WORK/eps-watch.out")"
kill "$eps_watch_pid" 2>/dev/null

sed 's/name: http$/name: https/; s/port: 8080/port: 8443/' "$SLICE" >"$WORK/slice-https.yaml"
expect_ok "apply with the port changed" k apply -f "$WORK/slice-https.yaml"
expect_eq "ports replaced as a whole (listType=atomic)" '[{"name":"https","port":8443,"protocol":"TCP"}]' \
  "$(k get endpointslice web-abc12 -o jsonpath='{.ports}')"
sed 's/10.0.0.2/127.0.0.1/' "$SLICE" >"$WORK/slice-loopback.yaml"
expect_fail "a loopback endpoint address is rejected" k apply -f "$WORK/slice-loopback.yaml"
expect_contains "loopback message" \
  'endpoints[1].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range' "$OUT"
sed 's/addressType: IPv4/addressType: IPX/' "$SLICE" >"$WORK/slice-type.yaml"
expect_fail "an unknown addressType is rejected" k apply -f "$WORK/slice-type.yaml"
expect_contains "addressType message" \
  'addressType: Unsupported value: "IPX": supported values: "FQDN", "IPv4", "IPv6"' "$OUT"
expect_ok "delete an endpointslice" k delete endpointslice web-abc12
expect_eq "delete answer" 'endpointslice.discovery.k8s.io "web-abc12" deleted' "$OUT"
expect_fail "it is gone" k get endpointslice web-abc12
expect_ok "delete by file" k delete -f "$WORK/slice-api.yaml"
expect_eq "no endpointslices left" "" "$(k get endpointslices -o name)"

# the request log tells which calls kubectl made
log="$(cat "$WORK/requests.log")"
expect_contains "log records watches" '"verb":"watch","apiGroup":"example.dev","apiVersion":"v1","resource":"widgets"' "$log"
expect_contains "log records status patches" '"verb":"patch","apiGroup":"example.dev","apiVersion":"v1","resource":"widgets","subresource":"status"' "$log"
expect_contains "log records endpointslice watches with a label selector" \
  '"verb":"watch","apiGroup":"discovery.k8s.io","apiVersion":"v1","resource":"endpointslices"' "$log"

expect_ok "delete the CRD" k delete -f "$DATA/widgets-crd.yaml" --timeout=20s
expect_fail "its resource type is gone" k get widgets
finish
