#!/usr/bin/env bash
# Tests the Helm chart (charts/heartbeat-operator) and the Dockerfile:
#   1. helm lint --strict and helm template with the default values, with every option on
#      (values-full.yaml) and with health checks off (their flags, the EndpointSlice rule);
#      values.schema.json and the chart's own checks reject bad values;
#      the chart's CRD is crds/capabilities.chora.dev.yaml (a symlink; helm package carries it).
#   2. helm install against the kube emulator (the packaged chart; then every option, with
#      ServiceMonitor and PrometheusRule CRDs): every rendered object exists, the Deployment is
#      as specified; helm uninstall removes them all. (hack/prometheus/test-prometheus.sh tests
#      the rules and the dashboard themselves.)
#   3. The RBAC against reality: the real executable runs with the arguments the chart renders
#      (etcd, timing and listen addresses replaced; every one must be a flag it knows) against a
#      real etcd and an emulator, is driven through a Capability's and a capability ConfigMap's
#      life cycle, and every API request it made must be allowed by the rendered RBAC
#      (check-rbac.py). Twice: cluster-wide (default values), and with one watched namespace
#      and a named ConfigMap (Roles, resourceNames).
#   4. check-dockerfile.sh, and that it rejects broken Dockerfiles.
#
#   hack/chart/test-chart.sh [BUILD_DIR]      (default <repo>/build; helm goes to BUILD_DIR/tools)
# Needs BUILD_DIR/controller/heartbeat-operator, /usr/bin/etcd, /usr/bin/kubectl, python3-yaml.
# Everything listens on 127.0.0.1; state lives in a temporary directory removed at exit.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../lib/checks.sh
source "$ROOT/hack/lib/checks.sh"
BUILD_DIR="${1:-$ROOT/build}"
mkdir -p "$BUILD_DIR"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
CHART="$ROOT/charts/heartbeat-operator"
CRD="$ROOT/crds/capabilities.chora.dev.yaml"
DATA="$HERE/testdata"
BINARY="$BUILD_DIR/controller/heartbeat-operator"
EMULATOR="$ROOT/hack/kube-emulator/kube-emulator"
KUBECTL="${KUBECTL:-/usr/bin/kubectl}"
ETCD="${ETCD:-/usr/bin/etcd}"
ETCDCTL="${ETCDCTL:-/usr/bin/etcdctl}"
PY=/usr/bin/python3
RELEASE=hb

WORK="$(mktemp -d "${TMPDIR:-/tmp}/test-chart.XXXXXX")"
export HOME="$WORK/home" KUBECACHEDIR="$WORK/kube-cache"
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
export PYTHONDONTWRITEBYTECODE=1
unset KUBECONFIG HELM_KUBECONTEXT HELM_NAMESPACE
mkdir -p "$HOME"

PASSED=0
FAILED=0
PIDS=()      # background processes to stop at exit, in order
KUBECONFIG_FILE=""

trap cleanup_suite EXIT
trap 'exit 143' TERM INT

pass() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1" >&2; return 1; }
expect_ok() {
  local what="$1"; shift
  if OUT="$("$@" 2>&1)"; then pass "$what"; else fail "$what: command failed: $* -> ${OUT:0:3000}"; fi
}
expect_fail() {
  local what="$1"; shift
  if OUT="$("$@" 2>&1)"; then fail "$what: command unexpectedly succeeded: $*"; else pass "$what"; fi
}

helm_() { timeout 120 "$HELM" "$@" 2> >(grep -v 'found symbolic link in path' >&2); }
h() { helm_ --kubeconfig "$KUBECONFIG_FILE" "$@"; }
k() { timeout 60 "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" --cache-dir "$KUBECACHEDIR" "$@"; }
http_code() { "$PY" - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print(0)
PY
}

# start_emulator NAME: a fresh emulator with its own kubeconfig and request log; sets
# KUBECONFIG_FILE and EMU_LOG.
start_emulator() {
  local dir="$WORK/$1"
  mkdir -p "$dir"
  "$PY" "$EMULATOR" --port 0 --port-file "$dir/port" --kubeconfig "$dir/kubeconfig" \
    --log-file "$dir/requests.log" --exit-with-parent >"$dir/emulator.out" 2>&1 &
  PIDS+=($!)
  KUBECONFIG_FILE="$dir/kubeconfig"
  EMU_LOG="$dir/requests.log"
  local deadline=$((SECONDS + 15))
  until [[ -s "$dir/port" && -s "$dir/kubeconfig" ]]; do
    if ((SECONDS >= deadline)); then fail "emulator $1 did not start: $(cat "$dir/emulator.out")"; return 1; fi
    sleep 0.1
  done
}

# yq_ FILE EXPR: evaluates a Python expression over the YAML documents of FILE (docs, by_kind).
yq_() { "$PY" - "$@" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if isinstance(d, dict)]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
def deployment():
    return by_kind["Deployment"][0]
def container():
    return deployment()["spec"]["template"]["spec"]["containers"][0]
value = eval(sys.argv[2])
if isinstance(value, (list, tuple)):
    print("\n".join(str(v) for v in value))
else:
    print(value)
PY
}

step_start() { STEP_NAME="$1"; STEP_T0=$SECONDS; echo "=== $1"; }
step_end() { echo "=== $STEP_NAME: $((SECONDS - STEP_T0))s"; }

for tool in "$KUBECTL" "$ETCD" "$ETCDCTL" "$PY"; do
  [[ -x "$tool" ]] || { echo "test-chart: $tool is required" >&2; exit 1; }
done
[[ -x "$BINARY" ]] || { echo "test-chart: $BINARY is missing: ninja -C $BUILD_DIR heartbeat-operator" >&2; exit 1; }
# A copy: a rebuild during the test must not swap the executable under it.
mkdir -p "$WORK/bin" && cp "$BINARY" "$WORK/bin/heartbeat-operator" && BINARY="$WORK/bin/heartbeat-operator"
"$ROOT/hack/install-helm.sh" "$BUILD_DIR/tools" >/dev/null || { echo "test-chart: helm could not be installed" >&2; exit 1; }
HELM="$BUILD_DIR/tools/helm"
echo "# chart tests with $("$HELM" version --short), $("$KUBECTL" version --client 2>/dev/null | head -n 1), $("$BINARY" --version)"

