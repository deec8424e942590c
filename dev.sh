#!/usr/bin/env bash
# lerarenkaart developer entry point. The README's two commands call this:
#   ./dev.sh run    set up, build, and start the service (lerarenkaart serve) on its defaults
#   ./dev.sh test   set up, build, and pass every test (plain and sanitizer builds)
# Other verbs: setup, build, bench, format-check, help. Idempotent and quiet when already set up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  clang-16 libclang-rt-16-dev llvm-16 clang-format-14
  libssl-dev openssl libcurl4-openssl-dev libzip-dev zip unzip zlib1g-dev
  nlohmann-json3-dev libcpp-jwt-dev libcli11-dev libcpp-httplib-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev libqrencode-dev qrencode zbar-tools libzxing-dev libpng-dev libturbojpeg0-dev libboost1.81-dev libboost-url1.81-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libkpimpkpass-dev qtbase5-dev
  libxlsxwriter-dev python3-openpyxl
  libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-contrib
  python3 python3-jwt python3-cryptography python3-aiosmtpd python3-h2 nghttp2-server
  chromium wrk hyperfine nodejs
)

log() { printf '[dev] %s\n' "$*" >&2; }

setup() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then log "missing packages (run as root): ${missing[*]}"; exit 2; fi
    log "installing ${#missing[@]} Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/lerarenkaart-apt.log 2>&1 ||
      { tail -n 30 /tmp/lerarenkaart-apt.log; exit 1; }
  fi
  # npm packages (package-lock.json of tests/browser and web), when missing or changed.
  if ! command -v npm >/dev/null; then
    apt-get install -y -qq --no-install-recommends npm >>/tmp/lerarenkaart-apt.log 2>&1 ||
      { tail -n 30 /tmp/lerarenkaart-apt.log; exit 1; }
  fi
  # web/: the browser code the binary embeds (jsQR, the desk's camera decoder), needed to build.
  local npm_dir
  for npm_dir in tests/browser web; do
    if [ ! -f "$npm_dir/node_modules/.package-lock.json" ] ||
       [ "$npm_dir/package-lock.json" -nt "$npm_dir/node_modules/.package-lock.json" ]; then
      log "installing the npm packages of $npm_dir"
      (cd "$npm_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/tmp/lerarenkaart-npm.log 2>&1) ||
        { tail -n 30 /tmp/lerarenkaart-npm.log; exit 1; }
    fi
  done
}

# build DIR TYPE [extra cmake args...]: configure DIR as asked (every time, so a folder configured
# otherwise gets this configuration; cmake changes nothing when it already has it), then build;
# output only on failure or work.
build() {
  local dir=$1 type=$2; shift 2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
  local out
  if ! out=$(cmake --build "$dir" -j "$(nproc)" 2>&1); then printf '%s\n' "$out"; exit 1; fi
  grep -q 'no work to do' <<<"$out" || log "built $dir"
}

# The one configuration of build/, whichever verb builds it: run, build, test and bench share it.
# No fuzz corpus replays here: the sanitizer build replays the same seeds under ASan and UBSan.
release=(Release -DLK_WERROR=ON -DLK_BENCHMARKS=ON -DLK_FUZZ_REPLAY=OFF)

# Seconds each fuzz target runs in `test` (as many at once as there are cores).
fuzz_seconds=${LK_FUZZ_SECONDS:-10}
# For the sanitizers' stack traces (clang 16's own; llvm 14's cannot read its debug info).
symbolizer=/usr/lib/llvm-16/bin/llvm-symbolizer

# timed WHAT CMD...: logs WHAT, runs CMD, then logs its wall time and the CPU time (user + system)
# of the processes it ran, which is what a busy shared machine does not distort.
cpu_seconds() { local s; read -r -a s </proc/$$/stat; echo $(((s[15] + s[16]) / $(getconf CLK_TCK))); }
timed() {
  local what=$1 t0=$SECONDS c0; c0=$(cpu_seconds); shift
  log "$what"
  "$@"
  log "$what: done in $((SECONDS - t0)) s, CPU $(($(cpu_seconds) - c0)) s"
}

