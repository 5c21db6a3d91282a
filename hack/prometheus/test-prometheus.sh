#!/usr/bin/env bash
# Tests the chart's alerting rules (templates/prometheusrule.yaml) and Grafana dashboard
# (dashboards/heartbeat-operator.json) with the real promtool, a real Prometheus and the real
# binary:
#   1. Rendering: helm template renders the PrometheusRule (release hb, namespace ops, with
#      prometheusRule.enabled and metrics.perCapability); its spec becomes a plain rules file
#      that `promtool check rules` and `promtool test rules` (rules-test.yaml: every alert fires
#      when it should and not when healthy) run on, so the rules tested are the chart's own; the
#      same tests fail on rules rendered with another threshold. The chart's switches (off by
#      default, leader election, per-capability metrics, selector, schema) and the dashboard
#      ConfigMap (the JSON byte for byte, its labels) are checked, and the dashboard is linted.
#   2. A real run, everything on 127.0.0.1: etcd, the kube emulator, the binary in controller mode
#      (the mode that serves /metrics) with leader election, per-capability metrics and one
#      Capability with a TCP check, and a real Prometheus that scrapes it every second with the
#      target labels a ServiceMonitor gives (job, namespace, pod, service, endpoint) and loads the
#      rendered rules. It must see the target up and one Healthy capability, evaluate every rule
#      without error with no alert, and answer every dashboard query with data; then a
#      Capability whose check fails is counted Unhealthy and HeartbeatOperatorCapabilitiesUnhealthy
#      goes pending, and its transition's webhook notification (to a port nothing listens on) fails,
#      counted, so HeartbeatOperatorNotificationsFailing goes pending; then etcd is stopped and
#      HeartbeatOperatorEtcdUnreachable goes pending. The same run serves the dashboard
#      (--dashboard-bind-address): GET / is its HTML page, and GET /api/snapshot lists the
#      Capabilities as etcd has them (the healthy one, then the failing one unhealthy).
#   3. check-metric-names.py: every metric, label and label value the rules and the dashboard
#      use is in the run's /metrics scrapes or in metric-names-allowlist.txt (itself checked
#      against src/); and the check fails on copies with a typo.
#
#   hack/prometheus/test-prometheus.sh [BUILD_DIR]      (default <repo>/build)
# Needs BUILD_DIR/controller/heartbeat-operator, helm (hack/install-helm.sh puts it in
# BUILD_DIR/tools), /usr/bin/prometheus and /usr/bin/promtool (Debian's prometheus package),
# /usr/bin/etcd, /usr/bin/kubectl, python3-yaml. Every process it starts is stopped at exit and
# its temporary directory removed (KEEP_WORK=1 keeps it after a failure).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../lib/checks.sh
source "$ROOT/hack/lib/checks.sh"
BUILD_DIR="${1:-$ROOT/build}"
[[ -d "$BUILD_DIR" ]] || { echo "test-prometheus: no build directory $BUILD_DIR" >&2; exit 1; }
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
CHART="$ROOT/charts/heartbeat-operator"
DASHBOARD="$CHART/dashboards/heartbeat-operator.json"
CRD="$ROOT/crds/capabilities.chora.dev.yaml"
BINARY="$BUILD_DIR/controller/heartbeat-operator"
EMULATOR="$ROOT/hack/kube-emulator/kube-emulator"
PROMETHEUS="${PROMETHEUS:-/usr/bin/prometheus}"
PROMTOOL="${PROMTOOL:-/usr/bin/promtool}"
KUBECTL="${KUBECTL:-/usr/bin/kubectl}"
ETCD="${ETCD:-/usr/bin/etcd}"
PY=/usr/bin/python3
RELEASE=hb
NS=ops
JOB=hb-heartbeat-operator-metrics    # the metrics Service's name: a ServiceMonitor's job label
SEL="job=\"$JOB\", namespace=\"$NS\""

WORK="$(mktemp -d "${TMPDIR:-/tmp}/test-prometheus.XXXXXX")"
export HOME="$WORK/home" KUBECACHEDIR="$WORK/kube-cache" PYTHONDONTWRITEBYTECODE=1
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
unset KUBECONFIG HELM_KUBECONTEXT HELM_NAMESPACE
mkdir -p "$HOME"

PASSED=0
FAILED=0
PIDS=()     # processes to stop at exit, the last started first
ETCD_PID=""

SHOW_LOG_LINES=15
trap cleanup_suite EXIT
trap 'exit 143' TERM INT