# ---------------------------------------------------------------------------------------------
step_start "1. lint, template, schema, CRD source"
expect_ok "helm lint --strict (default values)" helm_ lint --strict "$CHART"
expect_contains "lint: no failure" "1 chart(s) linted, 0 chart(s) failed" "$OUT"
expect_ok "helm lint --strict (TLS, auth, ServiceMonitor, PrometheusRule, dashboard, watched namespaces)" \
  helm_ lint --strict "$CHART" -f "$DATA/values-full.yaml"
expect_contains "lint: no failure" "1 chart(s) linted, 0 chart(s) failed" "$OUT"

helm_ template "$RELEASE" "$CHART" --namespace default >"$WORK/default.yaml" 2>"$WORK/template.err" \
  && pass "helm template (default values)" || fail "helm template (default values): $(cat "$WORK/template.err")"
expect_eq "default: kinds rendered" "ClusterRole ClusterRoleBinding Deployment Role RoleBinding Service ServiceAccount" \
  "$(yq_ "$WORK/default.yaml" 'sorted(by_kind)' | xargs)"
expect_eq "default: 2 replicas, leader election, etcd endpoints" "2 True True" \
  "$(yq_ "$WORK/default.yaml" '[deployment()["spec"]["replicas"], "--leader-elect" in container()["args"], "--etcd-endpoints=http://etcd:2379" in container()["args"]]' | xargs)"
expect_eq "default: the Lease Role is in the release namespace and names the Lease" \
  "default hb-heartbeat-operator --leader-election-id=hb-heartbeat-operator" \
  "$(yq_ "$WORK/default.yaml" '[by_kind["Role"][0]["metadata"]["namespace"], by_kind["Role"][0]["rules"][1]["resourceNames"][0], [a for a in container()["args"] if a.startswith("--leader-election-id")][0]]' | xargs)"
expect_eq "default: no ServiceMonitor, no etcd Secret volumes" "False 1" \
  "$(yq_ "$WORK/default.yaml" '["ServiceMonitor" in by_kind, len(deployment()["spec"]["template"]["spec"]["volumes"])]' | xargs)"
expect_eq "default: health checks on, --check-concurrency from checks.maxConcurrent" \
  "--check-concurrency=256 health-checks-off=False" \
  "$(yq_ "$WORK/default.yaml" '[a for a in container()["args"] if a.startswith("--check-concurrency")] + ["health-checks-off=%s" % ("--health-checks=false" in container()["args"])]' | xargs)"
expect_eq "default: the ClusterRole reads EndpointSlices (serviceRef checks), read-only" \
  "discovery.k8s.io:endpointslices:get,list,watch" \
  "$(yq_ "$WORK/default.yaml" '[",".join(r["apiGroups"]) + ":" + ",".join(r["resources"]) + ":" + ",".join(r["verbs"]) for r in by_kind["ClusterRole"][0]["rules"] if "discovery.k8s.io" in r["apiGroups"] or "endpointslices" in r["resources"]]' | xargs)"
expect_ok "helm template --include-crds carries the Capability CRD" helm_ template "$RELEASE" "$CHART" --include-crds
expect_contains "CRD rendered" "name: capabilities.chora.dev" "$OUT"

helm_ template "$RELEASE" "$CHART" --namespace ops -f "$DATA/values-full.yaml" >"$WORK/full.yaml" 2>"$WORK/template.err" \
  && pass "helm template (every option)" || fail "helm template (every option): $(cat "$WORK/template.err")"
expect_eq "full: kinds rendered (Roles per namespace instead of a ClusterRole)" \
  "ConfigMap Deployment PrometheusRule Role RoleBinding Service ServiceAccount ServiceMonitor" "$(yq_ "$WORK/full.yaml" 'sorted(by_kind)' | xargs)"
expect_eq "full: the PrometheusRule (labels for the Prometheus selector and on every alert) and the dashboard ConfigMap" \
  "prometheus platform hb-heartbeat-operator-dashboard:1:Operators:heartbeat-operator.json" \
  "$(yq_ "$WORK/full.yaml" '[by_kind["PrometheusRule"][0]["metadata"]["labels"]["release"], ",".join(sorted({r["labels"]["team"] for g in by_kind["PrometheusRule"][0]["spec"]["groups"] for r in g["rules"]})), ":".join([c["metadata"]["name"], c["metadata"]["labels"]["grafana_dashboard"], c["metadata"]["annotations"]["grafana_folder"], ",".join(c["data"])]) if (c := by_kind["ConfigMap"][0]) else 0]' | xargs)"
expect_eq "full: a Role and RoleBinding per watched or ConfigMap namespace, and the Lease Role" \
  "ops/hb-heartbeat-operator-leader-election shared/hb-heartbeat-operator team-a/hb-heartbeat-operator team-b/hb-heartbeat-operator" \
  "$(yq_ "$WORK/full.yaml" 'sorted(r["metadata"]["namespace"] + "/" + r["metadata"]["name"] for r in by_kind["Role"])' | xargs)"
expect_eq "full: named ConfigMaps outside the watched namespaces are readable by name only" \
  "fleet-caps more-caps" \
  "$(yq_ "$WORK/full.yaml" '[n for r in by_kind["Role"] if r["metadata"]["namespace"] == "shared" for rule in r["rules"] if rule["resources"] == ["configmaps"] for n in rule["resourceNames"]]' | xargs)"
expect_eq "full: etcd TLS and password file arguments" \
  "--etcd-cacert=/etc/heartbeat-operator/etcd-tls/ca.crt --etcd-cert=/etc/heartbeat-operator/etcd-tls/tls.crt --etcd-key=/etc/heartbeat-operator/etcd-tls/tls.key --etcd-password-file=/etc/heartbeat-operator/etcd-auth/password" \
  "$(yq_ "$WORK/full.yaml" '[a for a in container()["args"] if a.startswith(("--etcd-ca", "--etcd-cert", "--etcd-key", "--etcd-pass"))]' | xargs)"
expect_eq "full: Secrets mounted read-only with the configured keys" \
  "etcd-tls:/etc/heartbeat-operator/etcd-tls:True:ca.crt,tls.crt,tls.key etcd-auth:/etc/heartbeat-operator/etcd-auth:True:pass" \
  "$(yq_ "$WORK/full.yaml" '[m["name"] + ":" + m["mountPath"] + ":" + str(m.get("readOnly")) + ":" + ",".join(i["key"] for v in deployment()["spec"]["template"]["spec"]["volumes"] if v["name"] == m["name"] for i in v["secret"]["items"]) for m in container()["volumeMounts"] if m["name"].startswith("etcd")]' | xargs)"
