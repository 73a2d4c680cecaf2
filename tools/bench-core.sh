#!/usr/bin/env bash
# Measures the core store's bars (issue 2) next to a plain directory on the same disk, in one run.
# Usage: tools/bench-core.sh [scratch-dir]     (run as root so page caches can be dropped before reads)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${1:-$PWD/bench-out}"
swift build -c release --product volumebench >/dev/null
bin="$(swift build -c release --show-bin-path)/volumebench"
echo "== 1 GiB as 1,000 files: write then read, vs a plain directory (bar: >= 50%)"
"$bin" throughput --dir "$scratch" --durability full
"$bin" throughput --dir "$scratch" --durability relaxed
echo "== random 4 KiB writes into a 1 GiB file re-store one block each, not the file"
"$bin" randomwrite --dir "$scratch"
echo "== the same 256 MiB in two volumes (bar: stored bytes grow < 1%)"
"$bin" dedup --dir "$scratch"
echo "== 1,000,000 tiny files (bars: create < 2 min, list 100,000 entries < 1 s, stat median < 1 ms)"
"$bin" scale --dir "$scratch"