die() { fail "$1"; echo "test-prometheus: stopped at the first failure that later steps need" >&2; show_logs; exit 1; }
output_has() { local want="$1"; shift; [[ "$("$@" 2>/dev/null)" == *"$want"* ]]; }
helm_() { timeout 120 "$HELM" "$@" 2> >(grep -v 'found symbolic link in path' >&2); }
k() { timeout 60 "$KUBECTL" --kubeconfig "$WORK/kubeconfig" --cache-dir "$KUBECACHEDIR" "$@"; }
pt() { "$PY" "$HERE/promtest.py" "$@"; }

for tool in "$PROMETHEUS" "$PROMTOOL" "$KUBECTL" "$ETCD" "$PY"; do
  [[ -x "$tool" ]] || { echo "test-prometheus: $tool is required (hack/install-deps.sh installs it)" >&2; exit 1; }
done
[[ -x "$BINARY" ]] || { echo "test-prometheus: $BINARY is missing: ninja -C $BUILD_DIR heartbeat-operator" >&2; exit 1; }
mkdir -p "$WORK/bin" && cp "$BINARY" "$WORK/bin/heartbeat-operator" && BINARY="$WORK/bin/heartbeat-operator"
"$ROOT/hack/install-helm.sh" "$BUILD_DIR/tools" >/dev/null || { echo "test-prometheus: helm could not be installed" >&2; exit 1; }
HELM="$BUILD_DIR/tools/helm"
echo "# $("$PROMETHEUS" --version 2>&1 | head -n 1), helm $("$HELM" version --short), $("$BINARY" --version)"

# render_rules OUT [helm arguments...]: the PrometheusRule of release hb in ops as a plain rules
# file; prints the number of rules.
render_rules() {
  local out="$1"; shift
  helm_ template "$RELEASE" "$CHART" --namespace "$NS" --set prometheusRule.enabled=true \
    --show-only templates/prometheusrule.yaml "$@" >"$out.rendered" && pt extract-rules "$out.rendered" "$out"
}
alert_names() { "$PY" -c 'import sys, yaml; print(" ".join(r["alert"] for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"]))' "$1"; }

# ---------------------------------------------------------------------------------------------
step "1. rendering, promtool check rules, promtool test rules"
mkdir -p "$WORK/rules" "$WORK/rules-other"
RULES="$WORK/rules/heartbeat-operator-rules.yaml"
expect_ok "the chart renders the PrometheusRule (metrics.perCapability and a webhook on)" \
  render_rules "$RULES" --set metrics.perCapability=true --set notifications.webhook.url=http://hooks:8080/x || die "no rules to test"
expect_eq "  ... with 16 rules" "16" "$OUT"
expect_ok "promtool check rules" "$PROMTOOL" check rules "$RULES"
expect_contains "  ... finds no problem" "SUCCESS: 16 rules found" "$OUT"
cp "$HERE/rules-test.yaml" "$WORK/rules/"
expect_ok "promtool test rules (rules-test.yaml)" "$PROMTOOL" test rules "$WORK/rules/rules-test.yaml"
expect_contains "  ... every test passes" "SUCCESS" "$OUT"
tested="$(grep -oE 'alertname: HeartbeatOperator[A-Za-z]+' "$HERE/rules-test.yaml" | sort -u | sed 's/alertname: //' | xargs)"
expect_eq "rules-test.yaml tests every alert the chart renders" "$(alert_names "$RULES" | tr ' ' '\n' | sort | xargs)" "$tested"
# The tests can fail: the same tests on rules rendered with another threshold.
render_rules "$WORK/rules-other/heartbeat-operator-rules.yaml" --set metrics.perCapability=true --set notifications.webhook.url=http://hooks:8080/x \
  --set prometheusRule.for.capabilitiesDown=3m >/dev/null || die "cannot render the rules with for.capabilitiesDown=3m"
cp "$HERE/rules-test.yaml" "$WORK/rules-other/"
expect_fail_with "promtool test rules fails on rules rendered with for.capabilitiesDown=3m" \
  "alertname: HeartbeatOperatorCapabilitiesDown" "$PROMTOOL" test rules "$WORK/rules-other/rules-test.yaml"

helm_ template "$RELEASE" "$CHART" --namespace "$NS" >"$WORK/default.yaml"
expect_eq "default values: no PrometheusRule, no dashboard ConfigMap" "0 0" \
  "$(grep -c '^kind: PrometheusRule' "$WORK/default.yaml" || true) $(grep -c 'heartbeat-operator-dashboard' "$WORK/default.yaml" || true)"