expect_eq "full: the username comes from the Secret; no password in the environment" \
  "ETCD_USERNAME=etcd-auth/user password-env=0" \
  "$(yq_ "$WORK/full.yaml" '["ETCD_USERNAME=" + [e["valueFrom"]["secretKeyRef"]["name"] + "/" + e["valueFrom"]["secretKeyRef"]["key"] for e in container()["env"] if e["name"] == "ETCD_USERNAME"][0], "password-env=%d" % sum(1 for e in container()["env"] if "PASSWORD" in e["name"].upper())]' | xargs)"
expect_eq "full: --check-concurrency=64; every capability Role reads EndpointSlices, the Lease Role does not" \
  "--check-concurrency=64 shared team-a team-b" \
  "$(yq_ "$WORK/full.yaml" '[a for a in container()["args"] if a.startswith("--check-concurrency")] + sorted(r["metadata"]["namespace"] for r in by_kind["Role"] for rule in r["rules"] if rule["resources"] == ["endpointslices"] and rule["apiGroups"] == ["discovery.k8s.io"] and sorted(rule["verbs"]) == ["get", "list", "watch"])' | xargs)"
expect_eq "full: extraVolumes and extraVolumeMounts: the probe Secret is mounted read-only" \
  "probe-tls:/etc/heartbeat-operator/checks/probe-tls:True:probe-client-tls" \
  "$(yq_ "$WORK/full.yaml" '[m["name"] + ":" + m["mountPath"] + ":" + str(m.get("readOnly")) + ":" + [v["secret"]["secretName"] for v in deployment()["spec"]["template"]["spec"]["volumes"] if v["name"] == m["name"]][0] for m in container()["volumeMounts"] if m["name"] == "probe-tls"]' | xargs)"
expect_eq "full: ServiceMonitor scrapes the metrics port of the metrics Service" \
  "metrics /metrics 15s prometheus True" \
  "$(yq_ "$WORK/full.yaml" '[by_kind["ServiceMonitor"][0]["spec"]["endpoints"][0]["port"], by_kind["ServiceMonitor"][0]["spec"]["endpoints"][0]["path"], by_kind["ServiceMonitor"][0]["spec"]["endpoints"][0]["interval"], by_kind["ServiceMonitor"][0]["metadata"]["labels"]["release"], all(by_kind["Service"][0]["metadata"]["labels"].get(k) == v for k, v in by_kind["ServiceMonitor"][0]["spec"]["selector"]["matchLabels"].items())]' | xargs)"

helm_ template "$RELEASE" "$CHART" --namespace default --set configMapSelector= \
  --set 'configMaps={default/fleet,other/caps}' >"$WORK/named.yaml" 2>"$WORK/template.err" \
  && pass "helm template (cluster-wide, named ConfigMaps only)" || fail "helm template (named ConfigMaps): $(cat "$WORK/template.err")"
expect_eq "named ConfigMaps only: the ClusterRole reads no ConfigMap; Roles name each one" \
  "cluster-configmaps=0 default:fleet other:caps" \
  "$(yq_ "$WORK/named.yaml" '["cluster-configmaps=%d" % sum(1 for r in by_kind["ClusterRole"][0]["rules"] if "configmaps" in r["resources"])] + sorted(r["metadata"]["namespace"] + ":" + ",".join(rule["resourceNames"]) for r in by_kind["Role"] for rule in r["rules"] if rule["resources"] == ["configmaps"])' | xargs)"
expect_eq "named ConfigMaps only: an empty selector is passed as its own (empty) argument" "['--configmap-selector', '']" \
  "$(yq_ "$WORK/named.yaml" 'str([a for i, a in enumerate(container()["args"]) if a == "--configmap-selector" or (i and container()["args"][i - 1] == "--configmap-selector")])')"

helm_ template "$RELEASE" "$CHART" --namespace default --set checks.enabled=false >"$WORK/no-checks.yaml" 2>"$WORK/template.err" \
  && pass "helm template (checks.enabled=false)" || fail "helm template (checks.enabled=false): $(cat "$WORK/template.err")"
expect_eq "checks off: --health-checks=false, no --check-concurrency, no EndpointSlice access" \
  "--health-checks=false endpointslice-rules=0" \
  "$(yq_ "$WORK/no-checks.yaml" '[a for a in container()["args"] if a.startswith(("--health-checks", "--check-concurrency"))] + ["endpointslice-rules=%d" % sum(1 for k in ("ClusterRole", "Role") for r in by_kind.get(k, []) for rule in r["rules"] if "endpointslices" in rule["resources"])]' | xargs)"

expect_eq "default: no notification flag" "0" \
  "$(yq_ "$WORK/default.yaml" 'len([a for a in container()["args"] if a.startswith(("--alert", "--alertmanager"))])')"
helm_ template "$RELEASE" "$CHART" --namespace default --set notifications.alertmanagerUrl=http://am:9093 \
  --set notifications.webhook.url=https://hooks.example/x --set notifications.webhook.secretName=hooks \
  --set notifications.webhook.secretKey=hmac >"$WORK/notify.yaml" 2>"$WORK/template.err" \
  && pass "helm template (notifications)" || fail "helm template (notifications): $(cat "$WORK/template.err")"
expect_eq "notifications: URLs, the secret as a file, hold and storm guard" \
  "--alertmanager-url=http://am:9093 --alert-webhook-url=https://hooks.example/x --alert-webhook-secret-file=/etc/heartbeat-operator/webhook/secret --alert-hold=5 --alert-storm-share=0.2 --alert-storm-min=10" \
  "$(yq_ "$WORK/notify.yaml" '[a for a in container()["args"] if a.startswith(("--alert", "--alertmanager"))]' | xargs)"
expect_eq "notifications: the Secret's key mounted read-only at that path, not in the environment" \
  "hooks hmac secret /etc/heartbeat-operator/webhook True False" \
  "$(yq_ "$WORK/notify.yaml" '[[v["secret"]["secretName"], v["secret"]["items"][0]["key"], v["secret"]["items"][0]["path"]] for v in deployment()["spec"]["template"]["spec"]["volumes"] if v["name"] == "webhook-secret"][0] + [[m["mountPath"], m["readOnly"]] for m in container()["volumeMounts"] if m["name"] == "webhook-secret"][0] + ["hooks" in str(container().get("env"))]' | xargs)"
