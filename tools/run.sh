#!/usr/bin/env bash
# The main job on its embedded default: sets up, builds, and runs the quickstart on a local data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
swift build --product volumectl
export VOLUMECTL="$(swift build --show-bin-path)/volumectl"
export VOLUMES_DATA_DIR="${VOLUMES_DATA_DIR:-$PWD/volumes-data}"
exec examples/quickstart.sh
