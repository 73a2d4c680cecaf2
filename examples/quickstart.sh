#!/usr/bin/env bash
# The quickstart: drives volumed over HTTP with curl (and volumectl for a key). Against a running daemon
# when VOLUMED_URL is set (its operator key from VOLUMED_OPERATOR_KEY, else $VOLUMES_DATA_DIR/operator.key),
# else it starts its own volumed on a temporary data directory and stops it (SIGTERM) at the end.
# Needs built binaries: `swift build` first, or set VOLUMED and VOLUMECTL.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOLUMED=${VOLUMED:-$ROOT/.build/debug/volumed}
VOLUMECTL=${VOLUMECTL:-$ROOT/.build/debug/volumectl}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/volumed-quickstart.XXXXXX")
DAEMON_PID=
cleanup() {
    if [ -n "$DAEMON_PID" ]; then kill -TERM "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

if [ -n "${VOLUMED_URL:-}" ]; then
    URL=$VOLUMED_URL
    DATA=${VOLUMES_DATA_DIR:-}
    OPERATOR_KEY=${VOLUMED_OPERATOR_KEY:-$(cat "$DATA/operator.key")}
else
    [ -x "$VOLUMED" ] || { echo "quickstart: no volumed at $VOLUMED; run 'swift build' in $ROOT, or set VOLUMED" >&2; exit 1; }
    DATA=$WORK/data
    "$VOLUMED" --data-dir "$DATA" --listen 127.0.0.1:0 --address-file "$WORK/address" > "$WORK/volumed.log" 2>&1 &
    DAEMON_PID=$!
    for _ in $(seq 1 600); do [ -s "$WORK/address" ] && break; sleep 0.1; done
    [ -s "$WORK/address" ] || { echo "quickstart: volumed did not start:" >&2; cat "$WORK/volumed.log" >&2; exit 1; }
    URL=$(cat "$WORK/address")
    OPERATOR_KEY=$(cat "$DATA/operator.key")
fi
SUFFIX=-$(date +%H%M%S)-$$

# Show each command, then run it; print the body and the status.
show() { echo; echo "\$ $*"; }
call() {
    show "curl $*"
    curl -sS -w '\n(HTTP %{http_code})\n' "$@"
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

echo "volumed at $URL"
call "$URL/healthz"

# A key for tenant acme: with volumectl on the data directory (printed once, stored hashed) ...
if [ -n "$DATA" ] && [ -x "$VOLUMECTL" ]; then
    show "volumectl apikey create --tenant acme"
    KEY=$(VOLUMES_DATA_DIR=$DATA "$VOLUMECTL" apikey create --tenant acme)
else
    # ... or through the operator API.
    show "curl -X POST $URL/v1/admin/keys (operator key)"
    KEY=$(curl -sS -X POST -H "X-API-Key: $OPERATOR_KEY" -H 'Content-Type: application/json' \
        -d '{"tenant": "acme"}' "$URL/v1/admin/keys" | json_field key)
fi
echo "(a tenant key for acme; it is shown only once)"
H=(-H "X-API-Key: $KEY")

# A volume, with metadata.
show "curl -X POST $URL/v1/volumes -d '{\"name\": \"demo$SUFFIX\", ...}'"
VOL=$(curl -sS -X POST "${H[@]}" -H 'Content-Type: application/json' \
    -d "{\"name\": \"demo$SUFFIX\", \"metadata\": {\"purpose\": \"quickstart\"}}" "$URL/v1/volumes" | json_field volume_id)
echo "volume $VOL"
F="$URL/v1/volumes/$VOL/files"

# Files in (the body streams into the volume), out (whole, or a Range), and around.
call -X PUT "${H[@]}" --data-binary 'hello, world' "$F/content?path=/hello.txt"
printf '# Notes\n\nTODO: write the docs\n' > "$WORK/readme.md"
call -X PUT "${H[@]}" --data-binary @"$WORK/readme.md" "$F/content?path=/docs/readme.md&parents=true"
call "${H[@]}" "$F/content?path=/hello.txt"
call "${H[@]}" -H 'Range: bytes=0-4' "$F/content?path=/hello.txt"
call "${H[@]}" "$F?path=/&depth=2"
call "${H[@]}" "$F/stat?path=/docs/readme.md"
call -X POST "${H[@]}" -H 'Content-Type: application/json' -d '{"path": "/docs/readme.md", "old": "TODO: write", "new": "Done:"}' "$F/edit"
call -X POST "${H[@]}" -H 'Content-Type: application/json' -d '{"content": "Done"}' "$F/search"
call -X POST "${H[@]}" -H 'Content-Type: application/json' -d '{"from": "/hello.txt", "to": "/greeting.txt"}' "$F/move"
call "${H[@]}" "$URL/v1/volumes/$VOL?fields=name,size_bytes,file_count"

# A Phase 1 volume: a tar.gz body, imported with the Phase 1 safety rules (the symlink is dropped and reported).
mkdir -p "$WORK/tree/data"
echo "rows" > "$WORK/tree/data/rows.csv"
ln -s rows.csv "$WORK/tree/data/link"
tar -czf "$WORK/blob.tar.gz" -C "$WORK/tree" data
call -X POST "${H[@]}" -H 'Content-Type: application/gzip' --data-binary @"$WORK/blob.tar.gz" "$URL/v1/volumes?name=phase1$SUFFIX"

# Errors are JSON with a code: another tenant sees nothing of acme's volume (404), a bad path is 400.
show "curl -X POST $URL/v1/admin/keys -d '{\"tenant\": \"globex\"}' (operator key)"
OTHER=$(curl -sS -X POST -H "X-API-Key: $OPERATOR_KEY" -H 'Content-Type: application/json' \
    -d '{"tenant": "globex"}' "$URL/v1/admin/keys" | json_field key)
call -H "X-API-Key: $OTHER" "$URL/v1/volumes/$VOL"
call "${H[@]}" "$F/stat?path=/a/../b"
call "$URL/v1/volumes"

# Newest first; then delete the demo volume.
call "${H[@]}" "$URL/v1/volumes"
call -X DELETE "${H[@]}" "$URL/v1/volumes/$VOL"
echo
echo "quickstart: done"
