#!/bin/sh
# Checks colocd's systemd units (systemd/) with systemd-analyze verify, as
# built (ExecStart pointed at this build's colocd; man pages not looked
# up, being not installed): an unknown directive or bad value, which
# systemd only warns about, fails here too. Then what they promise
# (colocd(8)): the agent owns its cgroup subtree and is ready before
# slurmd. Skips (77) without systemd-analyze. scripts/check verifies the
# installed units again, with their man pages.
top=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
build=${abs_top_builddir:-$top}
command -v systemd-analyze >/dev/null 2>&1 ||
	{ echo "SKIP: systemd-analyze is missing (apt-get install systemd)"; exit 77; }
dir=$(mktemp -d /tmp/coloc-systemd-verify.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
for u in colocd.service colocd-controller.service; do
	sed "s|@sbindir@|$build/colocd|g" "$top/systemd/$u.in" >"$dir/$u" || exit 1
done
out=$(cd "$dir" && systemd-analyze verify --man=no ./colocd.service ./colocd-controller.service 2>&1)
rc=$?
bad=0
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "systemd-analyze verify: exit $rc"
	echo "$out"
	bad=1
fi
# what colocd(8) promises of them
for want in "Type=notify" "Delegate=yes" "Before=slurmd.service" "Restart=on-failure" \
	"ProtectSystem=full" "ProtectHome=read-only"; do
	grep -qx "$want" "$dir/colocd.service" || { echo "colocd.service lacks $want"; bad=1; }
done
for want in "Type=notify" "ExecStart=$build/colocd/colocd --controller --foreground" "NoNewPrivileges=yes"; do
	grep -qx "$want" "$dir/colocd-controller.service" || { echo "colocd-controller.service lacks $want"; bad=1; }
done
[ $bad -eq 0 ] && echo "colocd.service and colocd-controller.service: systemd-analyze verify is quiet"
exit $bad
