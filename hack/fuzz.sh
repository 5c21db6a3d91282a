#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz/, then runs each for SECONDS (default 30) on a
# copy of its seed corpus fuzz/corpus/<target>/ with its dictionary fuzz/dict/<target>.dict
# (the copy, build-fuzz/corpus/<target>/, gets the inputs found; the repository's corpus is
# never written).
#
#   hack/fuzz.sh [SECONDS]
#
# Prints per target the executions run and exits non-zero when any target crashed, leaked,
# timed out (10 s per input), ran out of memory (2 GB) or had a sanitizer report; the inputs
# that did so are saved under build-fuzz/findings/ (reproduce with
# build-fuzz/fuzz/<target>_fuzzer <file>) and the full logs are build-fuzz/fuzz-logs/.
# FUZZ_TARGETS (default: all) picks targets, e.g. FUZZ_TARGETS="manifest kubeconfig".
# HB_BUILD_LOCK: a lock file to take (flock) around each build and each run, on machines
# where several builds share the cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-30}
build=$root/build-fuzz
targets=(${FUZZ_TARGETS:-manifest health_value watch_decoder kubeconfig capability})

locked() {
  if [[ -n ${HB_BUILD_LOCK:-} ]]; then
    flock "$HB_BUILD_LOCK" "$@"
  else
    "$@"
  fi
}

# The last value of one of libFuzzer's -print_final_stats lines in $log.
final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }

start=$(date +%s)
locked env CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DHB_FUZZ=ON -DHB_WERROR=ON \
  -DHB_BUILD_TESTS=OFF >/dev/null
locked cmake --build "$build" --target fuzzers
echo "fuzz: built in $(($(date +%s) - start)) s"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mkdir -p "$build/findings" "$build/fuzz-logs"
failed=()
for target in "${targets[@]}"; do
  binary=$build/fuzz/${target}_fuzzer
  corpus=$build/corpus/$target
  log=$build/fuzz-logs/$target.log
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp "$root/fuzz/corpus/$target"/* "$corpus/"
  dict=()
  [[ -f $root/fuzz/dict/$target.dict ]] && dict=(-dict="$root/fuzz/dict/$target.dict")
  marker=$(mktemp)
  status=0
  locked "$binary" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/findings/$target-" "${dict[@]}" >"$log" 2>&1 ||
    status=$?
  # libFuzzer's own "Done N runs in S second(s)" (absent after a crash); lock waits excluded.
  ran=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  found=$(find "$build/findings" -name "$target-*" -newer "$marker" | sort)
  rm -f "$marker"
  reports=$(grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|FUZZ PROPERTY BROKEN' \
    "$log" | head -5 || true)
  printf 'fuzz: %-14s %10s executions in %s s (%s/s), %s new inputs, peak %s MB' "$target" \
    "$(final_stat number_of_executed_units)" "${ran:--}" "$(final_stat average_exec_per_sec)" \
    "$(final_stat new_units_added)" "$(final_stat peak_rss_mb)"
  if ((status != 0)) || [[ -n $found || -n $reports ]]; then
    echo ": FAILED (exit status $status)"
    [[ -n $reports ]] && echo "$reports" | sed 's/^/    /'
    [[ -n $found ]] && echo "$found" | sed 's/^/    saved: /'
    echo "    log: $log"
    failed+=("$target")
  else
    echo ": ok"
  fi
done
echo "fuzz: ${#targets[@]} targets in $(($(date +%s) - start)) s"
if ((${#failed[@]} > 0)); then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
