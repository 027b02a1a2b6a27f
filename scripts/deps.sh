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
# The deploy suite (tests/deploy) lints the Dockerfile and checks the manifests
# against the Kubernetes schema: kubectl (for kustomize) and node/npm for the
# npm tools below. SGBPF_DEPS=build (the image's build stage) skips them.
if [ "${SGBPF_DEPS:-}" != build ]; then
	command -v kubectl >/dev/null || missing+=(kubernetes-client)
	command -v npm >/dev/null || missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PKGS[@]} packages present"
else
	echo "deps: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: need root to install packages (run as root or with sudo)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ "${SGBPF_DEPS:-}" = build ] && exit 0

# npm tools of the deploy suite, pinned by tests/deploy/package-lock.json,
# installed outside the tree; reinstalled only when the lock file changed.
NODE_PREFIX=/usr/local/lib/sgbpf-node
LOCK="$(dirname "$0")/../tests/deploy/package-lock.json"
if ! cmp -s "$LOCK" "$NODE_PREFIX/package-lock.json" || [ ! -d "$NODE_PREFIX/node_modules" ]; then
	echo "deps: installing the npm tools of tests/deploy into $NODE_PREFIX"
	mkdir -p "$NODE_PREFIX"
	cp "$(dirname "$LOCK")/package.json" "$LOCK" "$NODE_PREFIX/"
	if ! npm ci --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error >/dev/null; then
		rm -f "$NODE_PREFIX/package-lock.json"
		echo "deps: npm ci in $NODE_PREFIX failed (npm registry unreachable?)" >&2
		exit 1
	fi
fi
