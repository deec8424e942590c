#!/usr/bin/env bash
# Claim mails to a local SMTP server: composes and sends N mails (default 20,000; the issue's
# figure is 213,132) through the SMTP mailer, one connection, with a file journal (one fsync per
# batch of holders, 16 by default), and prints mails/s, the projected time for 213,132 mails and peak RSS.
# Usage (from the source root, after a build with -DLK_BENCHMARKS=ON):
#   tests/bench/mail_load.sh [N=20000] [SINK=aiosmtpd|null] [BATCH=16]
# SINK=aiosmtpd is tests/mail/smtp_sink.py --discard (Debian's python3-aiosmtpd: a real SMTP
# server that parses every command and message, then drops it). SINK=null is
# tests/bench/smtp_null_sink.py, a minimal SMTP responder that answers each line without parsing
# the message, to show how much of the time is the Python server rather than the sender.
# LK_MAIL_JOURNAL_DIR (default: the build directory, on disk) is where the journal goes.
set -euo pipefail
n=${1:-20000}
sink=${2:-aiosmtpd}
batch=${3:-16}
bin=${LK_MAIL_LOAD:-build/tests/bench/mail_load}
work=$(mktemp -d "${LK_MAIL_JOURNAL_DIR:-build}/lk-mail-load.XXXXXX")
. "$(dirname "${BASH_SOURCE[0]}")/stand_ins.sh"
trap 'stand_in_stop; rm -rf "$work"' EXIT
smtp_sink_start "$sink"
port=$sink_port
echo "mails=$n sink=$sink ($(machine_line)) journal=$work/run.journal"
start_cpu=$(cpu_of "$sink_pid")
/usr/bin/time -f "sender: wall %e s, user %U s, sys %S s, max RSS %M KB" \
  "$bin" --url "smtp://127.0.0.1:$port" --count "$n" --journal "$work/run.journal" --batch "$batch"
echo "sink: CPU $(awk -v a="$start_cpu" -v b="$(cpu_of "$sink_pid")" 'BEGIN {printf "%.1f", b - a}') s"
