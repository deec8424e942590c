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
case "$sink" in
  aiosmtpd) cmd=(/usr/bin/python3 tests/mail/smtp_sink.py --discard) ;;
  null) cmd=(/usr/bin/python3 tests/bench/smtp_null_sink.py) ;;
  *) echo "unknown sink $sink" >&2; exit 2 ;;
esac
coproc SINK { exec "${cmd[@]}"; }
sink_pid=$SINK_PID
trap 'kill "$sink_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
read -r word port <&"${SINK[0]}"
[ "$word" = PORT ] || { echo "sink did not start" >&2; exit 1; }
echo "mails=$n sink=$sink ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)) journal=$work/run.journal"
start_cpu=$(awk '{print $14+$15}' "/proc/$sink_pid/stat")
/usr/bin/time -f "sender: wall %e s, user %U s, sys %S s, max RSS %M KB" \
  "$bin" --url "smtp://127.0.0.1:$port" --count "$n" --journal "$work/run.journal" --batch "$batch"
ticks=$(getconf CLK_TCK)
echo "sink: CPU $(( ($(awk '{print $14+$15}' "/proc/$sink_pid/stat") - start_cpu) / ticks )) s"
