#!/bin/sh
# TAP test: colocd's sandbox module in real cgroups (sandbox_check.c).
# Needs root and writable cgroup hierarchies; says why and skips otherwise.
# Whatever cgroups the run leaves behind (a crash, the watchdog) are
# removed here afterwards, their processes killed.
root="coloc-test-$$"
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root to create cgroups"
	exit 0
fi
if ! grep -qE '^[^ ]+ [^ ]+ cgroup2? ' /proc/mounts; then
	echo "1..0 # SKIP no cgroup filesystem is mounted"
	exit 0
fi
"${SANDBOX_CHECK:-./sandbox_check}" "$root"
rc=$?
awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts | while read -r mnt; do
	[ -d "$mnt/$root" ] || continue
	echo "# removing the leftover cgroup $mnt/$root"
	find "$mnt/$root" -depth -type d | while read -r d; do
		for _ in 1 2 3 4 5; do
			pids=$(cat "$d/cgroup.procs" 2>/dev/null)
			[ -z "$pids" ] && break
			# shellcheck disable=SC2086 # one pid per word
			kill -9 $pids 2>/dev/null
			sleep 0.2
		done
		rmdir "$d" 2>/dev/null
	done
done
test $rc -eq 77 && exit 0
exit $rc
