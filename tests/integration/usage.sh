#!/bin/bash
# TAP test: usage records (colocd(8), USAGE RECORDS) and colocctl usage.
# colocd --standalone with real executors in real cgroups: a host job
# (owned by daemon) lends its cores; three leases of nobody's on them end
# released, expired and evicted; each leaves one record in
# StateDir/usage.jsonl and a "usage:" log line with the client's job, the
# host job, cores, seconds and the calls its executor served; the
# controller's StateDir/cluster-usage.jsonl gets the same records. colocctl
# usage sums them by user, host job, node and lease, as root and, with the
# access rules, as nobody (their own leases), daemon (what ran on their
# host job) and bin (nothing). Needs root, cgroups and setpriv.
set -u
. "$(dirname "$0")/tap.sh"
command -v setpriv >/dev/null || skip "setpriv is not installed (util-linux)"
command -v jq >/dev/null || skip "jq is not installed"
[ -x "${COLOCCTL:-}" ] || skip "no colocctl"
tap_setup usage
tap_ports 7
pid=
trap tap_colocd_cleanup EXIT
tap_conf "$port" "$dir" "$root" EvictGrace=200ms >"$dir/coloc.conf"
records=$dir/state/usage.jsonl
owner=$(id -u daemon) || skip "no user daemon"
id bin >/dev/null 2>&1 || skip "no user bin"
ncores=$(nproc)
cores=0-$((ncores - 1))
send() { "$COLOCD_SEND" --tcp "$port" "$@"; }
acquire() { # time job [extra args to colocd_send]: a lease of nobody's, 1 worker
	local t=$1 job=$2
	shift 2
	send "$@" "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$nobody:$nobody\",\"workers\":1,\"lib\":\"$FAAS_EXAMPLES_LIB\",\"mem\":0,\"gpus\":0,\"time\":$t,\"mode\":\"spread\",\"job\":$job}"
}
# record ID: its line of usage.jsonl
record() { grep -F "\"id\":\"$1\"" "$records" 2>/dev/null; }
usage() { "$COLOCCTL" -f "$dir/coloc.conf" usage "$@" 2>&1; }

check "colocd --standalone starts" colocd_start "see the log below"
# host job 77, daemon's, on every core, lending them
out=$(report "{\"v\":1,\"type\":\"job_start\",\"job\":77,\"uid\":$owner,\"pus\":\"$cores\",\"mem\":1073741824,\"mem_need\":0,\"gpus\":0,\"consent\":true,\"end\":0}" 2>&1)
check "host job 77 (daemon's) lends its $ncores cores" '[ "$out" = "{\"v\":1,\"type\":\"ok\"}" ]' "$out"

# A: released after 7 calls
t0=$(date +%s)
out=$(acquire 60 4242 --lease-out "$dir/a.json")
a=$(echo "$out" | field id)
res=$(FAAS_ADDR=127.0.0.1 timeout 30 "$FAAS_CALL" --lease "$dir/a.json" --fn noop --count 7 2>&1)
check "lease A (client job 4242) serves 7 calls" '[ -n "$a" ] && echo "$res" | grep -q "ok calls=7"' "$out / $res"
sleep 1.2
out=$(send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:$nobody:$nobody\",\"id\":\"$a\"}" 2>&1)
until_ok 100 0.05 '[ -n "$(record "$a")" ]'
ra=$(record "$a")
t1=$(date +%s)
check "A left one record: its lease id, owner, client job, host job, node, released" \
	'[ "$(record "$a" | wc -l)" = 1 ] &&
	[ "$(echo "$ra" | jq -r "[.uid, .user, .job, .state, .node] | @tsv")" = "$nobody	nobody	4242	released	$(hostname -s)" ] &&
	echo "$ra" | jq -e ".host_jobs | test(\"^77:$owner:[0-9]+$\")" >/dev/null' "$ra / $out"
check "its start, end and core-seconds agree (cores x duration, within a second)" \
	'echo "$ra" | jq -e --argjson t0 "$t0" --argjson t1 "$t1" \
		".start >= \$t0 and .end <= \$t1 and .end - .start >= 1 and .cores >= 1 and
		 .core_seconds >= .cores * (.end - .start - 1) and .core_seconds <= .cores * (.end - .start + 1) and
		 .gpu_seconds == 0 and (.mem == 0 or .gb_seconds >= 0)"' "$ra"
check "its executor said it served 7 calls" \
	'echo "$ra" | jq -e ".calls == 7 and .calls_known"' "$ra"
check "colocd logged it as a usage line" 'grep -q "usage: {\"id\":\"$a\"" "$dir/colocd.log"'