expect_fail_with "schema rejects a notification URL without a scheme" "alertmanagerUrl" \
  helm_ template x "$CHART" --set notifications.alertmanagerUrl=am:9093

expect_eq "default: a lease per capability" "--lease-mode=per-capability" \
  "$(yq_ "$WORK/default.yaml" '[a for a in container()["args"] if a.startswith(("--lease-mode", "--shared-leases"))]' | xargs)"
expect_eq "heartbeat.leaseMode=shared: the mode and the number of leases" "--lease-mode=shared --shared-leases=32" \
  "$(helm_ template "$RELEASE" "$CHART" --set heartbeat.leaseMode=shared --set heartbeat.sharedLeases=32 | "$PY" -c 'import sys, yaml; print(" ".join(a for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] == "Deployment" for a in d["spec"]["template"]["spec"]["containers"][0]["args"] if a.startswith(("--lease-mode", "--shared-leases"))))')"
expect_fail_with "schema rejects heartbeat.leaseMode: pooled" "leaseMode" helm_ template x "$CHART" --set heartbeat.leaseMode=pooled
SHARDS_ARGS='import sys, yaml; docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
dep = [d for d in docs if d["kind"] == "Deployment"][0]
args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
roles = [r for r in docs if r["kind"] == "Role" and r["metadata"]["name"].endswith("-leader-election")]
print(" ".join(a for a in args if a.startswith(("--shards", "--leader-elect", "--leader-election-id"))
               and not a.startswith(("--leader-elect-lease", "--leader-elect-renew", "--leader-elect-retry"))),
      "|", " ".join(",".join(rule["verbs"]) + ("@" + ",".join(rule["resourceNames"]) if "resourceNames" in rule else "")
                    for r in roles for rule in r["rules"]))'
expect_eq "shards=auto: --shards=auto without --leader-elect; Leases of the namespace get/list/update/create" \
  "--shards=auto --leader-election-namespace=default --leader-election-id=$RELEASE-heartbeat-operator | create,get,list,update" \
  "$(helm_ template "$RELEASE" "$CHART" --set shards=auto --set replicaCount=3 --set leaderElection.enabled=false | "$PY" -c "$SHARDS_ARGS")"
expect_fail_with "shards=auto refuses heartbeat.leaseMode shared" "leaseMode per-capability" \
  helm_ template x "$CHART" --set shards=auto --set heartbeat.leaseMode=shared
expect_fail_with "shards=auto refuses onExit revoke" "onExit keep" \
  helm_ template x "$CHART" --set shards=auto --set onExit=revoke
expect_fail_with "schema rejects shards: on" "shards" helm_ template x "$CHART" --set shards=on
expect_eq "default: no dashboard flag, port or Service" "0" \
  "$(yq_ "$WORK/default.yaml" 'len([a for a in container()["args"] if a.startswith("--dashboard")]) + len([p for p in container()["ports"] if p["name"] == "dashboard"]) + len([s for s in by_kind["Service"] if s["metadata"]["name"].endswith("-dashboard")])')"
helm_ template "$RELEASE" "$CHART" --namespace default --set dashboard.enabled=true --set dashboard.port=9090 \
  >"$WORK/dash.yaml" 2>"$WORK/template.err" \
  && pass "helm template (dashboard.enabled)" || fail "helm template (dashboard.enabled): $(cat "$WORK/template.err")"
expect_eq "dashboard: the flag, the container port and a ClusterIP Service that targets it" \
  "--dashboard-bind-address=:9090 9090 hb-heartbeat-operator-dashboard:ClusterIP:9090:dashboard" \
  "$(yq_ "$WORK/dash.yaml" '[a for a in container()["args"] if a.startswith("--dashboard")] + [p["containerPort"] for p in container()["ports"] if p["name"] == "dashboard"] + [":".join([s["metadata"]["name"], s["spec"]["type"], str(s["spec"]["ports"][0]["port"]), s["spec"]["ports"][0]["targetPort"]]) for s in by_kind["Service"] if s["metadata"]["name"].endswith("-dashboard")]' | xargs)"
expect_fail_with "schema rejects an unknown dashboard value" "dashboard" \
  helm_ template x "$CHART" --set dashboard.bind=0.0.0.0

# values.schema.json
expect_fail_with "schema rejects replicaCount: -1" "replicaCount" helm_ template x "$CHART" --set replicaCount=-1
expect_fail_with "schema rejects heartbeat.ttlSeconds: 1" "ttlSeconds" helm_ template x "$CHART" --set heartbeat.ttlSeconds=1
expect_fail_with "schema rejects onExit: forever" "onExit" helm_ template x "$CHART" --set onExit=forever
expect_fail_with "schema rejects an empty etcd.endpoints" "endpoints" helm_ template x "$CHART" --set-json 'etcd.endpoints=[]'
expect_fail_with "schema rejects a ConfigMap without a namespace" "configMaps" helm_ template x "$CHART" --set 'configMaps={caps}'
expect_fail_with "schema rejects an unknown value (a typo)" "replicas" helm_ template x "$CHART" --set replicas=3
expect_fail_with "schema rejects logLevel: verbose" "logLevel" helm_ template x "$CHART" --set logLevel=verbose
expect_fail_with "schema rejects checks.maxConcurrent: 0" "maxConcurrent" helm_ template x "$CHART" --set checks.maxConcurrent=0
expect_fail_with "schema rejects an unknown checks value" "checks" helm_ template x "$CHART" --set checks.concurrency=8
expect_fail_with "schema rejects an extraVolumeMount without a mountPath" "mountPath" \
  helm_ template x "$CHART" --set-json 'extraVolumeMounts=[{"name":"probe-tls"}]'
expect_fail_with "chart rejects intervalSeconds >= ttlSeconds" "must be below heartbeat.ttlSeconds" \
  helm_ template x "$CHART" --set heartbeat.intervalSeconds=30
expect_fail_with "chart rejects 2 replicas without leader election" "needs leaderElection.enabled" \
  helm_ template x "$CHART" --set leaderElection.enabled=false
expect_fail_with "chart rejects a ServiceMonitor without metrics" "needs metrics.enabled" \
  helm_ template x "$CHART" --set serviceMonitor.enabled=true --set metrics.enabled=false
