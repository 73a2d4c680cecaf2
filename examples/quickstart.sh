#!/usr/bin/env bash
# A tour of volumectl on a throwaway data directory: create a volume, put files, list, cat, edit,
# search, cap it, check it, collect garbage. Needs a built binary: `swift build` first, or set
# VOLUMECTL to one. Set KEEP=1 to keep the data directory afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOLUMECTL=${VOLUMECTL:-$ROOT/.build/debug/volumectl}
if [ ! -x "$VOLUMECTL" ]; then
    echo "quickstart: no volumectl at $VOLUMECTL; run 'swift build' in $ROOT, or set VOLUMECTL" >&2
    exit 1
fi

export VOLUMES_DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/volumes-quickstart.XXXXXX")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/volumes-quickstart-files.XXXXXX")
cleanup() {
    rm -rf "$WORK"
    if [ "${KEEP:-0}" = 1 ]; then echo "data directory kept: $VOLUMES_DATA_DIR"; else rm -rf "$VOLUMES_DATA_DIR"; fi
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
v volume create demo --metadata purpose=quickstart

# Files in: from standard input, and from a local file (parent directories are created).
echo
echo "\$ echo 'hello, world' | volumectl files put demo /hello.txt"
echo "hello, world" | "$VOLUMECTL" files put demo /hello.txt
printf '# Notes\n\nTODO: write the docs\n' > "$WORK/readme.md"
v files put demo /docs/readme.md "$WORK/readme.md"
v files mkdir demo /logs/2024 --parents

# Look around.
v files ls demo
v files ls demo / --recursive
v files cat demo /hello.txt
v files stat demo /docs/readme.md
v files exists demo /docs/readme.md

# Change files in place, find things.
v files edit demo /hello.txt --old world --new volumes
v files cat demo /hello.txt
v files search demo --content TODO
v files mv demo /docs/readme.md /README.md

# The volume as a whole: a table, one field, JSON for machines.
v volume list
v volume inspect demo --field size_bytes
v volume inspect demo --json

# Caps: 2 GiB by default; an operator can set one per volume or per tenant.
v quota set demo 64MiB
v quota show demo

# Check every volume; a non-zero exit would mean damage.
v fsck

# Deleting a volume leaves its bytes for gc (a grace period protects writes in progress).
head -c 300000 /dev/urandom > "$WORK/random.bin"
v volume create scratch --quiet
v files put scratch /random.bin "$WORK/random.bin"
v volume delete scratch
v gc --grace 0s --dry-run
v gc --grace 0s

echo
echo "quickstart: done"
