#!/usr/bin/env bash
# Batch pass building on every core against the raw two-core RSA-2048 sign rate, measured in the
# same run, plus peak memory of the batch. Usage (from the source root, after a Release build):
#   tests/bench/passgen_batch.sh [ROWS=20000] [ROUNDS=3]
# `openssl speed -multi <cores> rsa2048` runs before the first batch and after every batch; each
# round prints the ratio batch passes/s / openssl signs/s (the mean of the runs just before and
# just after that batch, so both sides see the same load), then the median ratio. The machine
# should be otherwise idle: on a shared machine other jobs' load moves either side by tens of
# percent (the load average is printed with each round).
# `openssl speed` runs with -elapsed: by default it divides by each process's user CPU time
# (openssl-speed(1)), which on a shared machine reports the rate of cores nobody else uses while
# the batch is timed by the clock; -elapsed times both by the clock, under the same load. Each
# round also prints the CPU view, which other processes' load barely moves: the batch's passes
# per CPU second (user + sys) against openssl's signs per user CPU second of one process.
# LK_BATCH_OUT=/dev/shm writes the passes to memory instead of the disk, which separates the
# file system's cost (large on a busy ext4) from the builder's.
# Each round writes to a fresh directory and all are removed only at the end: deleting a round's
# passes just before the next round would make the next round's file creations slow (ext4
# without a journal skips recently deleted inodes one by one when it allocates an inode).
set -euo pipefail
rows=${1:-20000}
rounds=${2:-3}
bin=${LK_BINARY:-build/app/lerarenkaart}
work=$(mktemp -d /tmp/lk-passgen-batch.XXXXXX)
outs=()
trap 'rm -rf "$work" "${outs[@]}"' EXIT
"$bin" --data-dir "$work/data" keys init >/dev/null
/usr/bin/python3 - "$rows" >"$work/cards.csv" <<'PY'
import sys
print("serial,year,name,school")
for i in range(int(sys.argv[1])):
    print(f"LK26-{i:07d},2026,Leraar Nummer {i},\"Sint-Jozefscollege, Hasselt\"")
PY
cores=$(nproc)
echo "rows=$rows cores=$cores rounds=$rounds $(openssl version)"
ratios=()
speed() { openssl speed -elapsed -multi "$cores" -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $(NF-1)}'; }
cpu_speed() { openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ {print $(NF-1)}'; }
rsa_before=$(speed)
for r in $(seq "$rounds"); do
  out=$(mktemp -d "${LK_BATCH_OUT:-$work}/lk-passgen-batch-out.XXXXXX")
  outs+=("$out")
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -v -o "$work/time.txt" "$bin" --data-dir "$work/data" pass build --batch "$work/cards.csv" \
    --out-dir "$out" --at 2026-03-15T12:00:00Z >"$work/summary.txt"
  rsa_after=$(speed)
  rsa_cpu=$(cpu_speed)
  rsa=$(awk -v a="$rsa_before" -v b="$rsa_after" 'BEGIN {printf "%.1f", (a+b)/2}')
  rate=$(sed -E 's/.*\(([0-9]+) passes\/s.*/\1/' "$work/summary.txt")
  rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/time.txt")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2fs (user %s, sys %s)", u+s, u, s}' "$work/time.txt")
  cpu_ratio=$(awk -F': ' -v rows="$rows" -v one="$rsa_cpu" '/User time/ {u=$2} /System time/ {s=$2}
    END {printf "%.1f%%", 100 * rows / (u + s) / one}' "$work/time.txt")
  echo "round $r: openssl speed -multi $cores rsa2048 sign/s=$rsa ($rsa_before before, $rsa_after after)  batch passes/s=$rate" \
       "ratio=$(awk -v a="$rate" -v b="$rsa" 'BEGIN {printf "%.1f%%", 100*a/b}')" \
       "peakRSS=${rss}KiB cpu=${cpu} load=${load}  [$(cat "$work/summary.txt")]"
  echo "  CPU view: $(awk -v r="$rows" -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.0f", r / (u + s)}' "$work/time.txt")" \
       "passes per CPU second vs openssl speed rsa2048 $rsa_cpu signs per user CPU second: $cpu_ratio"
  ratios+=("$(awk -v a="$rate" -v b="$rsa" 'BEGIN {printf "%.1f", 100*a/b}')")
  rsa_before=$rsa_after
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END {printf "median ratio over %d rounds: %s%%\n", NR, v[int((NR+1)/2)]}'

