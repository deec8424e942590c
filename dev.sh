#!/usr/bin/env bash
# lerarenkaart developer entry point. The README's two commands call this:
#   ./dev.sh run    set up, build, and start the service (lerarenkaart serve) on its defaults
#   ./dev.sh test   set up, build, and pass every test (plain and sanitizer builds)
# Other verbs: setup, build, bench, help. Idempotent and quiet when already set up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libssl-dev openssl libcurl4-openssl-dev libzip-dev zip unzip zlib1g-dev
  nlohmann-json3-dev libcpp-jwt-dev libcli11-dev libcpp-httplib-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev libqrencode-dev qrencode zbar-tools libboost1.81-dev libboost-url1.81-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-contrib
  python3 python3-jwt python3-cryptography
  chromium wrk hyperfine
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
}

# build DIR TYPE [extra cmake args...]: configure once, then build; output only on failure or work.
build() {
  local dir=$1 type=$2; shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >"$dir.configure.log" 2>&1 ||
      { cat "$dir.configure.log"; exit 1; }
  fi
  local out
  if ! out=$(cmake --build "$dir" -j "$(nproc)" 2>&1); then printf '%s\n' "$out"; exit 1; fi
  grep -q 'no work to do' <<<"$out" || log "built $dir"
}

case "${1:-help}" in
  setup) setup ;;
  build) setup; build build Release -DLK_WERROR=ON ;;
  run)
    setup; build build Release
    shift; exec ./build/app/lerarenkaart serve --dev "$@" ;;
  test)
    setup
    build build Release -DLK_WERROR=ON -DLK_BENCHMARKS=ON
    . tests/testing/postgres.sh
    pg_start build/pg
    trap 'pg_stop build/pg' EXIT
    export LK_TEST_POSTGRES_URL="$PG_URL"
    log "tests (release build)"
    (cd build && ctest --output-on-failure -j "$(nproc)")
    # -g1: line tables for the sanitizers' stack traces without full debug info (quicker to build and link).
    build build-asan Debug -DLK_WERROR=ON -DLK_SANITIZE=ON -DCMAKE_CXX_FLAGS_DEBUG=-g1
    log "tests (address,undefined sanitizers)"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      ctest --output-on-failure -j "$(nproc)")
    log "benchmark smoke run (small data, each bounded to 5 minutes)"
    for b in build/tests/bench/*_benchmark; do
      [ -x "$b" ] || continue
      LK_LEDGER_BENCH_SCALE=0.02 timeout 300 "$b" --benchmark_min_time=0.01 >"$b.smoke.log" 2>&1 ||
        { tail -n 20 "$b.smoke.log"; log "benchmark $b failed"; exit 1; }
    done
    log "all tests passed" ;;
  bench)
    setup; build build Release -DLK_BENCHMARKS=ON
    shift; for b in build/tests/bench/*_benchmark; do "$b" "$@"; done ;;
  help|-h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) log "unknown verb '$1' (try: ./dev.sh help)"; exit 2 ;;
esac
