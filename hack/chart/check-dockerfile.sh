#!/usr/bin/env bash
# Checks the Dockerfile by construction (hack/test-image.sh builds and runs it for real):
#  (a) the runtime stage installs exactly the Debian packages of the shared libraries the
#      built executable links against (ldd + dpkg -S; libc6, libstdc++6 and libgcc-s1 come
#      with debian:bookworm-slim), and each of them exists in this Debian release;
#  (b) the build stage runs hack/install-deps.sh and configures and builds the way
#      hack/test.sh does (same generator and -D options, tests off, ninja heartbeat-operator);
#  (c) the runtime stage runs as a numeric non-root USER (the chart's runAsUser too) with an
#      exec-form ENTRYPOINT and CMD, and the ENTRYPOINT is the executable copied in;
#  (d) the build context left by .dockerignore holds no build tree or .git, and CMake can
#      configure it and ninja knows how to build heartbeat-operator from it (dry run);
#  (e) the classic builder can build it (Debian has no buildx): no syntax directive, no
#      BuildKit-only flag such as RUN --mount, no heredoc.
#
#   hack/chart/check-dockerfile.sh [BUILD_DIR]     (default BUILD_DIR: <repo>/build)
# Exits 0 when every check passes, 1 otherwise. DOCKERFILE=PATH checks another file,
# BINARY=PATH another copy of the executable, and CHECK_CONTEXT=0 skips (d).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${1:-$ROOT/build}"
BINARY="${BINARY:-$BUILD_DIR/controller/heartbeat-operator}"
DOCKERFILE="${DOCKERFILE:-$ROOT/Dockerfile}"   # another file: for testing this script
PY=/usr/bin/python3
# In debian:bookworm-slim already (and libc6 also provides the dynamic loader).
BASE_PACKAGES="libc6 libstdc++6 libgcc-s1"

FAILED=0
pass() { echo "ok   - $1"; }
fail() { echo "FAIL - $1" >&2; FAILED=$((FAILED + 1)); }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/check-dockerfile.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

[[ -f "$DOCKERFILE" ]] || { echo "FAIL - $DOCKERFILE is missing" >&2; exit 1; }
[[ -x "$BINARY" ]] || { echo "FAIL - $BINARY is missing: build it (ninja -C $BUILD_DIR heartbeat-operator)" >&2; exit 1; }

# dockerfile QUERY: answers from the parsed Dockerfile (see the Python below).
dockerfile() { "$PY" "$HERE/dockerfile_query.py" "$DOCKERFILE" "$@"; }

# --- (a) runtime libraries -------------------------------------------------------------
ldd_out="$(ldd "$BINARY" 2>&1)" || { fail "ldd $BINARY: $ldd_out"; }
if grep -q "not found" <<<"$ldd_out"; then
  fail "ldd finds unresolved libraries: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t' ' ')"
fi
# One dpkg -S for every library (and its other spellings: /lib and /usr/lib are one
# directory on merged-/usr systems, and dpkg knows only the packaged name).
mapfile -t libs < <(awk '/=>/ && $3 ~ /^\// {print $3} /^[ \t]*\/[^ ]+ \(0x/ {print $1}' <<<"$ldd_out" | sort -u)
candidates=()
for lib in "${libs[@]}"; do
  candidates+=("$lib" "$(readlink -f "$lib")")
  if [[ "$lib" == /usr/* ]]; then candidates+=("${lib#/usr}"); else candidates+=("/usr$lib"); fi
done
owners="$(dpkg -S "${candidates[@]}" 2>/dev/null)"
needed=()
for lib in "${libs[@]}"; do
  pkg=""
  for candidate in "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"; do
    pkg="$(awk -v f="$candidate" '{p=$0; sub(/: .*/, "", p); path=$0; sub(/^[^ ]*: /, "", path); if (path == f) {sub(/:.*/, "", p); print p; exit}}' <<<"$owners")"
    [[ -n "$pkg" ]] && break
  done
  if [[ -z "$pkg" ]]; then
    fail "no Debian package ships $lib (a library built or copied by hand cannot be installed in the runtime stage)"
    continue
  fi
  needed+=("$pkg")
