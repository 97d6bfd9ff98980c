#!/bin/bash
# Builds the Debian 13 (trixie) root filesystem the cgroup v2 guest boots:
# mmdebstrap from Debian's archive, the packages in trixie-packages next to
# this script, no recommends. Usage: build-rootfs.sh CACHE [SUITE LIST]
# (another suite and package list: testing-packages for Debian testing).
# The tree lands in CACHE/rootfs with CACHE/rootfs.key naming its inputs
# (this script, the suite and the package list); it is rebuilt only when
# they change.
# Exit status: 0 built or current, 77 cannot build here (no mmdebstrap, no
# root, Debian's archive unreachable), 1 a build failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: build-rootfs.sh CACHE [SUITE LIST]}
suite=${2:-trixie}
list=${3:-$here/trixie-packages}
mirror=${COLOC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"
key=$( (cat "$0" "$list" && echo "$suite") | sha256sum | cut -c1-16)
if [ -f "$cache/rootfs.key" ] && [ "$(cat "$cache/rootfs.key")" = "$key" ] && [ -x "$cache/rootfs/usr/bin/apt-get" ]; then
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "build-rootfs: building the guest's root filesystem needs root" >&2; exit 77; }
command -v mmdebstrap >/dev/null || { echo "build-rootfs: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 77; }
pkgs=$(sed 's/#.*//' "$list" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')
rm -rf "$cache/rootfs" "$cache/rootfs.key" "$cache/rootfs.tmp"
# (testing's Release files carry a Valid-Until that a mirror's snapshot may
# have passed)
if ! mmdebstrap --variant=apt --aptopt='APT::Install-Recommends "false"' \
	--aptopt='Acquire::Check-Valid-Until "false"' \
	--include="$pkgs" "$suite" "$cache/rootfs.tmp" "$mirror" >"$cache/mmdebstrap.log" 2>&1; then
	tail -20 "$cache/mmdebstrap.log" >&2
	if grep -qE "Could not resolve|Failed to fetch|Unable to connect|not found in keyring|NO_PUBKEY" "$cache/mmdebstrap.log"; then
		echo "build-rootfs: Debian's $suite archive is not reachable from here ($mirror)" >&2
		rm -rf "$cache/rootfs.tmp"
		exit 77
	fi
	echo "build-rootfs: mmdebstrap failed (log: $cache/mmdebstrap.log)" >&2
	exit 1
fi
mv "$cache/rootfs.tmp" "$cache/rootfs"
echo "$key" >"$cache/rootfs.key"