# B: expires
out=$(acquire 1 0)
b=$(echo "$out" | field id)
until_ok 100 0.05 '[ -n "$(record "$b")" ]'
rb=$(record "$b")
check "B (1 s) left a record: expired, no client job" \
	'[ -n "$b" ] && echo "$rb" | jq -e ".state == \"expired\" and .job == 0 and .end - .start <= 3"' "$out / $rb"

# C: evicted by host job 77's step on every core
out=$(acquire 60 4243)
c=$(echo "$out" | field id)
rep=$(report "{\"v\":1,\"type\":\"step_start\",\"job\":77,\"step\":0,\"pus\":\"$cores\",\"mem\":0,\"gpus\":0}" 2>&1)
until_ok 100 0.05 '[ -n "$(record "$c")" ]'
rc_=$(record "$c")
check "C left a record: evicted, saying it was the host job" \
	'[ -n "$c" ] && echo "$rc_" | jq -e ".state == \"evicted\" and (.why | test(\"host job|step\")) and .job == 4243"' "$out / $rep / $rc_"
check "every line of usage.jsonl is a JSON record; the file is root's, 0600" \
	'[ "$(wc -l <"$records")" = 3 ] && jq -e -s "length == 3" "$records" >/dev/null &&
	[ "$(stat -c "%U %a" "$records")" = "root 600" ]' "$(cat "$records")"
check "the controller's cluster-usage.jsonl has the same 3 records, once each" \
	'until_ok 40 0.05 "[ \"\$(wc -l <$dir/state/cluster-usage.jsonl)\" = 3 ]" &&
	[ "$(jq -c . "$records")" = "$(jq -c . "$dir/state/cluster-usage.jsonl")" ]' \
	"$(cat "$dir/state/cluster-usage.jsonl" 2>&1)"

# colocctl usage, as root
out=$(usage --by user --json)
check "colocctl usage --by user --json: one JSON document, nobody's 3 leases, 7 calls" \
	'echo "$out" | jq -e "length == 1 and .[0].group == \"nobody\" and .[0].leases == 3 and .[0].calls == 7" >/dev/null' "$out"
out=$(usage --by host-job)
check "colocctl usage --by host-job: a table with host job 77's row" \
	'echo "$out" | head -1 | grep -q "^Usage of ended leases by host-job" &&
	echo "$out" | grep -Eq "^77 +3 "' "$out"
out=$(usage --by node --since 1h --json)
check "colocctl usage --by node --since 1h: this node" \
	'echo "$out" | jq -e "length == 1 and .[0].group == \"$(hostname -s)\" and .[0].leases == 3" >/dev/null' "$out"
out=$(usage --since "$(date -d tomorrow +%F)" --json)
check "colocctl usage --since tomorrow: nothing" '[ "$out" = "[]" ]' "$out"
out=$(usage --records --json)
check "colocctl usage --records: the 3 records, oldest first" \
	'[ "$(echo "$out" | jq -r "map(.id) | join(\" \")")" = "$a $b $c" ]' "$out"
out=$(usage --by lease --user nobody --json)
check "colocctl usage --by lease --user nobody: one row per lease" \
	'echo "$out" | jq -e "length == 3" >/dev/null' "$out"
out=$(usage --since yesterday-ish)
check "colocctl usage refuses a --since it cannot read" \
	'echo "$out" | grep -q "expected a date"' "$out"

# access rules
out=$(colocctl_as nobody usage --by lease --json 2>&1)
check "nobody sees their own 3 leases" 'echo "$out" | jq -e "length == 3" >/dev/null' "$out"
out=$(colocctl_as nobody usage --user root 2>&1)
rc=$?
check "nobody may not ask for root's usage (EPERM)" \
	'[ $rc = 1 ] && echo "$out" | grep -q "only root"' "$out"
out=$(colocctl_as daemon usage --json 2>&1)
check "daemon, who ran no lease, sees nothing without --host-job" '[ "$out" = "[]" ]' "$out"
out=$(colocctl_as daemon usage --host-job 77 --by user --json 2>&1)
check "daemon sees what ran on their host job 77: nobody's 3 leases" \
	'echo "$out" | jq -e "length == 1 and .[0].group == \"nobody\" and .[0].leases == 3" >/dev/null' "$out"
out=$(colocctl_as bin usage --host-job 77 --records --json 2>&1)
check "bin does not see what ran on daemon's host job" '[ "$out" = "[]" ]' "$out"

check "colocd is still running" 'kill -0 $pid'
tap_end "$dir/colocd.log"
