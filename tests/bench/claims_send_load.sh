#!/usr/bin/env bash
# `lerarenkaart claims send` end to end, as staff run it: a roster of N holders with addresses
# (default 20,000; the issue's figure is 213,132) imported into a fresh ledger, then every claim
# mail sent through the CLI (codes made in the ledger, journal in the ledger, --rate 0) to a
# local SMTP server, under /usr/bin/time -v: wall time, mails/s and peak RSS.
# Usage (from the source root, after a Release build of build/app/lerarenkaart):
#   tests/bench/claims_send_load.sh [N=20000] [SINK=aiosmtpd|null] [BATCH=16]
# SINK=aiosmtpd is tests/mail/smtp_sink.py --discard (Debian's python3-aiosmtpd: a real SMTP
# server that parses every command and message, then drops it); SINK=null is
# tests/bench/smtp_null_sink.py, which answers each line without parsing.
# LK_LEDGER_URL=postgresql://... runs on PostgreSQL instead of a SQLite file in the work folder
# (LK_BENCH_DIR, default: the build directory, on disk).
set -euo pipefail
n=${1:-20000}
sink=${2:-aiosmtpd}
batch=${3:-16}
lk=${LK_BINARY:-build/app/lerarenkaart}
work=$(mktemp -d "${LK_BENCH_DIR:-build}/lk-claims-load.XXXXXX")
. "$(dirname "${BASH_SOURCE[0]}")/stand_ins.sh"
trap 'stand_in_stop; rm -rf "$work"' EXIT
smtp_sink_start "$sink"
port=$sink_port

awk -v n="$n" 'BEGIN {
  print "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter,email,language"
  split("nl fr en", langs, " ")
  for (i = 1; i <= n; i++)
    printf "S%07d,Leraar,Nummer %d,teaching,GO,basic,%d,%d,no,leraar.%d@school%d.example.be,%s\n",
      i, i, 10000 + i % 3000, 2000 + i % 7000, i, i % 500, (i % 10 == 0 ? langs[2] : (i % 10 == 1 ? langs[3] : langs[1]))
}' >"$work/roster.csv"
cat >"$work/lk.toml" <<EOF
[server]
public_url = "https://lerarenkaart.example.be"
[smtp]
url = "smtp://127.0.0.1:$port"
starttls = "off"
from = "kaart@lerarenkaart.example.be"
rate = 0
EOF
args=(--data-dir "$work" --config "$work/lk.toml")
echo "holders=$n sink=$sink batch=$batch ledger=${LK_LEDGER_URL:-sqlite} ($(machine_line))"
"$lk" "${args[@]}" keys init >/dev/null
/usr/bin/time -f "import roster: wall %e s, max RSS %M KB" "$lk" "${args[@]}" import roster "$work/roster.csv" --year 2026
start_cpu=$(cpu_of "$sink_pid")
/usr/bin/time -v -o "$work/time.txt" "$lk" "${args[@]}" claims send --year 2026 --batch "$batch"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
cpu=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' "$work/time.txt")
echo "claims send: wall ${secs} s ($wall), $(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", n / s}') mails/s," \
  "peak RSS $((rss / 1024)) MB, CPU ${cpu} s; sink CPU $(awk -v a="$start_cpu" -v b="$(cpu_of "$sink_pid")" 'BEGIN {printf "%.1f", b - a}') s"
