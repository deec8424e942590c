#!/usr/bin/env bash
# The pass update pusher end to end (build/tests/bench/wallet_push_load): N holders with a card
# and one registered device each on a real ledger, a change of every pass queued, one pusher run
# against the python3-h2 stand-in APNs (tests/push/apns_stand_in.py, counting only, TLS with the
# client certificate required), then 2000 changed-since queries. Prints the driver's JSON line and
# the stand-in's CPU. Usage (from the source root, after a build with -DLK_BENCHMARKS=ON):
#   tests/bench/wallet_push_load.sh [N=20000] [LEDGER_URL]
# Without LEDGER_URL the ledger is SQLite in a fresh folder under $LK_LOAD_DIR (default /tmp).
set -euo pipefail
n=${1:-20000}
ledger_url=${2:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
driver=${LK_WALLET_PUSH_LOAD:-$here/build/tests/bench/wallet_push_load}
work=$(mktemp -d "${LK_LOAD_DIR:-/tmp}/lk-wallet-push.XXXXXX")
. "$here/tests/bench/stand_ins.sh"
trap 'stand_in_stop; rm -rf "$work"' EXIT
echo "N=$n ($(machine_line)) ledger=${ledger_url:-sqlite in $work}"
apns_stand_in_start "$work"
c=$certs
mkdir -p "$work/ledger"
args=("https://127.0.0.1:$apns_port" "$n" "$c/ca.pem" "$c/client.pem" "$c/client-key.pem" "$work/ledger")
[ -n "$ledger_url" ] && args+=("$ledger_url")
/usr/bin/time -v "$driver" "${args[@]}" 2>"$work/time.txt"
grep -E "Maximum resident|Elapsed" "$work/time.txt"
cpu=$(cpu_of "$server")
stand_in_stop
echo "stand-in: $(cat "$work/stats.json"), server CPU ${cpu} s"