expect_ok "1 replica without leader election renders" helm_ template x "$CHART" --set replicaCount=1 --set leaderElection.enabled=false
expect_eq "  ... with no Lease Role and no --leader-elect" "0" "$(grep -c -e 'leader-elect' -e 'kind: Role$' <<<"$OUT")"

# One source for the CRD.
expect_eq "chart CRD is a symlink to crds/" "../../../crds/capabilities.chora.dev.yaml" \
  "$(readlink "$CHART/crds/capabilities.chora.dev.yaml")"
expect_ok "helm package" helm_ package "$CHART" --destination "$WORK/pkg"
PACKAGE="$(ls "$WORK"/pkg/heartbeat-operator-*.tgz 2>/dev/null | head -n 1)"
if [[ -n "$PACKAGE" ]] && tar -xzf "$PACKAGE" -C "$WORK/pkg" heartbeat-operator/crds/capabilities.chora.dev.yaml 2>/dev/null; then
  if cmp -s "$WORK/pkg/heartbeat-operator/crds/capabilities.chora.dev.yaml" "$CRD"; then
    pass "the packaged chart's CRD is byte-identical to crds/capabilities.chora.dev.yaml"
  else
    fail "the packaged chart's CRD differs from crds/capabilities.chora.dev.yaml"
  fi
else
  fail "the packaged chart has no crds/capabilities.chora.dev.yaml"
fi
expect_ok "helm show crds of the package" helm_ show crds "$PACKAGE"
expect_eq "  ... is the CRD file" "$(cat "$CRD")" "$(sed '/^---$/d' <<<"$OUT")"
step_end

# ---------------------------------------------------------------------------------------------
step_start "2. helm install / uninstall against the kube emulator"
start_emulator install
# Every object of the release exists: kubectl get -f of the release manifest.
check_objects() {
  local label="$1" manifest="$2" want got
  want="$(yq_ "$manifest" 'len(docs)')"
  got="$(k get -f "$manifest" -o name 2>&1)"
  expect_eq "$label: every one of the $want rendered objects exists" "$want" "$(grep -c / <<<"$got")"
}
check_gone() {
  local label="$1" manifest="$2"
  expect_eq "$label: helm uninstall removed every object" "" "$(k get -f "$manifest" -o name --ignore-not-found 2>&1)"
}
if [[ -n "${PACKAGE:-}" ]]; then
  expect_ok "helm install (packaged chart, default values)" h install "$RELEASE" "$PACKAGE" --namespace default
  expect_contains "install status" "STATUS: deployed" "$OUT"
  expect_contains "NOTES.txt rendered" "kubectl get capabilities -A" "$OUT"
  h get manifest "$RELEASE" --namespace default >"$WORK/installed.yaml"
  check_objects "default" "$WORK/installed.yaml"
  expect_eq "the chart's CRD is established" "True" \
    "$(k get crd capabilities.chora.dev -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')"
  k get deployment hb-heartbeat-operator -n default -o json >"$WORK/deploy.json" 2>&1
  expect_eq "Deployment: 2 replicas, non-root pod with RuntimeDefault seccomp" "2 True 65532 RuntimeDefault" \
    "$(yq_ "$WORK/deploy.json" '[docs[0]["spec"]["replicas"], docs[0]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"], docs[0]["spec"]["template"]["spec"]["securityContext"]["runAsUser"], docs[0]["spec"]["template"]["spec"]["securityContext"]["seccompProfile"]["type"]]' | xargs)"
  expect_eq "Deployment: container read-only root, no privilege escalation, no capabilities" "True False ALL RuntimeDefault" \
    "$(yq_ "$WORK/deploy.json" '[c["securityContext"]["readOnlyRootFilesystem"], c["securityContext"]["allowPrivilegeEscalation"], ",".join(c["securityContext"]["capabilities"]["drop"]), c["securityContext"]["seccompProfile"]["type"]] if (c := docs[0]["spec"]["template"]["spec"]["containers"][0]) else 0' | xargs)"
  expect_eq "Deployment: liveness /healthz and readiness /readyz on the health port (8081)" "/healthz:health /readyz:health health:8081" \
    "$(yq_ "$WORK/deploy.json" '[c["livenessProbe"]["httpGet"]["path"] + ":" + c["livenessProbe"]["httpGet"]["port"], c["readinessProbe"]["httpGet"]["path"] + ":" + c["readinessProbe"]["httpGet"]["port"], [p["name"] + ":" + str(p["containerPort"]) for p in c["ports"] if p["name"] == "health"][0]] if (c := docs[0]["spec"]["template"]["spec"]["containers"][0]) else 0' | xargs)"
  expect_eq "Deployment: args include leader election and the etcd settings" "controller --leader-elect --leader-election-namespace=default --etcd-endpoints=http://etcd:2379 --etcd-timeout=5 --etcd-stall-timeout=2" \
    "$(yq_ "$WORK/deploy.json" '[a for a in docs[0]["spec"]["template"]["spec"]["containers"][0]["args"] if a in ("controller", "--leader-elect") or a.startswith(("--leader-election-namespace", "--etcd-"))]' | xargs)"
  expect_eq "Deployment: POD_NAME and POD_NAMESPACE from the downward API; /tmp is an emptyDir" "metadata.name metadata.namespace /tmp" \
    "$(yq_ "$WORK/deploy.json" '[e["valueFrom"]["fieldRef"]["fieldPath"] for e in docs[0]["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] in ("POD_NAME", "POD_NAMESPACE")] + [m["mountPath"] for m in docs[0]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] if m["name"] == "tmp"]' | xargs)"
  expect_eq "Service: metrics port 8080 to the container's metrics port" "metrics:8080:metrics" \
    "$(k get service hb-heartbeat-operator-metrics -n default -o jsonpath='{.spec.ports[0].name}:{.spec.ports[0].port}:{.spec.ports[0].targetPort}')"
  expect_ok "helm uninstall" h uninstall "$RELEASE" --namespace default
  check_gone "default" "$WORK/installed.yaml"
  expect_eq "helm keeps the CRD" "customresourcedefinition.apiextensions.k8s.io/capabilities.chora.dev" \
    "$(k get crd capabilities.chora.dev -o name 2>&1)"
fi

