#!/bin/bash
# The invocation path over real RDMA verbs: boots Debian's stock kernel
# under qemu-system-x86_64 (TCG, no network card) with an initramfs holding
# busybox, the Soft-RoCE modules (rdma_rxe on a veth pair inside the guest),
# rdma-core, libfabric, faas-executor and verbs_check, then runs the
# executor and the check over the `verbs;ofi_rxm` provider.
# Prints: verbs: ok provider=verbs;ofi_rxm invocations=N errors_expected=M
# Functional assertions only: nothing is timed under emulation.
# The kernel package and the guest's kernel tree are cached under the build
# tree; the initramfs is rebuilt only when one of its inputs changed.
# It skips (a TAP "1..0 # SKIP" plan with the reason) only where qemu
# cannot run at all.
# (FAAS_EXECUTOR, FAAS_FAULTS_LIB, VERBS_CHECK, LIBFAAS and VERBS_CACHE come
# from tests/integration/Makefile.am.)
set -u
# TAP for the driver (plan last), plus the verbs: line scripts/check shows.
skip() { echo "1..0 # SKIP $*"; exit 0; }
fail() { echo "not ok 1 - verbs;ofi_rxm in a QEMU guest: $*"; echo "1..1"; exit 1; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
for t in busybox cpio depmod ldd; do
	command -v "$t" >/dev/null || skip "$t is not installed (scripts/check installs busybox-static, cpio, kmod)"
done
[ -f /etc/libibverbs.d/rxe.driver ] || skip "the rxe verbs provider is missing (apt-get install ibverbs-providers)"
cache=${VERBS_CACHE:?}
mkdir -p "$cache"

# -- the kernel: Debian's stock amd64 image, as linux-image-amd64 names it
kpkg_name() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
kpkg=$(kpkg_name)
if [ -z "$kpkg" ] && [ "$(id -u)" = 0 ]; then
	apt-get update -q >/dev/null 2>&1 # no package lists yet: a fresh machine
	kpkg=$(kpkg_name)
fi
if [ -z "$kpkg" ]; then
	for deb in "$cache"/linux-image-*.deb; do
		[ -f "$deb" ] || continue
		kpkg=${deb##*/}
		kpkg=${kpkg%%_*}
		break
	done
fi
[ -n "$kpkg" ] || skip "no linux-image-*-amd64 package is known to apt (run apt-get update)"
kv=${kpkg#linux-image-}
if [ ! -f "$cache/kernel/boot/vmlinuz-$kv" ]; then
	(cd "$cache" && compgen -G "${kpkg}_*.deb" >/dev/null || apt-get download "$kpkg" >/dev/null 2>&1) ||
		skip "cannot download $kpkg from Debian's archive"
	rm -rf "$cache/kernel"
	dpkg-deb -x "$(compgen -G "$cache/${kpkg}_*.deb" | head -1)" "$cache/kernel" || fail "cannot unpack $kpkg"
	depmod -b "$cache/kernel" "$kv" || fail "depmod on $kpkg failed"
fi

# -- the initramfs, rebuilt when an input is newer than it
initrd=$cache/initrd.gz
inputs=("$FAAS_EXECUTOR" "$FAAS_FAULTS_LIB" "$VERBS_CHECK" "$LIBFAAS" "$0")
rebuild=0
[ -f "$initrd" ] || rebuild=1
for f in "${inputs[@]}"; do [ "$f" -nt "$initrd" ] && rebuild=1; done
if [ $rebuild = 1 ]; then
	root=$cache/root
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc/libibverbs.d,lib/faas,usr/lib/x86_64-linux-gnu/libibverbs}
	cp "$(command -v busybox)" "$root/bin/"
	for a in sh mount modprobe sleep cat grep timeout poweroff mkdir kill echo; do ln -s busybox "$root/bin/$a"; done
	cp /usr/bin/ip "$root/bin/xip" # iproute2 for veth (a name starting with "ip" means "ip route")
	cp /usr/bin/rdma "$root/bin/"
	cp "$FAAS_EXECUTOR" "$VERBS_CHECK" "$root/bin/"
	cp "$FAAS_FAULTS_LIB" "$LIBFAAS" "$root/lib/faas/"
	cp /usr/lib/x86_64-linux-gnu/libibverbs/librxe-rdmav*.so "$root/usr/lib/x86_64-linux-gnu/libibverbs/"
	cp /etc/libibverbs.d/rxe.driver "$root/etc/libibverbs.d/"
	# every library those need, as ldd resolves it here
	for b in "$root"/bin/* "$root"/lib/faas/* "$root"/usr/lib/x86_64-linux-gnu/libibverbs/*; do
		[ -L "$b" ] || LD_LIBRARY_PATH=$(dirname "$LIBFAAS") ldd "$b" 2>/dev/null
	done | awk '/=> \// {print $3} /^\t\/lib64\// {print $1}' | sort -u | while read -r l; do
		[ "$(basename "$l")" = "$(basename "$LIBFAAS")" ] && continue
		mkdir -p "$root$(dirname "$l")"
		cp -L "$l" "$root$(dirname "$l")/"
	done
	# modules: rxe, uverbs, veth and whatever they depend on
	mods=$cache/kernel/lib/modules/$kv
	want="rdma_rxe ib_uverbs rdma_ucm veth crc32_generic configfs"
	need=$(for m in $want; do modprobe -d "$cache/kernel" -S "$kv" --show-depends "$m" 2>/dev/null; done |
		awk '$1 == "insmod" {print $2}' | sort -u)
	[ -n "$need" ] || fail "cannot resolve the rdma_rxe module's dependencies in $kpkg"
	for f in $need; do
		rel=${f#"$cache/kernel"}
		mkdir -p "$root$(dirname "$rel")"
		cp "$f" "$root$rel"
	done
	cp "$mods"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$kv/" 2>/dev/null
	depmod -b "$root" "$kv" || fail "depmod on the guest's modules failed"
	cat >"$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp; mkdir -p /dev/shm; mount -t tmpfs shm /dev/shm
for m in crc32_generic configfs veth rdma_rxe ib_uverbs rdma_ucm; do modprobe $m || echo "guest: modprobe $m failed"; done
xip link add veth0 type veth peer name veth1
xip addr add 10.77.0.1/24 dev veth0; xip addr add 10.77.0.2/24 dev veth1
xip link set lo up; xip link set veth1 up; xip link set veth0 up
rdma link add rxe0 type rxe netdev veth0 || echo "guest: rdma link add failed"
echo "guest: $(rdma link show 2>&1)"
export LD_LIBRARY_PATH=/lib/faas FI_UNIVERSE_SIZE=16 FAAS_ADDR=10.77.0.1 HFI_NO_BACKTRACE=1
faas-executor --lib /lib/faas/faas_faults.so --provider "verbs;ofi_rxm" --addr 10.77.0.1 \
	--workers 2 --cpus 0,1 --publish /tmp/lease.json --log-level info &
for i in $(seq 200); do [ -s /tmp/lease.json ] && break; sleep 0.1; done
if [ -s /tmp/lease.json ]; then
	echo "guest: lease $(grep -o '"provider":"[^"]*","rung":"[^"]*"' /tmp/lease.json)"
	FAAS_LEASE=/tmp/lease.json timeout 300 verbs_check
	echo "guest: verbs_check exit $?"
else
	echo "guest: faas-executor did not publish a lease over verbs"
fi
poweroff -f
INIT
	chmod +x "$root/init"
	if ! (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$initrd.tmp") ||
		! mv "$initrd.tmp" "$initrd"; then
		fail "cannot pack the initramfs"
	fi
fi

# -- boot
log=$cache/boot.log
accel=tcg,thread=multi
timeout 600 qemu-system-x86_64 -machine q35 -accel "$accel" -cpu max -smp 2 -m 2048 \
	-kernel "$cache/kernel/boot/vmlinuz-$kv" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 rdinit=/init" \
	-nographic -nic none -no-reboot </dev/null >"$log" 2>&1
qrc=$?
tr -d '\r' <"$log" | grep -E "^(ok|not ok|#|guest:|verbs-check:|faas-executor:)" | sed 's/^/# guest| /'
[ $qrc -eq 124 ] && fail "the guest did not power off within 600 s (log: $log)"
grep -q "Kernel panic\|qemu-system-x86_64: " "$log" && ! grep -q "verbs-check:" "$log" &&
	fail "the guest did not boot (log: $log)"
summary=$(tr -d '\r' <"$log" | grep "^verbs-check:" | tail -1)
[ -n "$summary" ] || fail "verbs_check did not run in the guest (log: $log)"
grep -q "^not ok" <(tr -d '\r' <"$log") && fail "a verbs case failed: $summary"
case "$summary" in
*"failures=0") ;;
*) fail "$summary" ;;
esac
n=${summary##*invocations=}
n=${n%%[!0-9]*}
m=${summary##*errors_expected=}
m=${m%%[!0-9]*}
echo "verbs: ok provider=verbs;ofi_rxm invocations=$n errors_expected=$m"
echo "ok 1 - verbs;ofi_rxm in a QEMU guest with Soft-RoCE: $n invocations, $m expected errors"
echo "1..1"
