#!/usr/bin/env bash
# The main job on its embedded default: sets up, builds, and runs volumed on a local data directory
# (./volumes-data: SQLite catalogs, local chunks, no other service) at http://127.0.0.1:8780.
# VOLUMED_DATA_DIR and VOLUMED_LISTEN override the two; other arguments go to volumed (see volumed --help).
# Stop it with Ctrl-C (SIGINT) or SIGTERM: requests in flight finish, everything is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
swift build --product volumed
swift build --product volumectl
BIN="$(swift build --show-bin-path)"
DATA="${VOLUMED_DATA_DIR:-$PWD/volumes-data}"
LISTEN="${VOLUMED_LISTEN:-127.0.0.1:8780}"
echo "run: starting volumed on http://$LISTEN with data in $DATA"
echo "run: the operator key is in $DATA/operator.key (written at the first start, mode 0600)"
echo "run: in another shell: VOLUMED_URL=http://$LISTEN VOLUMES_DATA_DIR=$DATA examples/quickstart.sh"
exec "$BIN/volumed" --data-dir "$DATA" --listen "$LISTEN" "$@"
