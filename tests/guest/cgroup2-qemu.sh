#!/bin/bash
# coloc on cgroup v2 under systemd, with Slurm 24.11, in a booted Debian 13
# (trixie): builds the guest's root filesystem from Debian's packages
# (build-rootfs.sh), builds and installs coloc inside it with chroot (native
# speed), writes the guest's Slurm, munge and coloc configuration and
# systemd units, packs it into an ext4 image and boots Debian's kernel from
# it under qemu-system-x86_64 (TCG) with systemd as init and the unified
# hierarchy. In the guest, in-guest.sh runs the sandbox's tests against real
# v2 cgroups, colocd.sh, and a Slurm job with a lease next to slurmd's own
# cgroups, then powers off. Results come back over the serial console.
#
# Usage: cgroup2-qemu.sh SRCDIR CACHE
# Prints TAP (the guest's cases) and, when all passed:
#   cgroup2: ok slurm=24.11.x kernel=6.12.y tests=N
# Caching: CACHE/rootfs (Debian's packages; rebuilt when this directory's
# package list or builder changes), CACHE/rootfs's coloc build (rebuilt when
# a source file changes), CACHE/guest.img (repacked when either changed).
# The guest boots with -snapshot: the image stays as packed.
# Skips (TAP "1..0 # SKIP") only where the machine cannot do it: no qemu,
# no root, no mmdebstrap, Debian's trixie archive unreachable.
set -u
skip() { echo "1..0 # SKIP $*"; exit 0; }
fail() { echo "not ok 1 - coloc on cgroup v2 in a booted Debian 13: $*"; echo "1..1"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guest/lib.sh
. "$here/lib.sh"
guest_args cgroup2-qemu.sh "$@"
t0=$SECONDS

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
[ "$(id -u)" = 0 ] || skip "building the guest's root filesystem needs root (chroot, mkfs.ext4 -d)"
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is missing (apt-get install e2fsprogs)"

# -- 1. Debian's packages
"$here/build-rootfs.sh" "$cache"
case $? in
0) ;;
77) skip "cannot build the Debian 13 root filesystem here (see above)" ;;
*) fail "building the Debian 13 root filesystem failed" ;;
esac
root=$cache/rootfs
t_rootfs=$((SECONDS - t0))

# -- 2. coloc, built and installed inside with chroot, when a source changed
srckey() {
	if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$src" ls-files -z -co --exclude-standard | (cd "$src" && xargs -0 sha256sum 2>/dev/null)
	else
		(cd "$src" && find . -path ./build -prune -o -path ./.git -prune -o -type f -print0 | xargs -0 sha256sum)
	fi | sha256sum | cut -c1-16
}
key="$(cat "$root/../rootfs.key")-$(srckey)"
if [ "$(cat "$cache/coloc.key" 2>/dev/null)" != "$key" ]; then
	rm -f "$cache/coloc.key" "$cache/guest.img"
	# over the last copy, times kept: make rebuilds what changed
	guest_copy_source "$src" "$root/opt/coloc"
	cat >"$root/opt/coloc-build.sh" <<'EOF'
set -e
umask 022
cd /opt/coloc
if [ ! -f build/config.status ]; then
	./bootstrap
	mkdir -p build && cd build
	../configure --enable-werror --prefix=/usr --sysconfdir=/etc --libdir=/usr/lib/x86_64-linux-gnu
else
	cd build
fi
make -j"$(nproc)"
make -j"$(nproc)" -C tests/integration check TESTS=
make install
EOF
	if ! guest_chroot "$root" /bin/sh /opt/coloc-build.sh >"$cache/coloc-build.log" 2>&1; then
		grep -E "error|Error" "$cache/coloc-build.log" | head -20
		fail "coloc does not build in Debian 13 (log: $cache/coloc-build.log)"
	fi
	echo "$key" >"$cache/coloc.key"
fi
t_build=$((SECONDS - t0 - t_rootfs))

# -- 3. the guest's configuration and the image
if [ ! -f "$cache/guest.img" ] || [ "$here/guest-setup.sh" -nt "$cache/guest.img" ] ||
	[ "$here/in-guest.sh" -nt "$cache/guest.img" ] || [ "$0" -nt "$cache/guest.img" ]; then
	guest_chroot "$root" /bin/sh /opt/coloc/tests/guest/guest-setup.sh >"$cache/guest-setup.log" 2>&1 ||
		{ tail -20 "$cache/guest-setup.log"; fail "configuring the guest failed (log: $cache/guest-setup.log)"; }
	rm -f "$cache/guest.img.tmp"
	mkfs.ext4 -q -F -L coloc-guest -d "$root" "$cache/guest.img.tmp" 6G >"$cache/mkfs.log" 2>&1 ||
		{ tail -5 "$cache/mkfs.log"; fail "mkfs.ext4 -d failed"; }
	mv "$cache/guest.img.tmp" "$cache/guest.img"
fi
t_image=$((SECONDS - t0 - t_rootfs - t_build))

# -- 4. boot
kernel=$(find "$root/boot" -name 'vmlinuz-*' | sort | tail -1)
initrd=$(find "$root/boot" -name 'initrd.img-*' | sort | tail -1)
{ [ -n "$kernel" ] && [ -n "$initrd" ]; } || fail "the guest has no kernel or initramfs in /boot"
log=$cache/boot.log
timeout "${COLOC_GUEST_TIMEOUT:-1500}" qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max \
	-smp 2,sockets=1,cores=2,threads=1 -m 3072 -kernel "$kernel" -initrd "$initrd" \
	-append "root=LABEL=coloc-guest rw console=ttyS0 quiet systemd.unified_cgroup_hierarchy=1 systemd.show_status=0 panic=-1" \
	-drive file="$cache/guest.img",if=virtio,format=raw,cache=unsafe -snapshot \
	-nographic -nic none -no-reboot </dev/null >"$log" 2>&1
qrc=$?
t_boot=$((SECONDS - t0 - t_rootfs - t_build - t_image))
echo "# host: root filesystem ${t_rootfs} s, coloc build ${t_build} s, image ${t_image} s, guest ${t_boot} s"
tr -d '\r' <"$log" | grep -E "^(ok|not ok|#|guest:)" | sed 's/^/# guest| /'
[ $qrc -eq 124 ] && fail "the guest did not power off in time (log: $log)"
summary=$(tr -d '\r' <"$log" | grep "^cgroup2: " | tail -1)
[ -n "$summary" ] || fail "the guest's tests did not finish (log: $log)"
tr -d '\r' <"$log" | grep -q "^not ok" && fail "a case failed in the guest: $summary"
case "$summary" in
"cgroup2: ok "*) ;;
*) fail "$summary" ;;
esac
echo "$summary"
echo "ok 1 - coloc on cgroup v2 with systemd and Slurm in a booted Debian 13 (guest ${t_boot} s)"
echo "1..1"