expect_ok "namespaces for every option" k create namespace ops
k create namespace team-a >/dev/null && k create namespace team-b >/dev/null && k create namespace shared >/dev/null
expect_ok "ServiceMonitor CRD applied" k apply -f "$DATA/servicemonitor-crd.yaml"
poll_until 20 "ServiceMonitor CRD established" k wait --for=condition=established --timeout=5s crd/servicemonitors.monitoring.coreos.com
expect_ok "PrometheusRule CRD applied" k apply -f "$DATA/prometheusrule-crd.yaml"
poll_until 20 "PrometheusRule CRD established" k wait --for=condition=established --timeout=5s crd/prometheusrules.monitoring.coreos.com
expect_ok "helm install (every option)" h install "$RELEASE" "$CHART" --namespace ops -f "$DATA/values-full.yaml"
h get manifest "$RELEASE" --namespace ops >"$WORK/installed-full.yaml"
check_objects "every option" "$WORK/installed-full.yaml"
expect_eq "the ServiceMonitor exists" "servicemonitor.monitoring.coreos.com/hb-heartbeat-operator" \
  "$(k get servicemonitors -n ops -o name 2>&1)"
expect_eq "the ServiceMonitor kept its spec (nothing pruned by the CRD schema)" "metrics /metrics 15s hb" \
  "$(k get servicemonitor hb-heartbeat-operator -n ops -o jsonpath='{.spec.endpoints[0].port} {.spec.endpoints[0].path} {.spec.endpoints[0].interval} {.spec.selector.matchLabels.app\.kubernetes\.io/instance}')"
expect_eq "the PrometheusRule kept its rules (nothing pruned by the CRD schema)" \
  "$(yq_ "$WORK/full.yaml" '" ".join(str(len(g["rules"])) for g in by_kind["PrometheusRule"][0]["spec"]["groups"]) + " " + by_kind["PrometheusRule"][0]["spec"]["groups"][0]["rules"][1]["expr"]')" \
  "$(k get prometheusrule hb-heartbeat-operator -n ops -o jsonpath='{range .spec.groups[*]}{.rules[*].alert}{"\n"}{end}' | awk '{printf "%d ", NF}')$(k get prometheusrule hb-heartbeat-operator -n ops -o jsonpath='{.spec.groups[0].rules[1].expr}')"
expect_eq "the dashboard ConfigMap holds the dashboard JSON" "heartbeat-operator" \
  "$(k get configmap hb-heartbeat-operator-dashboard -n ops -o jsonpath='{.data.heartbeat-operator\.json}' | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["uid"])')"
expect_eq "no ClusterRole or ClusterRoleBinding when namespaces are listed" "" \
  "$(k get clusterroles,clusterrolebindings -l app.kubernetes.io/instance=$RELEASE -o name 2>&1)"
expect_eq "Roles in team-a, team-b, shared and (Lease) ops" "ops shared team-a team-b" \
  "$(k get roles -A -l app.kubernetes.io/instance=$RELEASE -o jsonpath='{range .items[*]}{.metadata.namespace}{"\n"}{end}' | sort | xargs)"
expect_eq "the etcd Secrets and the extra probe Secret are mounted read-only" "true true true" \
  "$(k get deployment hb-heartbeat-operator -n ops -o jsonpath='{.spec.template.spec.containers[0].volumeMounts[?(@.name=="etcd-tls")].readOnly} {.spec.template.spec.containers[0].volumeMounts[?(@.name=="etcd-auth")].readOnly} {.spec.template.spec.containers[0].volumeMounts[?(@.name=="probe-tls")].readOnly}')"
expect_ok "helm upgrade (every option, interval changed)" h upgrade "$RELEASE" "$CHART" --namespace ops -f "$DATA/values-full.yaml" --set heartbeat.intervalSeconds=3
expect_contains "upgrade status" "REVISION: 2" "$OUT"
expect_contains "the Deployment follows the upgrade" "--interval=3" \
  "$(k get deployment hb-heartbeat-operator -n ops -o jsonpath='{.spec.template.spec.containers[0].args}')"
expect_ok "helm uninstall (every option)" h uninstall "$RELEASE" --namespace ops
check_gone "every option" "$WORK/installed-full.yaml"
step_end

# ---------------------------------------------------------------------------------------------
step_start "3. RBAC against the controller's real API requests"
ETCD_PORT="$(free_port)"; ETCD_PEER_PORT="$(free_port)"
while [[ "$ETCD_PEER_PORT" == "$ETCD_PORT" ]]; do ETCD_PEER_PORT="$(free_port)"; done
ETCD_URL="http://127.0.0.1:$ETCD_PORT"
"$ETCD" --name chart-test --data-dir "$WORK/etcd" \
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "chart-test=http://127.0.0.1:$ETCD_PEER_PORT" --log-level error >"$WORK/etcd.log" 2>&1 &
PIDS=("$!" "${PIDS[@]}")
etcdctl_() { ETCDCTL_API=3 timeout 10 "$ETCDCTL" --endpoints "$ETCD_URL" "$@"; }
poll_until 20 "etcd answers on 127.0.0.1:$ETCD_PORT" etcdctl_ endpoint health
etcd_key() { etcdctl_ get --print-value-only "/chora/capabilities/$1/health"; }
etcd_key_exists() { [[ -n "$(etcd_key "$1")" ]]; }
etcd_key_absent() { local v; v="$(etcd_key "$1")" && [[ -z "$v" ]]; }
SUPPORTED_FLAGS="$("$BINARY" controller --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)"

