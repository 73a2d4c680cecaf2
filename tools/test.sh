#!/usr/bin/env bash
# Sets up and runs the whole test suite (real SQLite files, real FUSE mounts, real tar and git), then prints "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh || exit 1
swift build --build-tests || exit 1
log=$(mktemp)
swift test --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E "^\s*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1)
rm -f "$log"
if [[ "$summary" =~ Executed\ ([0-9]+)\ tests?,\ with\ ([0-9]+)\ failure ]]; then
  total=${BASH_REMATCH[1]}; failed=${BASH_REMATCH[2]}
  echo "$((total - failed)) passed, $failed failed"
fi
exit "$rc"
