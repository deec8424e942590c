#!/usr/bin/env bash
# One change pushed to N device tokens (default 20000; the issue's figure is 150000) with
# ApnsClient over HTTP/2 + TLS client certificates on 127.0.0.1, against two stand-in APNs servers
# in the same run: tests/push/apns_stand_in.py (python3-h2, counting only) and nghttpd
# (nghttp2-server, C) requiring a client certificate. nghttpd answers every push 404 (no such
# file): a whole HTTP/2 exchange, counted as answered_not_200; its --echo-upload would answer 200
# but writes every request body to a temporary file and ran slower than Python. Prints each run's JSON line (pushes/s, time,
# client CPU and peak RSS, connections) and the ratio of the two rates, which says how much the
# Python stand-in limits the figure. Usage (from the source root, after a build with
# -DLK_BENCHMARKS=ON):  tests/bench/push_load.sh [N=20000] [MAX_IN_FLIGHT=500]
set -euo pipefail
n=${1:-20000}
in_flight=${2:-500}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
driver=${LK_PUSH_LOAD:-$here/build/tests/bench/push_load}
work=$(mktemp -d /tmp/lk-push-load.XXXXXX)
. "$here/tests/bench/stand_ins.sh"
trap 'stand_in_stop; rm -rf "$work"' EXIT
echo "N=$n in_flight=$in_flight ($(machine_line)) $(curl --version | head -1 | grep -o 'nghttp2/[0-9.]*')"

# 1. The Python stand-in, counting only.
apns_stand_in_start "$work"
c=$certs
py=$("$driver" "https://127.0.0.1:$apns_port" "$n" "$c/ca.pem" "$c/client.pem" "$c/client-key.pem" "$in_flight")
py_cpu=$(cpu_of "$server")
stand_in_stop
echo "python3-h2 stand-in: $py"
echo "python3-h2 stand-in: server $(cat "$work/stats.json"), server CPU ${py_cpu} s"

# 2. nghttpd, requiring a client certificate; 404 for every push.
if command -v nghttpd >/dev/null; then
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/docroot"
  nghttpd --verify-client -a 127.0.0.1 -d "$work/docroot" "$port" "$c/server-key.pem" "$c/server.pem" \
    >"$work/nghttpd.log" 2>&1 &
  server=$!
  for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  ng=$("$driver" "https://127.0.0.1:$port" "$n" "$c/ca.pem" "$c/client.pem" "$c/client-key.pem" "$in_flight")
  ng_cpu=$(cpu_of "$server")
  stand_in_stop
  echo "nghttpd:             $ng"
  echo "nghttpd:             server CPU ${ng_cpu} s"
  rate() { grep -o '"pushes_per_s": [0-9]*' <<<"$1" | grep -o '[0-9]*$'; }
  echo "ratio nghttpd / python3-h2 pushes/s: $(awk -v a="$(rate "$ng")" -v b="$(rate "$py")" 'BEGIN {printf "%.2f", a / b}')"
fi
