#!/usr/bin/env bash
# Installs the Debian packages of the real third-party peers that the interop tests
# run against, and clang with libFuzzer for the fuzz run (csrc/fuzz/run.sh).  Does
# nothing when they are all present.  Needs root (or sudo).
set -euo pipefail
PEERS=(gnss-sdr gnuradio gr-satellites libfec-dev tshark clang-14 libclang-rt-14-dev)
missing=()
for pkg in "${PEERS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing interop peers: ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