done
needed_sorted="$(printf '%s\n' "${needed[@]}" | sort -u | grep -vxF -f <(tr ' ' '\n' <<<"$BASE_PACKAGES") || true)"
# A sanitizer build (SANITIZE=... in BUILD_DIR) links its sanitizer runtime; the image's does not.
sanitize="$(sed -n 's/^SANITIZE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)"
if [[ -n "$sanitize" ]]; then
  echo "note - $BUILD_DIR is a SANITIZE=$sanitize build: its sanitizer runtime is left out of the comparison"
  needed_sorted="$(grep -vE '^lib(asan|tsan|ubsan|lsan|hwasan)[0-9]+$' <<<"$needed_sorted" || true)"
fi
installed_sorted="$(dockerfile runtime-packages | sort -u)"
if [[ "$needed_sorted" == "$installed_sorted" ]]; then
  pass "runtime stage installs exactly the packages of the linked libraries: $(echo $needed_sorted)"
else
  missing="$(comm -23 <(echo "$needed_sorted") <(echo "$installed_sorted") | xargs)"
  extra="$(comm -13 <(echo "$needed_sorted") <(echo "$installed_sorted") | xargs)"
  fail "runtime stage packages differ from the linked libraries' packages: missing [${missing}] extra [${extra}]"
fi
unknown=()
known="$(apt-cache show --no-all-versions $installed_sorted 2>/dev/null | sed -n 's/^Package: //p' | sort -u)"
for p in $installed_sorted; do
  grep -qxF "$p" <<<"$known" || unknown+=("$p")