expect_ok "prometheusRule with one replica and no leader election renders" \
  render_rules "$WORK/rules-other/single.yaml" --set replicaCount=1 --set leaderElection.enabled=false
expect_eq "  ... without NoLeader, the per-capability alert (metrics.perCapability off) and NotificationsFailing (none configured)" "13 no no no" \
  "$OUT $(alert_names "$WORK/rules-other/single.yaml" | grep -q NoLeader && echo yes || echo no) $(alert_names "$WORK/rules-other/single.yaml" | grep -q HeartbeatStale && echo yes || echo no) $(alert_names "$WORK/rules-other/single.yaml" | grep -q NotificationsFailing && echo yes || echo no)"
render_rules "$WORK/rules-other/selector.yaml" --set-string 'prometheusRule.selector=cluster="eu-1"\, job="heartbeat"' >/dev/null \
  || die "cannot render the rules with a selector"
# rules_eval FILE PYTHON-EXPRESSION: the expression over rules (every rule of FILE).
rules_eval() { "$PY" -c 'import sys, yaml; rules = [r for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"]]; v = eval(sys.argv[2]); print(*v) if isinstance(v, tuple) else print(v)' "$@"; }
expect_eq "prometheusRule.selector replaces the job and namespace matchers in every expression" "True False" \
  "$(rules_eval "$WORK/rules-other/selector.yaml" 'all("cluster=\"eu-1\", job=\"heartbeat\"" in r["expr"] for r in rules), any("'"$JOB"'" in r["expr"] for r in rules)')"
render_rules "$WORK/rules-other/labels.yaml" --set prometheusRule.alertLabels.team=platform \
  --set prometheusRule.labels.release=prometheus >/dev/null || die "cannot render the rules with labels"
expect_eq "prometheusRule.alertLabels go on every alert, beside severity; prometheusRule.labels on the object" "True release: prometheus" \
  "$(rules_eval "$WORK/rules-other/labels.yaml" 'all(r["labels"]["team"] == "platform" and r["labels"]["severity"] in ("critical", "warning", "info") for r in rules)') $(grep -o 'release: prometheus' "$WORK/rules-other/labels.yaml.rendered")"
expect_ok "promtool check rules (alert labels, selector)" "$PROMTOOL" check rules "$WORK/rules-other/labels.yaml" "$WORK/rules-other/selector.yaml"
expect_fail_with "the chart refuses a PrometheusRule without metrics" "prometheusRule.enabled needs metrics.enabled" \
  helm_ template x "$CHART" --set prometheusRule.enabled=true --set metrics.enabled=false
expect_fail_with "the schema refuses a for duration that Prometheus would not parse" "prometheusRule.for.absent" \
  helm_ template x "$CHART" --set prometheusRule.enabled=true --set 'prometheusRule.for.absent=5 minutes'
expect_fail_with "the schema refuses a zero window" "prometheusRule.thresholds.leasesLostWindow" \
  helm_ template x "$CHART" --set prometheusRule.enabled=true --set prometheusRule.thresholds.leasesLostWindow=0m

expect_ok "dashboard: valid JSON, one Prometheus data source variable, panels on the grid" pt lint-dashboard "$DASHBOARD"
helm_ template "$RELEASE" "$CHART" --namespace "$NS" --set grafanaDashboard.enabled=true \
  --show-only templates/grafana-dashboard.yaml >"$WORK/dashboard-cm.yaml"
expect_eq "the dashboard ConfigMap carries dashboards/heartbeat-operator.json byte for byte, labelled grafana_dashboard=1" \
  "ConfigMap ops/hb-heartbeat-operator-dashboard same 1" \
  "$("$PY" - "$WORK/dashboard-cm.yaml" "$DASHBOARD" <<'PY'
import sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
same = cm["data"]["heartbeat-operator.json"] == open(sys.argv[2]).read().rstrip("\n")
print(cm["kind"], cm["metadata"]["namespace"] + "/" + cm["metadata"]["name"], "same" if same else "differs",
      cm["metadata"]["labels"].get("grafana_dashboard"))
