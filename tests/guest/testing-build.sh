#!/bin/bash
# coloc against Debian testing's Slurm (newer than Debian 13's 24.11: 26.05
# in late 2026): a root filesystem of testing's build dependencies
# (build-rootfs.sh with testing-packages), coloc built in it with chroot
# (--enable-werror), and the symbols spank_faas.so exports checked
# (tests/exports.sh). Usage: testing-build.sh SRCDIR CACHE
# Prints one line: slurm-testing: ok slurm=X.Y.Z gcc=N (or why not).
# Exit status: 0 built, 77 cannot here (no root, no mmdebstrap, no
# archive), 1 a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guest/lib.sh
. "$here/lib.sh"
guest_args testing-build.sh "$@"
"$here/build-rootfs.sh" "$cache" testing "$here/testing-packages"
rc=$?
[ $rc = 0 ] || exit $rc
root=$cache/rootfs
rm -rf "$root/opt/coloc"
guest_copy_source "$src" "$root/opt/coloc"
cat >"$root/opt/coloc-build.sh" <<'BUILD'
set -e
umask 022
cd /opt/coloc
./bootstrap
mkdir -p build && cd build
../configure --enable-werror --prefix=/usr --sysconfdir=/etc
make -j"$(nproc)"
make -C tests check-TESTS TESTS=exports.sh SUBDIRS=
BUILD
guest_chroot "$root" /bin/sh /opt/coloc-build.sh >"$cache/build.log" 2>&1
rc=$?
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
slurm=$(chroot "$root" dpkg-query -W -f='${Version}' libslurm-dev 2>/dev/null)
gcc=$(chroot "$root" gcc -dumpversion 2>/dev/null)
if [ $rc != 0 ]; then
	grep -E "error|^not ok" "$cache/build.log" | head -20
	echo "slurm-testing: FAILED slurm=$slurm gcc=$gcc (log: $cache/build.log)"
	exit 1
fi
echo "slurm-testing: ok slurm=$slurm gcc=$gcc: coloc and spank_faas.so build with -Werror, exports as listed"
