#!/usr/bin/env bash
# Benchmarks attachments (issue 18's bars) through a live volumed's sandbox API with host-path delivery:
# attach latency beside the Phase 1 way (untar the same tar.gz), fan-out of one volume to many sandboxes,
# resume, and reconcile after kill -9 of volumed with readers reading through the restart.
#
#   sudo tools/bench-attach.sh                                                    # full sizes
#   BIG_MIB=16 SMALL_FILES=2000 FANOUT_MIB=32 FANOUT=4 ATTACH_REPS=3 UNTAR_REPS=1 RESUME_REPS=3 \
#     RECONCILE_ATTACHMENTS=8 sudo -E tools/bench-attach.sh                       # a quick check
#
# Environment: BENCH_DIR (scratch, default /var/tmp/bench-attach), BIG_MIB (the big volume, default 1024),
# SMALL_FILES (the many-files volume, default 100000), FANOUT_MIB (default 500), FANOUT (sandboxes, default
# 20), ATTACH_REPS (attaches per data set, default 10), UNTAR_REPS (Phase 1 untars per data set, default 3),
# RESUME_REPS (default 10), RESUME_ATTACHMENTS (default 8), RECONCILE_ATTACHMENTS (default 40, in sandboxes of
# 8), REBOOT (1: also time the restart after every mount and mount server is gone, default 1), VOLUMED (a
# volumed binary with its volumectl beside it; default .build/release/volumed, built if missing), ARCHIVES
# (where the generated data sets are kept between runs, default bench-out/attach/archives).
#
# The data sets are tools/bench-import.py's archives (its `big` mix of text and random bytes, its `small`
# files of 200 B to 16 KiB), each imported once through POST /v1/volumes (the Phase 1 create). An attach is
# timed from the POST /v1/sandboxes request to a stat and a 4 KiB read of a file through the returned
# host_path; the Phase 1 way is `tar -xzf` of the same archive (already on this host: no download counted, no
# sync) and the same stat and read. Attach and untar rounds alternate the order of the data sets.
# tools/bench-attach.py does the work; this wrapper builds, and cleans up whatever it started: the daemon,
# the mount servers it spawned (pids recorded by the driver), the mounts and the scratch directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export BENCH_DIR=${BENCH_DIR:-/var/tmp/bench-attach}
[ "$(id -u)" = 0 ] || { echo "run as root (FUSE mounts, drop_caches)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "/dev/fuse is missing" >&2; exit 1; }
for tool in fusermount3 tar python3; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

if [ -z "${VOLUMED:-}" ]; then
    VOLUMED="$ROOT/.build/release/volumed"
    if [ ! -x "$VOLUMED" ] || [ ! -x "$ROOT/.build/release/volumectl" ]; then
        echo "building volumed and volumectl (release)..." >&2
        (cd "$ROOT" && swift build -c release --product volumed >&2 && swift build -c release --product volumectl >&2)
    fi
fi
export VOLUMED

W="$BENCH_DIR"
# kill_recorded FILE NAME: SIGKILL each pid in FILE that is still a NAME process (never a reused pid)
kill_recorded() {
    [ -f "$1" ] || return 0
    sort -u "$1" | while read -r pid; do
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "$2"; then kill -9 "$pid" 2>/dev/null || true; fi
    done
}
cleanup() {
    set +e
    kill_recorded "$W/volumed-pids" volumed
    if [ -d "$W/data/mounts" ]; then
        for m in "$W"/data/mounts/*; do mountpoint -q "$m" 2>/dev/null && fusermount3 -uz "$m"; done
    fi
    kill_recorded "$W/mount-pids" volumectl
    sleep 1
    rm -rf "$W"
}
trap cleanup EXIT
cleanup
mkdir -p "$W"
echo "disk: $(df --output=source,fstype "$W" | tail -1); load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores" >&2
KEEP="$ROOT/bench-out/attach"; mkdir -p "$KEEP"
export ARCHIVES=${ARCHIVES:-$KEEP/archives}   # the generated tar.gz data sets, kept for the next run
python3 "$ROOT/tools/bench-attach.py" run "$W" | tee "$KEEP/report.md"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