done
if ((${#unknown[@]} == 0)); then
  pass "every runtime package exists in this Debian release ($(. /etc/os-release; echo "$VERSION_CODENAME"))"
else
  fail "runtime packages unknown to apt here: ${unknown[*]}"
fi
expect_from() {
  local what="$1" want="$2" got
  got="$(dockerfile from "$what")"
  if [[ "$got" == "$want" ]]; then pass "$what stage is FROM $want"; else fail "$what stage is FROM '$got', expected $want"; fi
}
expect_from build "debian:bookworm"
expect_from runtime "debian:bookworm-slim"
[[ "$(. /etc/os-release; echo "$VERSION_CODENAME")" == bookworm ]] \
  || fail "this machine is not Debian bookworm: package names may not match the image's"

# --- (b) build stage = CI ----------------------------------------------------------------
if dockerfile build-runs-install-deps; then
  pass "build stage copies and runs hack/install-deps.sh before building"
else
  fail "build stage does not COPY and RUN hack/install-deps.sh (before the cmake step)"
fi
# The cmake options CI passes (hack/test.sh), with ${VAR:-} defaults taken as empty.
ci_cmake="$(grep -E '^[[:space:]]*cmake[[:space:]]' "$ROOT/hack/test.sh" | head -n 1)"
[[ -n "$ci_cmake" ]] || fail "no cmake line in hack/test.sh"
ci_opts="$("$PY" - "$ci_cmake" <<'PY'
import re, shlex, sys
line = re.sub(r'\$\{[A-Za-z_]+:-([^}]*)\}', r'\1', sys.argv[1])
toks = shlex.split(line.split('>')[0])
out, i = [], 0
while i < len(toks):
    t = toks[i]
    if t == "-G":
        out.append("-G " + toks[i + 1]); i += 2; continue
    if t.startswith("-D") or t.startswith("-G"):
        out.append(t)
    i += 1
print("\n".join(out))
PY
)"
df_cmake_opts="$(dockerfile build-cmake-options)"
for opt in $(tr ' ' '~' <<<"$ci_opts") "-DHB_BUILD_TESTS=OFF"; do
  opt="${opt//\~/ }"
  if grep -qxF -- "$opt" <<<"$df_cmake_opts"; then
    pass "build stage cmake has $opt"
  else
    fail "build stage cmake lacks '$opt' (hack/test.sh: $ci_cmake)"
  fi
done
if dockerfile build-ninja-target heartbeat-operator; then
  pass "build stage runs ninja -C <build dir> heartbeat-operator in cmake's build dir"
else
  fail "build stage does not run 'ninja -C <cmake -B dir> heartbeat-operator'"
fi

# --- (c) runtime user and entrypoint -----------------------------------------------------
user="$(dockerfile runtime-user)"
if [[ "$user" =~ ^([0-9]+)(:([0-9]+))?$ ]] && ((BASH_REMATCH[1] != 0)) && [[ -z "${BASH_REMATCH[3]}" || "${BASH_REMATCH[3]}" != 0 ]]; then
  pass "runtime USER is numeric and non-root ($user)"
  uid="${BASH_REMATCH[1]}"
  chart_uid="$("$PY" -c 'import sys,yaml; v=yaml.safe_load(open(sys.argv[1])); print(v["podSecurityContext"]["runAsUser"], v["securityContext"]["runAsUser"])' "$ROOT/charts/heartbeat-operator/values.yaml" 2>/dev/null)"
  if [[ "$chart_uid" == "$uid $uid" ]]; then
    pass "the chart runs as the image's user ($uid)"
  else
    fail "the chart's runAsUser ($chart_uid) differs from the image's USER $uid"
  fi
else
  fail "runtime USER '$user' is not a numeric non-root UID[:GID] (Kubernetes' runAsNonRoot needs a number)"
fi
if out="$(dockerfile runtime-exec-form)"; then
  pass "runtime ENTRYPOINT and CMD are exec form ($out)"
else
  fail "runtime ENTRYPOINT/CMD: $out"
fi
if dockerfile runtime-shell-free; then
  pass "nothing at run time needs a shell (no shell-form ENTRYPOINT, CMD or HEALTHCHECK)"
else
  fail "the runtime stage needs a shell at run time"
fi

# --- (d) the build context ------------------------------------------------------------------
ctx="$WORK/context"
if [[ "${CHECK_CONTEXT:-1}" == 0 ]]; then
  echo "skip - the build context (CHECK_CONTEXT=0)"
elif "$PY" "$HERE/dockerfile_query.py" "$DOCKERFILE" context "$ROOT" "$ctx" >"$WORK/context.txt"; then
  files=$(wc -l <"$WORK/context.txt")
  if grep -qE '^(build[^/]*|\.git)/' "$WORK/context.txt"; then
    fail ".dockerignore lets build trees or .git into the context: $(grep -E '^(build[^/]*|\.git)/' "$WORK/context.txt" | head -n 3 | xargs)"
  else
    pass ".dockerignore keeps build trees and .git out ($files files in the context)"
  fi
  for f in hack/install-deps.sh CMakeLists.txt controller/main.cc; do
    grep -qxF "$f" "$WORK/context.txt" || fail "the build context lacks $f"
  done
  if (cd "$ctx" && timeout 120 cmake -S . -B "$WORK/ctx-build" -G Ninja -DHB_WERROR=ON -DHB_BUILD_TESTS=OFF -DSANITIZE= \
        -DCMAKE_CXX_COMPILER_LAUNCHER= >"$WORK/cmake.log" 2>&1); then
    if timeout 60 ninja -C "$WORK/ctx-build" -n heartbeat-operator >"$WORK/ninja.log" 2>&1; then
      pass "the build context configures and ninja can plan heartbeat-operator ($(grep -c '^\[' "$WORK/ninja.log") steps)"
    else
      fail "ninja -n heartbeat-operator in the build context: $(tail -n 5 "$WORK/ninja.log")"
    fi
  else
    fail "cmake cannot configure the build context: $(grep -m 5 -E 'Error|error' "$WORK/cmake.log")"
  fi
else
  fail "could not assemble the build context from .dockerignore"
fi

# --- (e) the classic builder ------------------------------------------------------------------
if out="$(dockerfile classic-builder)"; then
  pass "the classic builder can build it (no syntax directive, no BuildKit-only flag or heredoc)"
else
  fail "the Dockerfile needs BuildKit, which Debian's docker.io lacks: $(tr '\n' ';' <<<"$out")"
fi

if ((FAILED > 0)); then
  echo "check-dockerfile: $FAILED check(s) failed" >&2
  exit 1
fi
echo "check-dockerfile: all checks passed"
