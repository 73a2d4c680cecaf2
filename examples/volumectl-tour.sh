#!/usr/bin/env bash
# A tour of volumectl on a data directory (no daemon): create a volume, put files, list, cat, edit, search, cap it, check it, collect
# garbage. Needs a built binary: `swift build` first, or set VOLUMECTL to one. It uses
# $VOLUMES_DATA_DIR when set (and leaves it there; the tour can run again), else a temporary data
# directory that it removes at the end (KEEP=1 keeps it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOLUMECTL=${VOLUMECTL:-$ROOT/.build/debug/volumectl}
if [ ! -x "$VOLUMECTL" ]; then
    echo "quickstart: no volumectl at $VOLUMECTL; run 'swift build' in $ROOT, or set VOLUMECTL" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/volumes-quickstart-files.XXXXXX")
if [ -n "${VOLUMES_DATA_DIR:-}" ]; then
    OWN_DATA_DIR=0
    SUFFIX=-$(date +%Y%m%d-%H%M%S)-$$      # names stay unique when the tour runs again on the same data
else
    OWN_DATA_DIR=1
    SUFFIX=
    export VOLUMES_DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/volumes-quickstart.XXXXXX")
fi
DEMO=demo$SUFFIX
SCRATCH=scratch$SUFFIX
cleanup() {
    rm -rf "$WORK"
    if [ "$OWN_DATA_DIR" = 1 ]; then
        if [ "${KEEP:-0}" = 1 ]; then echo "data directory kept: $VOLUMES_DATA_DIR"; else rm -rf "$VOLUMES_DATA_DIR"; fi
    fi
}
trap cleanup EXIT

# Show each command, then run it.
v() {
    echo
    echo "\$ volumectl $*"
    "$VOLUMECTL" "$@"
}

echo "data directory: $VOLUMES_DATA_DIR"

# A volume, with a label.
v volume create $DEMO --metadata purpose=quickstart

# Files in: from standard input, and from a local file (parent directories are created).
echo
echo "\$ echo 'hello, world' | volumectl files put $DEMO /hello.txt"
echo "hello, world" | "$VOLUMECTL" files put $DEMO /hello.txt
printf '# Notes\n\nTODO: write the docs\n' > "$WORK/readme.md"
v files put $DEMO /docs/readme.md "$WORK/readme.md"
v files mkdir $DEMO /logs/2024 --parents

# Look around.
v files ls $DEMO
v files ls $DEMO / --recursive
v files cat $DEMO /hello.txt
v files stat $DEMO /docs/readme.md
v files exists $DEMO /docs/readme.md

# Change files in place, find things.
v files edit $DEMO /hello.txt --old world --new volumes
v files cat $DEMO /hello.txt
v files search $DEMO --content TODO
v files mv $DEMO /docs/readme.md /README.md

# The volume as a whole: a table, one field, JSON for machines.
v volume list
v volume inspect $DEMO --field size_bytes
v volume inspect $DEMO --json

# Caps: 2 GiB by default; an operator can set one per volume or per tenant.
v quota set $DEMO 64MiB
v quota show $DEMO

# Check every volume; a non-zero exit would mean damage.
v fsck

# Deleting a volume leaves its bytes for gc. Writes in progress keep theirs (their processes tell gc
# through DATA_DIR/holds/); the grace period covers writes that start while gc runs.
head -c 300000 /dev/urandom > "$WORK/random.bin"
v volume create $SCRATCH --quiet
v files put $SCRATCH /random.bin "$WORK/random.bin"
v volume delete $SCRATCH
v gc --grace 0s --dry-run
if [ "$OWN_DATA_DIR" = 1 ]; then
    v gc --grace 0s        # nothing else starts writing to this data directory, so no grace period is needed
else
    echo "(not collecting for real in $VOLUMES_DATA_DIR: something else may start writing there; 'volumectl gc' keeps an hour's grace)"
fi

echo
echo "quickstart: done"
