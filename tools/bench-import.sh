#!/usr/bin/env bash
# Import benchmark: `volumectl import` of a tar.gz against `tar -xzf` of the same archive into a plain
# directory, same disk, same run, interleaved rounds; the dedup bar; peak memory of the import.
#
#   tools/bench-import.sh                 # 3 rounds, 1 GiB big archive, 100,000 small files
#   ROUNDS=5 BIG_MIB=2048 tools/bench-import.sh
#
# Every measured command writes into a fresh directory on the disk that holds bench-out/, and nothing is
# deleted until the end: on ext4, creating many files soon after deleting many is slowed by the inode
# allocator skipping recently freed inodes (seconds to minutes for 100,000 files), which would punish
# whichever side ran after a cleanup. Rounds alternate which side goes first; medians are reported.
# `tar -xzf` is timed without and with a final `sync`; the import syncs its chunks and commits its
# catalog durably before it returns, so "tar + sync" is the like-for-like figure, plain tar the bar.
# Needs about 3 GB free per round. VOLUMES_TRACE_IMPORT=1 prints the import's phases.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench-out/import}
ROUNDS=${ROUNDS:-3}
BIG_MIB=${BIG_MIB:-1024}
SMALL_FILES=${SMALL_FILES:-100000}
GEN="python3 $ROOT/tools/bench-import.py"
mkdir -p "$OUT"

echo "== building volumectl (release)"
(cd "$ROOT" && swift build -c release --scratch-path .build-release --product volumectl 2>&1 | tail -1)
BIN="$ROOT/.build-release/release/volumectl"

echo "== archives (cached in $OUT)"
BIG="$OUT/big-${BIG_MIB}m.tar.gz"
SMALL="$OUT/small-${SMALL_FILES}.tar.gz"
SMALL2="$OUT/small-${SMALL_FILES}-5pct.tar.gz"
[ -s "$BIG" ] || { echo "generating $BIG"; $GEN big "$BIG" "$BIG_MIB"; }
[ -s "$SMALL" ] || { echo "generating $SMALL"; $GEN small "$SMALL" "$SMALL_FILES"; }
[ -s "$SMALL2" ] || { echo "generating $SMALL2"; $GEN small "$SMALL2" "$SMALL_FILES" 0.05; }
usize() {  # uncompressed bytes of an archive (computed once, kept beside it)
  [ -s "$1.size" ] || gzip -dc "$1" | wc -c > "$1.size"
  cat "$1.size"
}
for a in "$BIG" "$SMALL" "$SMALL2"; do
  printf '%s: %s compressed, %s MiB uncompressed\n' "$(basename "$a")" "$(du -h --apparent-size "$a" | cut -f1)" \
    "$(( $(usize "$a") / 1048576 ))"
done

RUNS="$OUT/runs"
if [ -d "$RUNS" ]; then
  echo "removing leftovers of an earlier run, then waiting 60 s for ext4 to forget the freed inodes"
  rm -rf "$RUNS"; sync; sleep 60
fi
mkdir -p "$RUNS"
trap 'rm -rf "$RUNS"' EXIT
echo "disk: $(df --output=source,fstype "$OUT" | tail -1)"

fresh() { local d="$RUNS/$1-$(date +%s%N)"; mkdir -p "$d"; echo "$d"; }

# time_cmd LABEL CMD...: runs CMD, prints "seconds maxrss_kb"
time_cmd() {
  local f; f=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$f" "$@" >/dev/null
  cat "$f"; rm -f "$f"
}

declare -A T
run_tar() {
  local a=$1 d; d=$(fresh tar); mkdir "$d/x"; cat "$a" >/dev/null; sync
  local s e; s=$(date +%s.%N); tar -xzf "$a" -C "$d/x"; e=$(date +%s.%N); sync; local e2; e2=$(date +%s.%N)
  awk -v s="$s" -v e="$e" -v e2="$e2" 'BEGIN { printf "%.3f %.3f\n", e - s, e2 - s }'
}
run_import() {
  local a=$1 d; d=$(fresh import); cat "$a" >/dev/null; sync
  time_cmd "$BIN" import --quiet --data-dir "$d/vd" "$a" --create bench
}

median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }

for name in big small; do
  a=$([ $name = big ] && echo "$BIG" || echo "$SMALL")
  : > "$OUT/$name.tar.times"; : > "$OUT/$name.tarsync.times"; : > "$OUT/$name.import.times"; : > "$OUT/$name.rss"
  for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="tar import"; else order="import tar"; fi
    for side in $order; do
      if [ $side = tar ]; then
        read -r t ts < <(run_tar "$a"); echo "$t" >> "$OUT/$name.tar.times"; echo "$ts" >> "$OUT/$name.tarsync.times"
        echo "  $name round $r: tar -xzf ${t}s (with sync ${ts}s)"
      else
        read -r t rss < <(run_import "$a"); echo "$t" >> "$OUT/$name.import.times"; echo "$rss" >> "$OUT/$name.rss"
        echo "  $name round $r: volumectl import ${t}s, peak RSS $((rss / 1024)) MiB"
      fi
    done
  done
done

echo
echo "== import throughput (median of $ROUNDS rounds; ratio = tar time / import time, bar >= 0.90)"
for name in big small; do
  a=$([ $name = big ] && echo "$BIG" || echo "$SMALL")
  bytes=$(usize "$a")
  tt=$(median < "$OUT/$name.tar.times"); ts=$(median < "$OUT/$name.tarsync.times"); ti=$(median < "$OUT/$name.import.times")
  rss=$(sort -n "$OUT/$name.rss" | tail -1)
  awk -v n=$name -v b="$bytes" -v tt="$tt" -v ts="$ts" -v ti="$ti" -v rss="$rss" 'BEGIN {
    printf "%-6s tar -xzf %6.2fs %7.1f MB/s | tar+sync %6.2fs | import %6.2fs %7.1f MB/s | ratio %.2f (vs tar+sync %.2f) | peak RSS %d MiB\n",
      n, tt, b/tt/1e6, ts, ti, b/ti/1e6, tt/ti, ts/ti, rss/1024 }'
done

echo
echo "== dedup: a second archive with 5% of its $SMALL_FILES files changed, into a second volume of the same store"
d=$(fresh dedup)
"$BIN" import --quiet --data-dir "$d/vd" "$SMALL" --create first >/dev/null
s1=$($GEN stored "$d/vd")
"$BIN" import --quiet --data-dir "$d/vd" "$SMALL2" --create second >/dev/null
s2=$($GEN stored "$d/vd")
python3 - "$s1" "$s2" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
g = (b['bytes'] - a['bytes']) / a['bytes']
gd = (b['disk_bytes'] - a['disk_bytes']) / a['disk_bytes']
print("stored chunk bytes (sum of chunk sizes: chunk files + small chunks indexed in small.sqlite): first %d, after second %d: +%.1f%% (bar <= 10%%)" % (a['bytes'], b['bytes'], 100 * g))
print("on disk (allocated blocks of the chunk store, SQLite overhead included): first %d, after second %d: +%.1f%%" % (a['disk_bytes'], b['disk_bytes'], 100 * gd))
PY
