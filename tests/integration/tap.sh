# Sourced by the integration scripts: TAP output and cleanup helpers.
#   ok WHAT / not_ok WHAT WHY   one numbered result ($n of them, $failed failed)
#   check WHAT COND [WHY]       ok when COND (eval'd) holds, else not_ok WHY
#   skip WHY                    the whole script skips (TAP "1..0 # SKIP")
#   cgroups_purge PATTERN...    kills what runs in, and removes, the cgroups
#                               matching each PATTERN (a glob, relative to the
#                               cgroup root: a test's CgroupRoot) and their
#                               children, in every hierarchy (v1 and v2)
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1 # ${2:-}"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }
skip() { echo "1..0 # SKIP $1"; exit 0; }
cgroups_purge() {
	local p m c
	for p in "$@"; do
		# shellcheck disable=SC2086 # p is a glob
		for m in /sys/fs/cgroup/*/$p /sys/fs/cgroup/$p; do
			[ -d "$m" ] || continue
			for c in "$m"/*/; do
				[ -f "$c/cgroup.procs" ] && xargs -r kill -9 <"$c/cgroup.procs" 2>/dev/null
				rmdir "$c" 2>/dev/null
			done
			rmdir "$m" 2>/dev/null
		done
	done
}
