#!/usr/bin/env bash
# Installs what building and testing NEWS needs on Debian (run as root). Swift itself (6.x)
# must already be on PATH; everything else comes from Debian's packages and PyPI.
set -euo pipefail

packages=(libseccomp-dev libnuma-dev pkg-config iproute2 procps util-linux strace python3 python3-pip
          iputils-ping python3-scapy tshark tcpdump socat gcc curl wrk lighttpd)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# pytest-timeout: a test that hangs fails on its own instead of stalling the whole run.
if ! python3 -c 'import pytest, pytest_timeout' 2>/dev/null; then
    echo "install-deps: pip install pytest pytest-timeout"
    python3 -m pip install -q pytest pytest-timeout 2>/dev/null || python3 -m pip install -q --break-system-packages pytest pytest-timeout
fi

command -v swift >/dev/null || { echo "install-deps: swift is not on PATH (NEWS needs a Swift 6 toolchain)" >&2; exit 1; }