PY
)"
expect_eq "grafanaDashboard.namespace, .labels (merged with the default) and .annotations" "monitoring Operators 1 grafana" \
  "$(helm_ template "$RELEASE" "$CHART" --namespace "$NS" --set grafanaDashboard.enabled=true --set grafanaDashboard.namespace=monitoring \
      --set grafanaDashboard.annotations.grafana_folder=Operators --set-json 'grafanaDashboard.labels={"dashboards":"grafana"}' \
      --show-only templates/grafana-dashboard.yaml | "$PY" -c 'import sys, yaml; m = yaml.safe_load(sys.stdin)["metadata"]; print(m["namespace"], m["annotations"]["grafana_folder"], m["labels"].get("grafana_dashboard"), m["labels"].get("dashboards"))')"
step_end

# ---------------------------------------------------------------------------------------------
step "2. a real Prometheus scraping the real binary"
start_etcd prom-test || die "etcd did not start"

"$PY" "$EMULATOR" --port 0 --port-file "$WORK/emulator.port" --kubeconfig "$WORK/kubeconfig" \
  --exit-with-parent >"$WORK/emulator.log" 2>&1 &
PIDS=("$!" "${PIDS[@]}")
poll_until 20 "the kube emulator listens" test -s "$WORK/emulator.port" || die "the emulator did not start"
expect_ok "Capability CRD applied" k apply -f "$CRD" || die "no CRD"
poll_until 20 "Capability CRD established" k wait --for=condition=established --timeout=5s crd/capabilities.chora.dev || die "no CRD"
# capability NAME IDENTIFIER PORT: a Capability with a TCP check of 127.0.0.1:PORT every second.
capability() {
  k apply -f - <<YAML
apiVersion: chora.dev/v1alpha1
kind: Capability
metadata:
  name: $1
  namespace: default
spec:
  identifier: $2
  type: Service
  heartbeat:
    intervalSeconds: 1
    ttlSeconds: 4
  health:
    tcp: {host: 127.0.0.1, port: $3}
    periodSeconds: 1
    failureThreshold: 1
YAML
}
expect_ok "a Capability whose TCP check (etcd's port) passes" capability registry chora.devex.registry "$ETCD_PORT" || die "no Capability"

METRICS_PORT="$(free_port)"; HEALTH_PORT="$(free_port)"
METRICS_URL="http://127.0.0.1:$METRICS_PORT/metrics"
HOOK_PORT="$(free_port)"   # nothing listens there: every webhook notification fails
DASHBOARD_PORT="$(free_port)"; DASHBOARD_URL="http://127.0.0.1:$DASHBOARD_PORT"
POD_NAME=hb-heartbeat-operator-0 POD_NAMESPACE=default "$BINARY" controller --kubeconfig "$WORK/kubeconfig" \
  --etcd-endpoints "$ETCD_URL" --metrics-bind-address "127.0.0.1:$METRICS_PORT" \
  --dashboard-bind-address "127.0.0.1:$DASHBOARD_PORT" \
  --alert-webhook-url "http://127.0.0.1:$HOOK_PORT/hook" --alert-hold 0 \
  --health-probe-bind-address "127.0.0.1:$HEALTH_PORT" --leader-elect --leader-election-id hb-heartbeat-operator \
  --per-capability-metrics --interval 1 --ttl 4 --status-sync-period 1 --log-format text >"$WORK/controller.log" 2>&1 &
PIDS=("$!" "${PIDS[@]}")
poll_until 30 "the controller serves /metrics on 127.0.0.1:$METRICS_PORT" http_ok "$METRICS_URL" || die "no /metrics"
poll_until 30 "the Capability is Healthy" output_is Healthy k get capability registry -o jsonpath='{.status.phase}' \
  || die "the Capability never got Healthy"

# page_head URL: the answer's status, Content-Type and the body's first line and <title>.
page_head() {
  "$PY" -c 'import re, sys, urllib.request
r = urllib.request.urlopen(sys.argv[1], timeout=5)
body = r.read().decode()
print(r.status, r.headers.get_content_type(), body.splitlines()[0], re.search("<title>(.*?)</title>", body).group(1))' "$1"
}
# dashboard_rows: the dashboard's snapshot: its type, then each row as identifier:state, sorted.
dashboard_rows() {
  fetch "$DASHBOARD_URL/api/snapshot" \
    | "$PY" -c 'import json, sys; j = json.load(sys.stdin); print(j["type"], *sorted(r["id"] + ":" + r["state"] for r in j["rows"]))'
}
poll_until 20 "the controller serves the dashboard on 127.0.0.1:$DASHBOARD_PORT (--dashboard-bind-address)" \
  http_ok "$DASHBOARD_URL/" || die "no dashboard"
expect_eq "  ... GET / is its HTML page" "200 text/html <!doctype html> Capability health · heartbeat-operator" \
  "$(page_head "$DASHBOARD_URL/")"
