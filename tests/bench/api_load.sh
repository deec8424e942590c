#!/usr/bin/env bash
# Load test of the HTTP service on loopback, bounded in time, against the raw two-core ECDSA
# P-256 verify rate measured in the same run (openssl speed -elapsed -multi 2 ecdsap256).
#   [LK_LOAD_THREADS=N] [LK_LOAD_ROUNDS=N] [LK_LOAD_TOP=1] tests/bench/api_load.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
# LK_LOAD_ROUNDS repeats the measurement (baseline, verify load, pass load) on the same server
# and ends with one summary line per round.
# Prints throughput, the ratio to raw ECDSA verify, p50/p99 latency, errors, the server's RSS, the
# server's and wrk's CPU time per request, and the load average (other work on the same cores
# makes every figure noisy: compare the ratio, measured in the same run, and repeat).
# wrk runs with -t2 on the same two cores as the service and is not pinned: its CPU time is part
# of what the two cores spend per request, as the goal asks.
set -euo pipefail
build=${1:-build}; secs=${2:-10}; conns=${3:-64}; rounds=${LK_LOAD_ROUNDS:-1}
bin=$(realpath "$build/app/lerarenkaart")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/lk-load.XXXXXX)
trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
year=$(TZ=Europe/Brussels date +%Y)
cards=${LK_LOAD_CARDS:-2000}

# The service's default threads (max(4, 2 x cores)); LK_LOAD_THREADS overrides them.
cat >"$work/config.toml" <<TOML
[server]
${LK_LOAD_THREADS:+threads = $LK_LOAD_THREADS}
rate_per_address = 0
rate_per_key = 0
access_log = false
max_connections_per_address = 1000
TOML
lk() { "$bin" --data-dir "$work/var" --config "$work/config.toml" "$@"; }
{
  echo "staff_id,first_name,last_name,role,network,level,school_number,school_postcode,starter"
  for i in $(seq 1 "$cards"); do echo "L$i,Load,Test,teaching,GO,basic,1,2000,no"; done
} >"$work/roster.csv"
lk import roster "$work/roster.csv" --year "$year" >/dev/null
staff=$(lk staff add load 2>/dev/null)
partner=$(lk partners add load 2>/dev/null)
"$bin" --data-dir "$work/var" --config "$work/config.toml" serve --dev --listen 127.0.0.1:0 --port-file "$work/port" \
  >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
base="http://127.0.0.1:$port"

# Issue every card over HTTP (keep-alive), keeping the tokens.
/usr/bin/python3 - "$port" "$staff" "$cards" "$work" <<'PY'
import http.client, json, sys
port, staff, n, work = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port)
tokens = []
first = None
for i in range(1, n + 1):
    c.request("POST", "/v1/cards", json.dumps({"staff_id": f"L{i}"}),
              {"Authorization": "Bearer " + staff, "Content-Type": "application/json"})
    r = c.getresponse(); body = json.loads(r.read())
    assert r.status in (200, 201), body
    tokens.append(body["token"]); first = first or body
open(f"{work}/tokens.txt", "w").write("\n".join(tokens) + "\n")
open(f"{work}/pass_path", "w").write(first["pass_url"])
open(f"{work}/access_token", "w").write(first["access_token"])
PY
curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$work/access_token")" "$base$(cat "$work/pass_path")"

cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }  # user + system ticks
per_req() { python3 -c "print('%.0f' % (($2 - $1) * 1e6 / $(getconf CLK_TCK) / $3))"; }
# lk_verifications_total by outcome, as "active revoked expired invalid".
outcomes() {
  curl -sf "$base/metrics" | awk -F'[{}" ]+' '/^lk_verifications_total\{/ {v[$3] = $4}
    END {printf "%d %d %d %d\n", v["active"], v["revoked"], v["expired"], v["invalid"]}'
}
rss() { awk '/VmRSS|VmHWM/ {printf "%s %s kB  ", $1, $2}' "/proc/$server/status"; echo; }
summary=()
for round in $(seq "$rounds"); do
  [ "$rounds" -gt 1 ] && echo "==== round $round of $rounds"
  echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "== openssl speed -elapsed -multi 2 ecdsap256 (raw two-core baseline, same session)"
  # -elapsed: timed by the clock like wrk's rate (by default openssl speed divides by each process's
  # user CPU time, which on a shared machine is the rate of cores nobody else uses).
  raw=$(openssl speed -elapsed -seconds 5 -multi 2 ecdsap256 2>/dev/null | awk '/256 bits ecdsa \(nistp256\)/ {print $NF}' | tail -n 1)
  echo "raw ECDSA P-256 verify/s (2 cores): $raw"
  # The CPU time of one raw verify (openssl speed divides by user CPU time when single), which other
  # work on the machine does not inflate the way it shrinks a wall-clock rate.
  raw_us=$(openssl speed -seconds 3 ecdsap256 2>&1 | awk '/ECDSA verify in/ {printf "%.1f", $(NF) * 1e6 / $(NF-6)}' | tr -d s)
  echo "raw ECDSA P-256 verify: $raw_us us of CPU each (one core)"

  echo "== wrk POST /v1/verify, $cards distinct tokens, -t2 -c$conns -d${secs}s"
  # LK_LOAD_TOP=1: a snapshot of top halfway through (it costs CPU on the measured cores itself).
  if [ -n "${LK_LOAD_TOP:-}" ]; then
    (sleep $((secs / 2)); echo "server CPU mid-run: $(ps -o %cpu=,nlwp= -p $server) (%cpu since start, threads)"; top -b -n 1 | head -15 | tail -9) &
  fi
  o0=($(outcomes))
  c0=$(cpu)
  LK_TOKENS="$work/tokens.txt" LK_PARTNER_KEY="$partner" /usr/bin/time -f "%U %S" -o "$work/wrk_cpu" wrk -t2 -c"$conns" -d"${secs}s" --latency \
    -s "$here/post_verify.lua" "$base" | tee "$work/verify.txt"
  verify_rps=$(awk '/Requests\/sec/ {print $2}' "$work/verify.txt")
  n=$(awk -F'requests=' '/requests=/ {split($2, a, " "); print a[1]}' "$work/verify.txt")
  c1=$(cpu)
  # Every verification the server answered during the run must have been "active": at least as
  # many as wrk completed, at most one more per connection (in flight when wrk stopped).
  o1=($(outcomes))
  active=$((o1[0] - o0[0])); not_active=$((o1[1] - o0[1] + o1[2] - o0[2] + o1[3] - o0[3]))
  if [ "$active" -lt "$n" ] || [ "$active" -gt $((n + conns)) ]; then
    not_active="$not_active (and $active active for $n requests)"
  fi
  echo "server-side verdicts during the run: $active active for $n completed requests, $((o1[1] - o0[1])) revoked, $((o1[2] - o0[2])) expired, $((o1[3] - o0[3])) invalid (must be 0)"
  echo "server: $(rss)"
  server_us=$(per_req "$c0" "$c1" "$n")
  wrk_us=$(awk -v n="$n" '{printf "%.0f", ($1 + $2) * 1e6 / n}' "$work/wrk_cpu")
  echo "CPU per verify: server $server_us us, wrk $wrk_us us"
  echo "== wrk GET pass.pkpass (cached), -t2 -c$conns -d${secs}s"
  LK_PASS_PATH=$(cat "$work/pass_path") LK_ACCESS_TOKEN=$(cat "$work/access_token") wrk -t2 -c"$conns" -d"${secs}s" \
    --latency -s "$here/get_pass.lua" "$base" | tee "$work/pass.txt"
  echo "server: $(rss)"
  python3 -c "print('verify throughput / raw 2-core ECDSA verify = %.2f' % ($verify_rps / $raw))"
  python3 -c "print('raw verify CPU / (server + wrk CPU per verify) = %.2f (the throughput ratio two otherwise idle cores would give)' % ($raw_us / ($server_us + $wrk_us)))"
  echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  pass_rps=$(awk '/Requests\/sec/ {print $2}' "$work/pass.txt")
  pass_p99=$(awk -F'p99_ms=' '/p99_ms=/ {split($2, a, " "); print a[1]}' "$work/pass.txt")
  pass_bad=$(awk -F'non2xx_or_errors=' '/non2xx_or_errors=/ {print $2 + 0}' "$work/pass.txt")
  verify_p99=$(awk -F'p99_ms=' '/p99_ms=/ {split($2, a, " "); print a[1]}' "$work/verify.txt")
  verify_bad=$(awk -F'non2xx_or_errors=' '/non2xx_or_errors=/ {split($2, a, " "); print a[1]}' "$work/verify.txt")
  summary+=("$(python3 -c "print('| %d | %.0f (raw %.0f) | %.2f | %s ms | %s + %s | %s us | %.0f | %s ms | %s | %.1f MiB |' % ($round, $verify_rps, $raw, $verify_rps / $raw, '$verify_p99', '$verify_bad', '${not_active:-?}', '$server_us / $wrk_us', $pass_rps, '$pass_p99', '$pass_bad', $(awk '/VmHWM/ {print $2}' "/proc/$server/status") / 1024))")")
done
echo "== summary: verify/s (raw 2-core), ratio, verify p99, errors + not active, server / wrk CPU per verify, pass/s, pass p99, pass errors, peak RSS"
printf '%s\n' "${summary[@]}"
kill -TERM $server; wait $server || true