# controller_lifecycle NAME RENDERED NS LABELLED: runs the controller with the Deployment's
# arguments from RENDERED (etcd, ports and timing made local) against a fresh emulator, takes a
# Capability in NS and a capability ConfigMap NS/fleet (labelled for the selector when LABELLED
# is 1, else named by the chart's --capabilities-configmap) through their life cycles, stops it
# with SIGTERM and checks its requests against RENDERED's RBAC. Leaves the check-rbac output
# in $WORK/check-rbac-NAME.out and the arguments in ARGS.
controller_lifecycle() {
  local name="$1" rendered="$2" ns="$3" labelled="$4"
  start_emulator "rbac-$name" || return 1
  local lease_ns
  lease_ns="$(yq_ "$rendered" '[a.split("=", 1)[1] for a in container()["args"] if a.startswith("--leader-election-namespace=")] or ["default"]')"
  for n in $(printf '%s\n' "$ns" "$lease_ns" | sort -u); do
    [[ "$n" == default ]] || k create namespace "$n" >/dev/null
  done
  expect_ok "[$name] Capability CRD applied" k apply -f "$CRD"
  poll_until 20 "[$name] Capability CRD established" k wait --for=condition=established --timeout=5s crd/capabilities.chora.dev

  local metrics_port health_port arg flag
  metrics_port="$(free_port)"; health_port="$(free_port)"
  ARGS=()
  while IFS= read -r arg; do
    flag="${arg%%=*}"
    [[ "$arg" == --* ]] || flag=""   # a value given as its own argument
    case "$flag" in
      --etcd-endpoints) arg="--etcd-endpoints=$ETCD_URL" ;;
      --metrics-bind-address) arg="--metrics-bind-address=127.0.0.1:$metrics_port" ;;
      --health-probe-bind-address) arg="--health-probe-bind-address=127.0.0.1:$health_port" ;;
      --interval) arg="--interval=1" ;;
      --ttl) arg="--ttl=4" ;;
      --status-sync-period) arg="--status-sync-period=1" ;;
      --log-format) arg="--log-format=text" ;;
    esac
    if [[ -n "$flag" ]] && ! grep -qxF -- "$flag" <<<"$SUPPORTED_FLAGS"; then
      fail "[$name] the chart passes $flag, which 'heartbeat-operator controller' does not know"
    fi
    ARGS+=("$arg")
  done < <(yq_ "$rendered" 'container()["args"]')
  echo "# controller: ${ARGS[*]}"
  POD_NAME="hb-heartbeat-operator-$name" POD_NAMESPACE="$lease_ns" LOG_LEVEL=info \
    "$BINARY" "${ARGS[@]}" --kubeconfig "$KUBECONFIG_FILE" >"$WORK/controller-$name.log" 2>&1 &
  local pid=$! failed_before=$FAILED
  PIDS=("$pid" "${PIDS[@]}")

  drive_controller "$name" "$ns" "$labelled" "$lease_ns" "$health_port" "$metrics_port" \
    || fail "[$name] the life cycle stopped at the first failure"

  kill -TERM "$pid" 2>/dev/null
  local code=""
  for _ in $(seq 200); do
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; code=$?; break; fi
    sleep 0.1
  done
  expect_eq "[$name] the controller stops on SIGTERM with status 0" "0" "${code:-still running after 20s}"
  if ((FAILED > failed_before)); then
    echo "--- [$name] controller log (last 40 lines):" >&2
    tail -n 40 "$WORK/controller-$name.log" >&2
  fi

  "$PY" "$HERE/check-rbac.py" --rendered "$rendered" --log "$EMU_LOG" --user-agent heartbeat-operator/ \
    >"$WORK/check-rbac-$name.out" 2>&1
  local rc=$?
  sed "s/^/[$name] /" "$WORK/check-rbac-$name.out"
  expect_eq "[$name] check-rbac: the chart allows every request the controller made" "0" "$rc"
}
# drive_controller NAME NS LABELLED LEASE_NS HEALTH_PORT METRICS_PORT: the life cycle of
# controller_lifecycle; returns 1 at the first failed step.
drive_controller() {
  local name="$1" ns="$2" labelled="$3" lease_ns="$4" health_port="$5" metrics_port="$6"
  if has_flag --health-probe-bind-address; then
    poll_until 20 "[$name] /healthz answers 200" output_is 200 http_code "http://127.0.0.1:$health_port/healthz" || return 1
    poll_until 20 "[$name] /readyz answers 200" output_is 200 http_code "http://127.0.0.1:$health_port/readyz" || return 1
  fi
  if has_flag --metrics-bind-address; then
    poll_until 20 "[$name] /metrics answers 200" output_is 200 http_code "http://127.0.0.1:$metrics_port/metrics" || return 1
  fi
  if has_flag --leader-elect; then
    local lease
    lease="$(printf '%s\n' "${ARGS[@]}" | sed -n 's/^--leader-election-id=//p')"
    poll_until 20 "[$name] the controller holds the Lease $lease_ns/$lease" \
      test_nonempty k get lease "$lease" -n "$lease_ns" -o jsonpath='{.spec.holderIdentity}' || return 1
  fi

  k apply -f - >/dev/null <<YAML || { fail "[$name] cannot create a Capability"; return 1; }
apiVersion: chora.dev/v1alpha1
kind: Capability
metadata:
  name: registry
  namespace: $ns
spec:
  identifier: chora.devex.registry
  type: Service
  heartbeat:
    intervalSeconds: 1
    ttlSeconds: 4
YAML
  phase() { k get capability "$1" -n "$ns" -o jsonpath='{.status.phase}'; }
  poll_until 20 "[$name] Capability $ns/registry becomes Healthy" output_is Healthy phase registry || return 1
  poll_until 10 "[$name] its health key is in etcd" etcd_key_exists chora.devex.registry || return 1
  expect_ok "[$name] patch the Capability (title, interval)" \
    k patch capability registry -n "$ns" --type merge -p '{"spec":{"title":"Registry","heartbeat":{"intervalSeconds":2}}}' || return 1
  poll_until 20 "[$name] status follows the new generation" output_is 2/2/Healthy \
    k get capability registry -n "$ns" -o jsonpath='{.status.observedGeneration}/{.status.intervalSeconds}/{.status.phase}' || return 1
  expect_ok "[$name] pause the Capability" \
    k patch capability registry -n "$ns" --type merge -p '{"spec":{"heartbeat":{"paused":true}}}' || return 1
  poll_until 20 "[$name] the Capability is Paused" output_is Paused phase registry || return 1
  poll_until 10 "[$name] its health key is gone from etcd" etcd_key_absent chora.devex.registry || return 1
  expect_ok "[$name] delete the Capability" k delete capability registry -n "$ns" --wait=false || return 1
  poll_until 20 "[$name] the controller removes its finalizer: the Capability is gone" \
    output_is "" k get capability registry -n "$ns" -o name --ignore-not-found || return 1

  local labels=""
  [[ "$labelled" == 1 ]] && labels=$'\n  labels:\n    chora.dev/capabilities: "true"'
  configmap() { # configmap INTERVAL: the capability ConfigMap with one manifest
    k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: fleet
  namespace: $ns$labels
data:
  chora.test.fleet_member.yaml: |
    metadata:
      dc_identifier: chora.test.fleet_member
      dc_type: Service
    chora_service:
      health:
        interval: $1
        heartbeat_ttl: 4
YAML
  }
  mirror() { k get capabilities -n "$ns" -l chora.dev/managed-by=heartbeat-operator -o jsonpath="$1"; }
  expect_ok "[$name] create the capability ConfigMap $ns/fleet" configmap 1 || return 1
  poll_until 20 "[$name] its manifest gets a mirror Capability that becomes Healthy" \
    output_is Healthy mirror '{.items[*].status.phase}' || return 1
  poll_until 10 "[$name] the manifest's health key is in etcd" etcd_key_exists chora.test.fleet_member || return 1
  expect_ok "[$name] change the manifest" configmap 2 || return 1
  poll_until 20 "[$name] the mirror follows the change" output_is 2 mirror '{.items[*].spec.heartbeat.intervalSeconds}' || return 1
  expect_ok "[$name] delete the ConfigMap" k delete configmap fleet -n "$ns" || return 1
  poll_until 20 "[$name] the mirror Capability is removed" output_is "" mirror '{.items[*].metadata.name}' || return 1
  poll_until 10 "[$name] the manifest's health key is gone from etcd" etcd_key_absent chora.test.fleet_member || return 1
  expect_contains "[$name] Events were recorded" "Healthy" \
    "$(k get events -n "$ns" -o jsonpath='{range .items[*]}{.reason}{" "}{end}' 2>/dev/null)" || return 1
}
has_flag() { printf '%s\n' "${ARGS[@]}" | grep -q -- "^$1"; }
test_nonempty() { [[ -n "$("$@" 2>/dev/null)" ]]; }
saw() { # saw NAME REQUEST...: check-rbac listed each request as made and allowed
  local name="$1" out rv; shift
  out="$(tr -s ' ' <"$WORK/check-rbac-$name.out")"
  for rv in "$@"; do expect_contains "[$name] check-rbac saw: $rv" "ok $rv" "$out"; done
}

