#!/usr/bin/env bash
# Runs file-system stressors (stress-ng, creating and deleting files) against a mount of a fresh
# volume and prints the mount server's peak RSS. Not part of the test suite.
#
#   sudo tools/stress-rss.sh            # 20 s of stressors
#
# Environment: SECONDS_RUN (default 20), STRESS_DIR (scratch, default /var/tmp/stress-rss),
# VOLUMECTL (default .build/debug/volumectl, built when missing), STRESSORS (stress-ng options,
# default below), MALLOC_STATS=1 (print glibc's per-arena malloc_stats of the server at the end, through
# gdb: what the heap holds in use against what it kept from the system). Installs stress-ng with apt
# when it is missing.
# Prints the server's VmHWM (peak resident set) and its VmRSS sampled every second, and the RSS
# left once the stressors stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_RUN=${SECONDS_RUN:-20}
STRESS_DIR=${STRESS_DIR:-/var/tmp/stress-rss}
VOLUMECTL=${VOLUMECTL:-$ROOT/.build/debug/volumectl}
STRESSORS=${STRESSORS:-"--dentry 4 --dir 4 --dirmany 2 --filename 2 --link 2 --symlink 2 --rename 2 --touch 2 --utime 2 --chmod 2 --hdd 2 --hdd-bytes 64m --fallocate 2 --fallocate-bytes 64m --xattr 2"}

[ "$(id -u)" = 0 ] || { echo "run as root (FUSE mounts)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "/dev/fuse is missing" >&2; exit 1; }
if ! command -v stress-ng >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null
fi
if [ ! -x "$VOLUMECTL" ]; then (cd "$ROOT" && swift build --product volumectl); fi

DATA=$STRESS_DIR/data
MNT=$STRESS_DIR/mnt
SERVER=""
cleanup() {
    if mountpoint -q "$MNT" 2>/dev/null; then "$VOLUMECTL" unmount --data-dir "$DATA" "$MNT" >/dev/null 2>&1 || fusermount3 -uz "$MNT" || true; fi
    if [ -n "$SERVER" ]; then
        for _ in $(seq 50); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$SERVER" 2>/dev/null && kill "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$STRESS_DIR"
}
trap cleanup EXIT
# A mount left by an interrupted run is unmounted before its directory is removed.
cleanup
mkdir -p "$DATA" "$MNT"

vol=$("$VOLUMECTL" volume create --data-dir "$DATA" stress --quiet)
"$VOLUMECTL" quota set --data-dir "$DATA" "$vol" 64GiB >/dev/null
"$VOLUMECTL" mount --data-dir "$DATA" --foreground "$vol" "$MNT" >"$STRESS_DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
mountpoint -q "$MNT" || { cat "$STRESS_DIR/server.log" >&2; echo "the mount did not come up" >&2; exit 1; }

status() { awk -v k="$1:" '$1 == k {printf "%.0f", $2/1024}' "/proc/$SERVER/status"; }
echo "server $SERVER: RSS $(status VmRSS) MiB after mounting"
# Sample once a second while the stressors run.
(
    while kill -0 "$SERVER" 2>/dev/null; do
        echo "t=$SECONDS rss=$(status VmRSS) MiB hwm=$(status VmHWM) MiB"
        sleep 1
    done
) >"$STRESS_DIR/samples.log" 2>/dev/null &
SAMPLER=$!

# shellcheck disable=SC2086
stress-ng --temp-path "$MNT" $STRESSORS -t "${SECONDS_RUN}s" --metrics-brief 2>&1 | tail -n 25 || true
sleep 1
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
echo "--- RSS samples (every second)"
cat "$STRESS_DIR/samples.log"
echo "--- server $SERVER: peak RSS (VmHWM) $(status VmHWM) MiB; RSS now $(status VmRSS) MiB"
if [ "${MALLOC_STATS:-0}" = 1 ] && command -v gdb >/dev/null; then
    gdb -p "$SERVER" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
    sleep 0.5
    echo "--- malloc_stats (Arena lines: system bytes kept, in use)"
    grep -E "Arena|system bytes|in use bytes|Total" "$STRESS_DIR/server.log" | tail -n 60 || true
fi
grep -iE "error|warning" "$STRESS_DIR/server.log" | sort | uniq -c | head -n 10 || true
