#!/usr/bin/env bash
# Installs playwright-core (the version pinned by hack/dashboard/package.json and its
# package-lock.json) into DEST_DIR/playwright (default: build/tools/playwright under the
# repository root) with `npm ci`, touching nothing outside it. No browser is downloaded: the
# tests drive Debian's chromium (/usr/bin/chromium, hack/install-deps.sh).
# Idempotent: an installation of the pinned version is kept as it is. Prints its directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
DEST_DIR="${1:-$REPO_ROOT/build/tools}"
TARGET="$DEST_DIR/playwright"
WANT="$(sed -n 's/.*"playwright-core": "\([^"]*\)".*/\1/p' "$HERE/package.json")"

installed() {
  [[ -f "$TARGET/node_modules/playwright-core/package.json" ]] &&
    node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' \
      "$TARGET/node_modules/playwright-core/package.json" "$WANT"
}

command -v node >/dev/null || { echo "install-playwright: 'node' is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-playwright: 'npm' is required" >&2; exit 1; }
if installed; then
  echo "$TARGET"
  exit 0
fi

mkdir -p "$TARGET"
cp "$HERE/package.json" "$HERE/package-lock.json" "$TARGET/"
echo "install-playwright: installing playwright-core $WANT into $TARGET" >&2
(cd "$TARGET" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --silent) >&2
installed || { echo "install-playwright: playwright-core $WANT did not install" >&2; exit 1; }
echo "$TARGET"