# Cluster-wide (the default values): a ClusterRole, the Lease Role in the release namespace.
controller_lifecycle cluster "$WORK/default.yaml" default 1
saw cluster "watch chora.dev capabilities (all namespaces)" "patch chora.dev capabilities/status default" \
  "create chora.dev capabilities default" "delete chora.dev capabilities default" \
  "watch \"\" configmaps (all namespaces)" "create \"\" events default"
if has_flag --leader-elect; then saw cluster "update coordination.k8s.io leases default"; fi
CLUSTER_LOG="$EMU_LOG"

# One watched namespace and a named ConfigMap only: Roles, resourceNames for the ConfigMap.
helm_ template "$RELEASE" "$CHART" --namespace ops --set 'watchNamespaces={team-a}' \
  --set 'configMaps={team-a/fleet}' --set configMapSelector= >"$WORK/namespaced.yaml"
controller_lifecycle namespaced "$WORK/namespaced.yaml" team-a 0
saw namespaced "watch chora.dev capabilities team-a" "patch chora.dev capabilities/status team-a" \
  "create chora.dev capabilities team-a" "watch \"\" configmaps team-a name=fleet" "create \"\" events team-a"
if has_flag --leader-elect; then saw namespaced "update coordination.k8s.io leases ops"; fi

# check-rbac itself: a chart without the status rule, or with the Lease Role elsewhere, fails.
"$PY" - "$WORK/default.yaml" "$WORK/no-status.yaml" "$WORK/lease-elsewhere.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "ClusterRole":
        d["rules"] = [r for r in d["rules"] if r["resources"] != ["capabilities/status"]]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] in ("Role", "RoleBinding"):
        d["metadata"]["namespace"] = "kube-system"
yaml.safe_dump_all(docs, open(sys.argv[3], "w"))
PY
expect_fail_with "check-rbac fails without the capabilities/status rule" "not allowed by the chart's RBAC: patch chora.dev capabilities/status" \
  "$PY" "$HERE/check-rbac.py" --rendered "$WORK/no-status.yaml" --log "$CLUSTER_LOG"
if has_flag --leader-elect; then
  expect_fail_with "check-rbac fails with the Lease Role in another namespace" "coordination.k8s.io leases in default" \
    "$PY" "$HERE/check-rbac.py" --rendered "$WORK/lease-elsewhere.yaml" --log "$CLUSTER_LOG"
fi
expect_fail_with "check-rbac fails when the namespaced run is checked against a chart for another namespace" "not allowed" \
  "$PY" "$HERE/check-rbac.py" --rendered <(helm_ template "$RELEASE" "$CHART" --namespace ops --set 'watchNamespaces={team-b}' \
    --set 'configMaps={team-b/fleet}' --set configMapSelector=) --log "$EMU_LOG"
step_end

# ---------------------------------------------------------------------------------------------
step_start "4. Dockerfile"
expect_ok "check-dockerfile.sh" env BINARY="$BINARY" bash "$HERE/check-dockerfile.sh" "$BUILD_DIR"
echo "$OUT" | sed 's/^/    /'
broken() { # broken NAME SED-EXPRESSION NEEDLE: check-dockerfile.sh rejects the edited Dockerfile
  sed -e "$2" "$ROOT/Dockerfile" >"$WORK/Dockerfile.$1"
  expect_fail_with "check-dockerfile.sh rejects a Dockerfile with $1" "$3" \
    env DOCKERFILE="$WORK/Dockerfile.$1" BINARY="$BINARY" CHECK_CONTEXT=0 bash "$HERE/check-dockerfile.sh" "$BUILD_DIR"
}
broken "a runtime library missing" '/^      libre2-9 /d' "missing [libre2-9]"
broken "an extra runtime package" 's/^      libssl3 \\$/      libssl3 curl \\/' "extra [curl]"
broken "USER root" 's/^USER .*/USER root/' "not a numeric non-root"
broken "a shell-form ENTRYPOINT" 's|^ENTRYPOINT .*|ENTRYPOINT /usr/local/bin/heartbeat-operator|' "shell form"
broken "tests built" 's/-DHB_BUILD_TESTS=OFF/-DHB_BUILD_TESTS=ON/' "lacks '-DHB_BUILD_TESTS=OFF'"
broken "warnings not errors" 's/ -DHB_WERROR=ON//' "lacks '-DHB_WERROR=ON'"
broken "its own apt-get list instead of install-deps.sh" 's|^RUN /src/hack/install-deps.sh|RUN apt-get update|' "install-deps.sh"
step_end

echo
echo "test-chart: $PASSED passed, $FAILED failed"
((FAILED == 0))
