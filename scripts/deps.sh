#!/usr/bin/env bash
# Install what a fresh Debian 12 machine lacks to build and test sgbpf.
set -euo pipefail
PKGS=(make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool libcjson-dev
      libnl-3-dev libnl-route-3-dev libcunit1-dev libpcap-dev pkg-config
      iproute2 nftables iputils-ping netcat-openbsd socat tcpdump procps
      python3 jq libclang-rt-14-dev)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PKGS[@]} packages present"
	exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install packages (run as root or with sudo)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
