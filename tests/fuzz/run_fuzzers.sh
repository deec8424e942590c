#!/usr/bin/env bash
# Runs every libFuzzer target of a -DLK_FUZZ=ON build for a bounded time, starting from its seed
# corpus, as many at once as there are cores, and prints one line per target with its executions
# per second. Fails on any crash, leak, timeout (one input over 10 s) or out-of-memory (2 GiB):
# the log and the input that did it are kept in BUILD/fuzz/NAME/ (crash-*, leak-*, timeout-*,
# oom-*); `BUILD/tests/fuzz/NAME_fuzz FILE` replays it.
#   tests/fuzz/run_fuzzers.sh BUILD SECONDS_PER_TARGET
set -euo pipefail
build=$1 seconds=$2
seeds=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/corpus

# Targets that run threads holding OpenSSL's per-thread state need whole allocation stacks
# (unwound through OpenSSL, built without frame pointers) for tests/fuzz/lsan.supp to match;
# whole stacks cost the other targets up to five times their rate, so only these get them.
slow_unwind=" http_request "

fuzz_one() {  # NAME: BUILD/fuzz/NAME/{corpus/,fuzz.log}; new inputs go to corpus/, never to the seeds
  local name=$1 work=$build/fuzz/$1 unwind=1
  rm -rf "$work" && mkdir -p "$work/corpus"
  [[ $slow_unwind == *" $name "* ]] && unwind=0
  # Scratch space for the target's files (tmpfs if any; also its TMPDIR), removed afterwards.
  local tmp rc=0
  tmp=$(mktemp -d /dev/shm/lk-fuzz-XXXXXX 2>/dev/null || mktemp -d)
  TMPDIR=$tmp LK_FUZZ_TMPDIR=$tmp ASAN_OPTIONS=fast_unwind_on_malloc=$unwind UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    LSAN_OPTIONS=suppressions=$seeds/../lsan.supp \
    "$build/tests/fuzz/${name}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "$seeds/$name" >"$work/fuzz.log" 2>&1 || rc=$?
  rm -rf "$tmp"
  return "$rc"
}

names=()
for bin in "$build"/tests/fuzz/*_fuzz; do
  [ -x "$bin" ] && names+=("$(basename "$bin" _fuzz)")
done
((${#names[@]})) || { echo "no fuzz targets in $build/tests/fuzz" >&2; exit 1; }

declare -A pid
running=0
for name in "${names[@]}"; do
  if ((running >= $(nproc))); then wait -n || true; running=$((running - 1)); fi
  fuzz_one "$name" & pid[$name]=$!
  running=$((running + 1))
done

failed=0
for name in "${names[@]}"; do
  log=$build/fuzz/$name/fuzz.log
  if wait "${pid[$name]}"; then
    runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log")
    printf '  %-16s %8s exec/s  %10s runs in %s s, corpus %s inputs\n' "$name" "$rate" "$runs" "$seconds" \
      "$(($(ls "$build/fuzz/$name/corpus" | wc -l) + $(ls "$seeds/$name" | wc -l)))"
  else
    failed=1
    printf '  %-16s FAILED (%s)\n' "$name" "$log" >&2
    grep -E -A40 '^==[0-9]+==|runtime error|ERROR: libFuzzer|^(SUMMARY|artifact_prefix|Test unit written)' "$log" |
      head -n 60 >&2 || tail -n 40 "$log" >&2
  fi
done
exit "$failed"
