#!/usr/bin/env bash
# The new card year at scale, against a baseline in the same run on the same ledger: N holders of
# a digital card of this year Y who are all on the roster of Y+1 (card_year_load sets it up), then
#   1. baseline: `keys rotate` + `lerarenkaart cards refresh --year Y` (re-signs and stores every
#      card's token, queues a push each: one signature and one card write per card);
#   2. `lerarenkaart cards renew --year Y+1 --early` (issues every holder's card of Y+1 in the same
#      wallet entry: one signature, one new card with the aggregates, one push each).
# Prints each command's wall time, CPU and peak RSS, and renew / refresh. Usage (from the source
# root, after a build with -DLK_BENCHMARKS=ON):
#   tests/bench/card_year_load.sh [N=20000] [LEDGER_URL]
# Without LEDGER_URL the ledger is SQLite in a fresh folder under $LK_LOAD_DIR (default /tmp).
set -euo pipefail
n=${1:-20000}
ledger_url=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$here/build/app/lerarenkaart
setup=$here/build/tests/bench/card_year_load
work=$(mktemp -d "${LK_LOAD_DIR:-/tmp}/lk-card-year.XXXXXX")
trap 'rm -rf "$work"' EXIT
year=$(TZ=Europe/Brussels date +%Y)
# This year's shipped design, declared to serve the next year too (the renewed passes need one).
mkdir -p "$work/templates"
cp -r "$here/templates/$year" "$work/templates/$year"
sed -i 's/"templateVersion": 1,/"templateVersion": 1,\n  "followingYears": true,/' "$work/templates/$year/template.json"
printf '[server]\nthreads = 2\n[passes]\ntemplates_dir = "%s"\n' "$work/templates" >"$work/config.toml"
lk=("$bin" --data-dir "$work/var" --config "$work/config.toml")
echo "N=$n cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg) ledger=${ledger_url:-sqlite in $work}"
mkdir -p "$work/var"
"${lk[@]}" keys init >/dev/null
args=("$work/var" "$n" "$year")
[ -n "$ledger_url" ] && args+=("$ledger_url")
"$setup" "${args[@]}"
ledger=()
[ -n "$ledger_url" ] && ledger=(--ledger "$ledger_url")
"${lk[@]}" keys rotate >/dev/null
run() {  # NAME COMMAND...: wall seconds, CPU seconds and peak RSS of one command
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" "$@" >"$work/$name.out"
  read -r wall user sys rss <"$work/$name.time"
  printf '%s: wall %.1f s, CPU %.1f s, peak RSS %d MB\n  %s\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" \
    $((rss / 1024)) "$(head -1 "$work/$name.out")"
  eval "${name}_wall=$wall"
}
echo "load before refresh: $(cut -d' ' -f1 /proc/loadavg)"
run refresh "${lk[@]}" cards refresh --year "$year" "${ledger[@]}"
echo "load before renew: $(cut -d' ' -f1 /proc/loadavg)"
run renew "${lk[@]}" cards renew --year $((year + 1)) --early "${ledger[@]}"
echo "renew / refresh = $(echo "scale=2; $renew_wall / $refresh_wall" | bc)"
"${lk[@]}" ledger verify "${ledger[@]}" | tail -1