poll_until 20 "  ... GET /api/snapshot (JSON) lists the Capability's key, healthy" \
  output_is "snapshot chora.devex.registry:healthy" dashboard_rows

PROM_PORT="$(free_port)"
PROM="http://127.0.0.1:$PROM_PORT"
# The target labels a ServiceMonitor of the release gives (job = the Service's name).
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $RULES
scrape_configs:
  - job_name: $JOB
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
        labels:
          namespace: $NS
          pod: hb-heartbeat-operator-0
          service: $JOB
          endpoint: metrics
          container: heartbeat-operator
YAML
expect_ok "promtool check config" "$PROMTOOL" check config "$WORK/prometheus.yml" || die "bad Prometheus configuration"
"$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PIDS=("$!" "${PIDS[@]}")
poll_until 30 "Prometheus is ready on 127.0.0.1:$PROM_PORT" http_ok "$PROM/-/ready" || die "Prometheus did not start"
poll_until 30 "the target is up" output_is "$JOB up " pt targets "$PROM" || die "the target never came up"
poll_until 20 "Prometheus counts 1 Healthy capability (the rules' phase series)" output_is 1 \
  pt value "$PROM" "sum(heartbeat_operator_capabilities{$SEL, phase=\"Healthy\"})"
expect_eq "one capability runs, one lease is held, the replica leads" "1 1 1" \
  "$(pt value "$PROM" "heartbeat_operator_capabilities_running{$SEL}") $(pt value "$PROM" "heartbeat_operator_leases_active{$SEL}") $(pt value "$PROM" "leader_election_master_status{$SEL}")"
expect_eq "the etcd endpoint label arrives as exported_endpoint, beside the ServiceMonitor's endpoint" \
  "container=heartbeat-operator,endpoint=metrics,exported_endpoint=127.0.0.1:$ETCD_PORT,instance=127.0.0.1:$METRICS_PORT,job=$JOB,namespace=$NS,pod=hb-heartbeat-operator-0,service=$JOB" \
  "$(pt labels "$PROM" "heartbeat_operator_etcd_endpoint_up")"
poll_until 20 "Prometheus evaluates all 16 rules without error" output_is 16 pt rules-health "$PROM"
poll_until 30 "no alert is pending or firing for a healthy operator" output_is "" pt alerts "$PROM"
fetch "$METRICS_URL" >"$WORK/scrape-healthy.txt" || die "cannot scrape $METRICS_URL"
poll_until 40 "every dashboard query returns data" pt dashboard-queries "$PROM" "$DASHBOARD"

