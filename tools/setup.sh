#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine (apt packages), only what is missing.
set -euo pipefail
packages=(fuse3 libfuse3-dev bubblewrap libsqlite3-dev zlib1g-dev sqlite3 git rsync fio tar gzip python3 python3-venv python3-pip util-linux procps time curl)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH"; done
fi
command -v swift >/dev/null 2>&1 || { echo "setup: Swift 6 is required (swift.org toolchain on PATH)"; exit 1; }
# schemathesis (PyPI) for the contract test, in a venv under .build (SchemathesisTests runs .build/schemathesis-venv/bin/st).
venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.build/schemathesis-venv"
if [ ! -x "$venv/bin/st" ]; then
  echo "setup: installing schemathesis into $venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q 'schemathesis>=4,<5' || { echo "setup: cannot install schemathesis"; exit 1; }
fi
