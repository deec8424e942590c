# The servers the load scripts run against, sourced by them (bash, set -euo pipefail):
#   smtp_sink_start KIND      aiosmtpd: tests/mail/smtp_sink.py --discard (Debian's python3-aiosmtpd,
#                             a real SMTP server that parses every command and message, then drops
#                             it); null: tests/bench/smtp_null_sink.py (answers each line without
#                             parsing). Sets sink_pid and sink_port; the sink ends with the script.
#   apns_stand_in_start DIR   tests/push/apns_stand_in.py (python3-h2, counting only, TLS with the
#                             client certificate required), certificates made into DIR/certs by
#                             tests/push/make_certs.sh. Sets server (its pid), apns_port and certs;
#                             its counts go to DIR/stats.json when it ends.
#   stand_in_stop             ends $server (also on exit, through the EXIT trap the caller sets
#                             to `stand_in_stop; rm -rf "$work"`).
#   cpu_of PID                the process's user + system CPU seconds so far (from /proc).
#   machine_line              cores and load average, for the first line of a run's output.
stand_ins_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
server=

cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
machine_line() { echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"; }

smtp_sink_start() {
  local cmd
  case "$1" in
    aiosmtpd) cmd=(/usr/bin/python3 "$stand_ins_root/tests/mail/smtp_sink.py" --discard) ;;
    null) cmd=(/usr/bin/python3 "$stand_ins_root/tests/bench/smtp_null_sink.py") ;;
    *) echo "unknown sink $1 (aiosmtpd or null)" >&2; exit 2 ;;
  esac
  coproc SINK { exec "${cmd[@]}"; }
  sink_pid=$SINK_PID
  local word
  read -r word sink_port <&"${SINK[0]}"
  [ "$word" = PORT ] || { echo "the SMTP sink did not start" >&2; exit 1; }
}

apns_stand_in_start() {
  local dir=$1
  "$stand_ins_root/tests/push/make_certs.sh" "$dir/certs"
  certs=$dir/certs
  /usr/bin/python3 "$stand_ins_root/tests/push/apns_stand_in.py" --cert "$certs/server.pem" \
    --key "$certs/server-key.pem" --client-ca "$certs/ca.pem" --port-file "$dir/port" --stats "$dir/stats.json" &
  server=$!
  for _ in $(seq 200); do [ -s "$dir/port" ] && break; sleep 0.05; done
  [ -s "$dir/port" ] || { echo "the APNs stand-in did not start" >&2; exit 1; }
  apns_port=$(cat "$dir/port")
}

stand_in_stop() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  fi
  if [ -n "${sink_pid:-}" ]; then kill "$sink_pid" 2>/dev/null || true; fi
}