CLOSED_PORT="$(free_port)"   # nothing listens there: the check fails
expect_ok "a second Capability whose TCP check fails" capability broken chora.devex.broken "$CLOSED_PORT"
phases() { # phases PHASE...: the count of each phase, as Prometheus has it
  local p out=()
  for p in "$@"; do out+=("$(pt value "$PROM" "sum(heartbeat_operator_capabilities{$SEL, phase=\"$p\"})")"); done
  echo "${out[*]}"
}
poll_until 30 "Prometheus counts 1 Unhealthy capability, still 1 Healthy" output_is "1 1" phases Unhealthy Healthy
poll_until 20 "the dashboard's snapshot lists both Capabilities, the failing one unhealthy" \
  output_is "snapshot chora.devex.broken:unhealthy chora.devex.registry:healthy" dashboard_rows
poll_until 20 "HeartbeatOperatorCapabilitiesUnhealthy is pending for phase Unhealthy" \
  output_has "HeartbeatOperatorCapabilitiesUnhealthy pending job=$JOB,namespace=$NS,phase=Unhealthy,severity=warning" pt alerts "$PROM"
poll_until 30 "its transition is notified, and the webhook's failed attempts are counted" output_is 1 \
  pt value "$PROM" "sum(heartbeat_operator_capability_transitions_total{$SEL}) + (sum(heartbeat_operator_notifications_total{$SEL, sink=\"webhook\", result=\"failed\"}) > bool 0) - 1"
poll_until 30 "HeartbeatOperatorNotificationsFailing is pending for the webhook" \
  output_has "HeartbeatOperatorNotificationsFailing pending job=$JOB,namespace=$NS,severity=warning,sink=webhook" pt alerts "$PROM"
fetch "$METRICS_URL" >"$WORK/scrape-unhealthy.txt" || die "cannot scrape $METRICS_URL"

stop_pid "$ETCD_PID"
poll_until 30 "with etcd stopped, HeartbeatOperatorEtcdUnreachable is pending for the replica" \
  output_has "HeartbeatOperatorEtcdUnreachable pending container=heartbeat-operator,instance=127.0.0.1:$METRICS_PORT,job=$JOB,namespace=$NS,pod=hb-heartbeat-operator-0,service=$JOB,severity=critical" \
  pt alerts "$PROM"
fetch "$METRICS_URL" >"$WORK/scrape-etcd-down.txt" || die "cannot scrape $METRICS_URL"
echo "# alerts now:"; pt alerts "$PROM" | sed 's/^/#   /'
step_end

# ---------------------------------------------------------------------------------------------
step "3. every metric name the rules and the dashboard use is exposed"
ALLOW="$HERE/metric-names-allowlist.txt"
SCRAPES=(--scrape "$WORK/scrape-healthy.txt" --scrape "$WORK/scrape-unhealthy.txt" --scrape "$WORK/scrape-etcd-down.txt")
names() { "$PY" "$HERE/check-metric-names.py" "${SCRAPES[@]}" --root "$ROOT" "$@"; }
expect_ok "check-metric-names: the rules and the dashboard against the scrapes and the allowlist" \
  names --allowlist "$ALLOW" --rules "$RULES" --dashboard "$DASHBOARD"
printf '    %s\n' "$OUT"
mkdir -p "$WORK/broken"
sed 's/heartbeat_operator_leases_lost_total/heartbeat_operator_lease_lost_total/' "$RULES" >"$WORK/broken/rules-name.yaml"
expect_fail_with "  ... fails on rules with a misspelt metric" "metric heartbeat_operator_lease_lost_total is neither exposed" \
  names --allowlist "$ALLOW" --rules "$WORK/broken/rules-name.yaml"
sed 's/phase="Down"/phase="Dwon"/' "$RULES" >"$WORK/broken/rules-value.yaml"
expect_fail_with "  ... fails on rules with a misspelt phase" "never has the value 'Dwon'" \
  names --allowlist "$ALLOW" --rules "$WORK/broken/rules-value.yaml"
sed 's/result="dropped"/reason="dropped"/' "$RULES" >"$WORK/broken/rules-label.yaml"
expect_fail_with "  ... fails on rules matching a label the metric does not have" "heartbeat_operator_events_total has no label reason" \
  names --allowlist "$ALLOW" --rules "$WORK/broken/rules-label.yaml"
sed 's/workqueue_depth/workqueue_length/' "$DASHBOARD" >"$WORK/broken/dashboard.json"
expect_fail_with "  ... fails on a dashboard with a misspelt metric" "metric workqueue_length is neither exposed" \
  names --allowlist "$ALLOW" --dashboard "$WORK/broken/dashboard.json"
sed 's/_put_duration_seconds_bucket/_put_duration_seconds/' "$DASHBOARD" >"$WORK/broken/dashboard-family.json"
expect_fail_with "  ... fails on a histogram queried by its family name" "metric heartbeat_operator_put_duration_seconds is neither exposed" \
  names --allowlist "$ALLOW" --dashboard "$WORK/broken/dashboard-family.json"
{ cat "$ALLOW"; echo "metric heartbeat_operator_lease_lost_total"; } >"$WORK/broken/allow-metric.txt"
expect_fail_with "  ... fails on an allowlisted metric that src/metrics does not export" \
  "allowlisted metric heartbeat_operator_lease_lost_total is not exported by src/metrics" \
  names --allowlist "$WORK/broken/allow-metric.txt" --rules "$WORK/broken/rules-name.yaml"
sed 's/ LeaseLost / LeaseLots /' "$ALLOW" >"$WORK/broken/allow-value.txt"
expect_fail_with "  ... fails on an allowlisted phase that src/capability/phase.cc does not name" \
  'value LeaseLots of heartbeat_operator_capabilities{phase} is not a string literal' \
  names --allowlist "$WORK/broken/allow-value.txt" --rules "$RULES"
echo "prometheus upp" >"$WORK/broken/allow-prometheus.txt"
expect_fail_with "  ... fails on an allowlisted series that Prometheus does not make" "upp is not a series Prometheus makes" \
  names --allowlist "$WORK/broken/allow-prometheus.txt" --rules "$RULES"
step_end

echo
echo "test-prometheus: $PASSED passed, $FAILED failed"
if ((FAILED > 0)); then show_logs; exit 1; fi