# Tests at once in each ctest run: twice the cores, since most of the suites' time is waiting
# (servers starting, PostgreSQL restarts, retry back-offs, read timeouts, Chromium), not CPU; the
# few tests with a time bound leave it four to five times the expected time.
test_jobs=${LK_TEST_JOBS:-$((2 * $(nproc)))}

# run_ctest DIR: every test of the build in DIR, $test_jobs at once.
run_ctest() { (cd "$1" && ctest --output-on-failure -j "$test_jobs"); }

# tsan_ctest DIR: ctest in a -DLK_TSAN=ON build. Every process writes its reports (the spawned
# lerarenkaart servers' too, which no test would see) to DIR/tsan/; any report fails the run.
tsan_ctest() {
  local dir=$1 rc=0
  rm -rf "$dir/tsan" && mkdir -p "$dir/tsan"
  TSAN_OPTIONS="log_path=$here/$dir/tsan/report suppressions=$here/tests/tsan.supp external_symbolizer_path=$symbolizer" \
    run_ctest "$dir" || rc=$?
  if compgen -G "$dir/tsan/report.*" >/dev/null; then
    head -n 80 "$dir"/tsan/report.* >&2
    log "ThreadSanitizer reports: $dir/tsan/"
    exit 1
  fi
  ((rc == 0)) || exit "$rc"
}

# bench_smoke: every benchmark once on small data, so that each still runs; never timed. Scale
# 0.005 (ledgers of about 10,000 cards) takes the console, reports and ledger benchmarks 28 s
# instead of 106 s at 0.02, through the same code.
bench_smoke() {
  for b in build/tests/bench/*_benchmark; do
    [ -x "$b" ] || continue
    LK_LEDGER_BENCH_SCALE=0.005 timeout 300 "$b" --benchmark_min_time=0.01 >"$b.smoke.log" 2>&1 ||
      { tail -n 20 "$b.smoke.log"; log "benchmark $b failed"; exit 1; }
  done
}

case "${1:-help}" in
  setup) setup ;;
  build) setup; build build "${release[@]}" ;;
  run)
    setup; build build "${release[@]}"
    shift; exec ./build/app/lerarenkaart serve --dev "$@" ;;
  test)
    setup
    timed "format check (clang-format 14, .clang-format)" tests/format_check.sh
    timed "release build (g++, -Werror, benchmarks) in build/" build build "${release[@]}"
    . tests/testing/postgres.sh
    pg_start build/pg
    trap 'pg_stop build/pg' EXIT
    export LK_TEST_POSTGRES_URL="$PG_URL"
    timed "tests (release build)" run_ctest build
    # The sanitizer builds use clang 16 at -O1 -g1 (line tables for the stack traces; quicker to
    # build than full debug info). build-fuzz has address,undefined and libFuzzer's coverage, so
    # one build runs both the suites and the fuzz targets.
    timed "sanitizer build (clang 16, address,undefined, libFuzzer) in build-fuzz/" \
      build build-fuzz Debug -DCMAKE_CXX_COMPILER=clang++-16 -DLK_WERROR=ON -DLK_FUZZ=ON "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1"
    export ASAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      timed "tests (address,undefined sanitizers)" run_ctest build-fuzz
    timed "fuzzing, each target ${fuzz_seconds} s from its seed corpus" tests/fuzz/run_fuzzers.sh build-fuzz "$fuzz_seconds"
    # Only the ledger and service suites and what they run (LK_TSAN_SUITES in cmake/lk_module.cmake).
    timed "thread sanitizer build (clang 16) in build-tsan/" \
      build build-tsan Debug -DCMAKE_CXX_COMPILER=clang++-16 -DLK_WERROR=ON -DLK_TSAN=ON "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1"
    timed "ledger and service tests (thread sanitizer)" tsan_ctest build-tsan
    timed "benchmark smoke run (small data, each bounded to 5 minutes)" bench_smoke
    log "all tests passed" ;;
  bench)
    setup; build build "${release[@]}"
    shift; for b in build/tests/bench/*_benchmark; do "$b" "$@"; done ;;
  format-check) setup; tests/format_check.sh ;;
  help|-h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) log "unknown verb '$1' (try: ./dev.sh help)"; exit 2 ;;
esac
