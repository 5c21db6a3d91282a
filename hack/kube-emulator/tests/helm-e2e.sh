#!/usr/bin/env bash
# Drives the real helm (installed by hack/install-helm.sh into BUILD_DIR/tools) against the
# kube emulator: lint, template, install, upgrade, uninstall of testdata/chart.
#   helm-e2e.sh [BUILD_DIR]
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

REPO_ROOT="$(cd "$HERE/../../.." && pwd)"
BUILD_DIR="${1:-$REPO_ROOT/build}"
CHART="$DATA/chart"
"$REPO_ROOT/hack/install-helm.sh" "$BUILD_DIR/tools" >/dev/null || { echo "helm could not be installed" >&2; exit 1; }
HELM="$BUILD_DIR/tools/helm"
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"
h() { timeout 120 "$HELM" --kubeconfig "$WORK/kubeconfig" "$@"; }

start_emulator || exit 1
echo "# helm e2e against 127.0.0.1:$PORT with $("$HELM" version --short)"

expect_ok "helm lint" h lint "$CHART"
expect_contains "lint result" "1 chart(s) linted, 0 chart(s) failed" "$OUT"
expect_ok "helm template" h template demo "$CHART"
for kind in ServiceAccount ConfigMap Service Deployment Role RoleBinding ClusterRole ClusterRoleBinding Gizmo; do
  expect_contains "template renders a $kind" "kind: $kind" "$OUT"
done

expect_ok "helm install" h install demo "$CHART" --namespace default
expect_contains "install status" "STATUS: deployed" "$OUT"
expect_eq "the chart's CRD was created and established" "True" \
  "$(k get crd gizmos.demo.example.dev -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')"
for obj in serviceaccount/demo configmap/demo-config service/demo deployment.apps/demo role.rbac.authorization.k8s.io/demo \
  rolebinding.rbac.authorization.k8s.io/demo gizmo.demo.example.dev/demo; do
  expect_eq "$obj exists after install" "$obj" "$(k get "$obj" -o name 2>&1)"
done
for obj in clusterrole.rbac.authorization.k8s.io/demo-default clusterrolebinding.rbac.authorization.k8s.io/demo-default; do
  expect_eq "$obj exists after install" "$obj" "$(k get "$obj" -o name 2>&1)"
done
expect_eq "objects carry helm's labels" "Helm" \
  "$(k get configmap demo-config -o jsonpath='{.metadata.labels.app\.kubernetes\.io/managed-by}')"
expect_eq "release stored in a helm.sh/release.v1 secret" "secret/sh.helm.release.v1.demo.v1" \
  "$(k get secrets -l owner=helm,name=demo --field-selector type=helm.sh/release.v1 -o name)"
expect_ok "helm list" h list
expect_contains "release listed as deployed" "deployed" "$(grep demo <<<"$OUT")"

expect_ok "helm upgrade" h upgrade demo "$CHART" --set greeting=bonjour --set replicas=2
expect_contains "upgrade status" "REVISION: 2" "$OUT"
expect_eq "configmap updated by the upgrade" "bonjour" "$(k get configmap demo-config -o jsonpath='{.data.greeting}')"
expect_eq "deployment updated by the upgrade" "2 2" \
  "$(k get deployment demo -o jsonpath='{.spec.replicas} {.metadata.generation}')"
expect_eq "containers kept by the strategic merge" "app registry.example/demo:1.0.0" \
  "$(k get deployment demo -o jsonpath='{.spec.template.spec.containers[*].name} {.spec.template.spec.containers[*].image}')"
expect_ok "helm history" h history demo
expect_contains "first revision superseded" "superseded" "$(grep '^1' <<<"$OUT")"
expect_contains "second revision deployed" "Upgrade complete" "$(grep '^2' <<<"$OUT")"
expect_ok "helm status" h status demo
expect_contains "status deployed" "STATUS: deployed" "$OUT"

expect_ok "helm uninstall" h uninstall demo
expect_contains "uninstall message" 'release "demo" uninstalled' "$OUT"
for obj in serviceaccount/demo configmap/demo-config service/demo deployment.apps/demo role.rbac.authorization.k8s.io/demo \
  rolebinding.rbac.authorization.k8s.io/demo clusterrole.rbac.authorization.k8s.io/demo-default \
  clusterrolebinding.rbac.authorization.k8s.io/demo-default gizmo.demo.example.dev/demo; do
  expect_fail "$obj is gone after uninstall" k get "$obj" -o name
  expect_contains "$obj NotFound" "NotFound" "$OUT"
done
expect_eq "release secrets are gone" "" "$(k get secrets -l owner=helm -o name)"
expect_eq "helm keeps the CRD" "customresourcedefinition.apiextensions.k8s.io/gizmos.demo.example.dev" \
  "$(k get crd gizmos.demo.example.dev -o name)"
expect_ok "helm list after uninstall" h list
expect_not_contains "no release left" "demo" "$OUT"
finish
