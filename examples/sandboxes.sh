#!/usr/bin/env bash
# Sandboxes on a laptop: the fan-out cookbook with the daemon's reference runtime (bubblewrap). Against a running
# daemon when VOLUMED_URL is set (`./tools/run.sh --sandbox-runtime bwrap`; its operator key from
# VOLUMED_OPERATOR_KEY, else $VOLUMES_DATA_DIR/operator.key, else ./volumes-data/operator.key), else it starts its
# own volumed --sandbox-runtime bwrap on a temporary data directory and stops it at the end.
# Needs root, /dev/fuse, bubblewrap and built binaries (`swift build`, or set VOLUMED and VOLUMECTL).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOLUMED=${VOLUMED:-$ROOT/.build/debug/volumed}
VOLUMECTL=${VOLUMECTL:-$ROOT/.build/debug/volumectl}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/volumed-sandboxes.XXXXXX")
DAEMON_PID=
SANDBOXES=()
cleanup() {
    for id in "${SANDBOXES[@]}"; do "$VOLUMECTL" sandbox destroy "$id" >/dev/null 2>&1 || true; done
    if [ -n "$DAEMON_PID" ]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${VOLUMED_URL:-}" ]; then
    URL=$VOLUMED_URL
    OPERATOR_KEY=${VOLUMED_OPERATOR_KEY:-$(cat "${VOLUMES_DATA_DIR:-$ROOT/volumes-data}/operator.key")}
else
    DATA=$WORK/data
    "$VOLUMED" --data-dir "$DATA" --listen 127.0.0.1:0 --address-file "$WORK/address" --sandbox-runtime bwrap > "$WORK/volumed.log" 2>&1 &
    DAEMON_PID=$!
    for _ in $(seq 1 600); do [ -s "$WORK/address" ] && break; sleep 0.1; done
    [ -s "$WORK/address" ] || { echo "sandboxes: volumed did not start:" >&2; cat "$WORK/volumed.log" >&2; exit 1; }
    URL=$(cat "$WORK/address")
    OPERATOR_KEY=$(cat "$DATA/operator.key")
fi

# A tenant key, through the operator API.
KEY=$(curl -sf -H "X-API-Key: $OPERATOR_KEY" -H 'Content-Type: application/json' -d '{"tenant": "sandbox-demo"}' \
      "$URL/v1/admin/keys" | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
export VOLUMES_ENDPOINT=$URL VOLUMES_API_KEY=$KEY
unset VOLUMES_DATA_DIR VOLUMES_TENANT

echo "== 1. upload the dataset once (a Phase 1 tar.gz made with GNU tar)"
mkdir -p "$WORK/tree/shared" && chmod 0777 "$WORK/tree/shared"
seq 1 1000 | sed 's/^/row,/' > "$WORK/tree/rows.csv"
tar -czf "$WORK/training.tar.gz" -C "$WORK/tree" .
NAME=training-set-$$
"$VOLUMECTL" import "$WORK/training.tar.gz" --create "$NAME"

echo "== 2. four sandboxes attach it at /data"
for i in 1 2 3 4; do SANDBOXES+=("$("$VOLUMECTL" sandbox create --volume "$NAME:/data")"); done
"$VOLUMECTL" sandbox ls

echo "== 3. wc -l /data/rows.csv in each (as the sandbox user: uid $("$VOLUMECTL" sandbox exec "${SANDBOXES[0]}" -- id -u))"
for i in "${!SANDBOXES[@]}"; do echo "sandbox $i: $("$VOLUMECTL" sandbox exec "${SANDBOXES[$i]}" -- wc -l /data/rows.csv)"; done

echo "== 4. a write in one is seen by the others (one shared volume)"
"$VOLUMECTL" sandbox exec "${SANDBOXES[0]}" -- sh -c 'echo "hello from sandbox 0" >> /data/shared/notes'
"$VOLUMECTL" sandbox exec "${SANDBOXES[3]}" -- cat /data/shared/notes

echo "== 5. pause (processes stopped, mounts released), resume (remounted, then running)"
"$VOLUMECTL" sandbox pause "${SANDBOXES[1]}"
"$VOLUMECTL" sandbox exec "${SANDBOXES[1]}" -- true || echo "exec while paused: refused (exit $?)"
"$VOLUMECTL" sandbox attachments "${SANDBOXES[1]}"
"$VOLUMECTL" sandbox resume "${SANDBOXES[1]}"
"$VOLUMECTL" sandbox exec "${SANDBOXES[1]}" -- wc -l /data/rows.csv

echo "== 6. attach a second view at runtime (read-only, a subpath): it appears inside the running sandbox"
ATT=$("$VOLUMECTL" sandbox attach "${SANDBOXES[0]}" "$NAME:/shared:ro:subpath=/shared" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["attachment_id"])')
"$VOLUMECTL" sandbox exec "${SANDBOXES[0]}" -- cat /shared/notes
"$VOLUMECTL" sandbox exec "${SANDBOXES[0]}" -- sh -c 'echo no > /shared/x' || echo "read-only: refused (exit $?)"
"$VOLUMECTL" sandbox detach "${SANDBOXES[0]}" "$ATT"

echo "== 7. fork, and exit codes pass through"
FORK=$("$VOLUMECTL" sandbox fork "${SANDBOXES[2]}")
SANDBOXES+=("$FORK")
"$VOLUMECTL" sandbox exec "$FORK" -- sh -c 'test -s /data/rows.csv; exit 3' || echo "the fork's command exited $?"

echo "== 8. destroy: no process left, every attachment released"
for id in "${SANDBOXES[@]}"; do "$VOLUMECTL" sandbox destroy "$id"; done
"$VOLUMECTL" sandbox attachments "${SANDBOXES[0]}"
SANDBOXES=()
