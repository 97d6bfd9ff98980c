# shellcheck shell=bash
# Shared by scripts/check and scripts/demo: the Debian packages coloc needs
# and an out-of-tree build. Sourced, not run.

COLOC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# what is built must be readable by the users the tests run as
umask 022

# Build and test dependencies, by Debian 12 package name.
COLOC_PACKAGES=(
	gcc make autoconf automake libtool pkg-config
	libfabric-dev libfabric-bin libjansson-dev libhwloc-dev libcgroup-dev
	libmunge-dev munge libcmocka-dev libslurm-dev clang-format shellcheck
	# colocd's metrics page, and its test's client and checker (promtool)
	libmicrohttpd-dev curl prometheus
	# sd_notify for colocd's Type=notify units
	libsystemd-dev
	# the Python package coloc and its NumPy tests
	python3 python3-numpy
	# scripts/testbed: a local Slurm cluster, one network namespace per node
	slurmctld slurmd slurm-client util-linux
	# the verbs test: Debian's kernel under QEMU with Soft-RoCE
	qemu-system-x86 busybox-static cpio kmod iproute2 rdma-core ibverbs-providers
	# the cgroup v2 test: a Debian 13 guest built from Debian's packages
	mmdebstrap e2fsprogs
	# eval/interference.sh: the host job's workload
	stress-ng
	# the SeBS kernels (faas_sebs.so): images, compression, graphs
	libpng-dev zlib1g-dev libigraph-dev
	# scripts/evaluate's plots
	gnuplot-nox
	# comm.sh joins two lease documents; scripts/comm-bench's Open MPI
	# baseline (optional there: skipped with a message without them)
	jq openmpi-bin libopenmpi-dev
	# scripts/fuzz: clang with libFuzzer and the sanitizers' runtimes,
	# llvm-symbolizer for their reports (gcc's ASan and UBSan runtimes,
	# for --enable-sanitizers, come with gcc)
	clang libclang-rt-dev llvm
	# scripts/package: the Debian packages (dpkg-buildpackage, lintian) and
	# the RPM smoke build; systemd-analyze for the units
	dpkg-dev debhelper dh-python fakeroot lintian rpm rpmlint systemd
)

# Installs the packages that are missing (needs root and Debian's archive).
coloc_ensure_packages() {
	local missing=() p
	for p in "${COLOC_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "coloc: missing Debian packages: ${missing[*]}" >&2
		echo "coloc: install them as root: apt-get install ${missing[*]}" >&2
		return 1
	fi
	echo "coloc: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# coloc_build_dir NAME: where NAME (check, demo, eval) builds: build/NAME in
# the checkout, unless other users cannot reach the checkout (a private
# home, mode 0700): the tests and the demo run executors, clients and srun as
# nobody, who must read the programs and function libraries built; then a
# directory of its own under /var/tmp, named after the checkout.
coloc_build_dir() {
	if setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$COLOC_TOP" 2>/dev/null; then
		echo "$COLOC_TOP/build/$1"
	else
		echo "/var/tmp/coloc-$1-$(printf %s "$COLOC_TOP" | md5sum | cut -c1-8)"
	fi
}

# coloc_build DIR [configure args...]: bootstrap, configure in DIR, make.
coloc_build() {
	local dir=$1
	shift
	(cd "$COLOC_TOP" && ./bootstrap >/dev/null 2>&1) || { echo "coloc: bootstrap failed" >&2; return 1; }
	mkdir -p "$dir"
	(cd "$dir" && "$COLOC_TOP/configure" --enable-werror "$@" >configure.out 2>&1) ||
		{ tail -20 "$dir/configure.out" >&2; return 1; }
	make -C "$dir" -j"$(nproc)" >"$dir/make.out" 2>&1 || { grep -E "error|Error" "$dir/make.out" | head -30 >&2; return 1; }
}
