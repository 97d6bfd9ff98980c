# Sourced by the integration tests that run colocd with real cgroups: TAP
# output, the skips, and the sweep of a test's cgroups. Not run by itself.

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1 # ${2:-}"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }

# Skips the whole test (exit 0, "1..0 # SKIP") unless it runs as root with
# a cgroup file system and a user nobody, whose uid it puts in $nobody.
tap_need_root_cgroups() {
	[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP colocd places executors in cgroups: needs root"; exit 0; }
	[ -d /sys/fs/cgroup/cpuset ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
		{ echo "1..0 # SKIP no cgroup file system is mounted"; exit 0; }
	nobody=$(id -u nobody) || { echo "1..0 # SKIP no user nobody"; exit 0; }
}

# tap_setup NAME: tap_need_root_cgroups, then $dir, a fresh directory
# /tmp/coloc-NAME.XXXXXX that nobody may enter, and $root, the test's
# CgroupRoot coloc-NAME-PID.
tap_setup() {
	tap_need_root_cgroups
	dir=$(mktemp -d "/tmp/coloc-$1.XXXXXX") || exit 1
	chmod 755 "$dir"
	root=coloc-$1-$$
}

# tap_sweep_cgroups NAME...: kills what still runs in the cgroups at and
# below each CgroupRoot NAME (cgroup v1 and v2), deepest first, and
# removes them.
tap_sweep_cgroups() {
	local name d
	for name in "$@"; do
		find /sys/fs/cgroup -maxdepth 6 -type d \( -path "*/$name" -o -path "*/$name/*" \) \
			2>/dev/null | sort -r | while read -r d; do
			xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null
			rmdir "$d" 2>/dev/null
		done
	done
}

# tap_conf PORT DIR ROOT [KEY=VALUE...]: on stdout, the coloc.conf of a
# test's colocd: ControllerPort PORT on 127.0.0.1, SocketPath and StateDir
# in DIR, CgroupRoot ROOT, no authentication, everything lendable, then
# the extra keys.
tap_conf() {
	local port=$1 dir=$2 root=$3
	shift 3
	printf '%s\n' ControllerHost=127.0.0.1 "ControllerPort=$port" "SocketPath=$dir/colocd.sock" \
		"StateDir=$dir/state" "CgroupRoot=$root" AuthType=none MaxLendFraction=1 \
		MemoryMargin=256M "Provider=tcp;ofi_rxm" "$@"
}

# tap_end [LOG]: on failure, LOG as comments; the plan;
# the exit status.
tap_end() {
	[ $failed = 0 ] || { [ -n "${1:-}" ] && sed 's/^/# colocd| /' "$1"; }
	echo "1..$n"
	[ $failed = 0 ]
}
