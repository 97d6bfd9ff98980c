#!/usr/bin/env bash
# Experiment "reclaim": how long a host job waits for its lent cores.
#
#   eval/reclaim.sh --out DIR [--quick] [--build BUILD]
#
# Runs a colocd --standalone (this machine the only node, EvictGrace=200ms as
# in scripts/testbed, executors in real cgroups as user nobody) and repeats,
# per mode: acquire a one-worker lease, start the workload, send the host
# report that needs the lent core (a job_start holding every PU, on the node
# agent's root-only unix socket, as the SPANK plugin's slurmstepd does) and
# time until colocd answers it, which it does once the executor is gone and
# its cgroup removed (checked after each answer). Modes:
#   idle   the executor waits for calls, none come (cooperative)
#   busy   faas-bs-client --fallback keeps the worker busy with short
#          Black-Scholes calls (cooperative); the client prices what it lost
#          locally and checks every price; it waits with --blocking, as
#          a client on another node would not take this node's cores
#   hung   faas-call runs sleep_ms (faas_faults.so) for 30 s: a function
#          that does not return in time (uncooperative), killed with SIGKILL
#          after EvictGrace
# The client's view: calls that failed (an error, not a hang), retried
# locally, and lost (no answer and no error: must be 0). Writes
# DIR/reclaim.{json,png,md}. Needs root and a build (BUILD, default
# <repo>/build; faas_faults.so, faas-call and colocd_send are built in
# BUILD/tests/integration when missing).
set -u
# shellcheck source=eval/lib.sh
. "$(dirname "$0")/lib.sh"

eval_init reclaim "$@"
eval_root "colocd runs executors in cgroups"
[ -d /sys/fs/cgroup/cpuset ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || die "no cgroup file system is mounted"
NOBODY=$(id -u nobody) || die "needs a user nobody (the lease owner)"
eval_out
eval_build
COLOCD=$BUILD/colocd/colocd
EXECUTOR=$BUILD/executor/faas-executor
EX_LIB=$BUILD/examples/.libs/faas_examples.so
BS_CLIENT=$BUILD/examples/faas-bs-client
IT=$BUILD/tests/integration
FAULTS_LIB=$IT/.libs/faas_faults.so
FAAS_CALL=$IT/faas-call
SEND=$IT/colocd_send
eval_need "$COLOCD" "$EXECUTOR" "$EX_LIB" "$BS_CLIENT"
if [ ! -e "$FAULTS_LIB" ] || [ ! -x "$FAAS_CALL" ] || [ ! -x "$SEND" ]; then
	say "building faas_faults.la, faas-call and colocd_send in $IT"
	make -C "$IT" faas_faults.la faas-call colocd_send >/dev/null 2>&1 || die "cannot build them (make -C $IT)"
fi
eval_ensure_gnuplot || exit 1

GRACE_MS=200
BS_OPTIONS=2000000
CALL_TIMEOUT_MS=1000 # the hung client's deadline per call (libfaas's default)
if [ "$QUICK" = true ]; then N=10; else N=50; fi
NCPU=$(nproc)

WORK=$(mktemp -d /tmp/coloc-eval-reclaim.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
ROOT=coloc-eval-$$
PORT=$((30000 + $$ % 20000))
COLOCD_PID='' CLIENT_PID=''
# stops what this script started: its client, its colocd (which evicts its
# executors), then whatever is left in its own CgroupRoot
cleanup() {
	trap '' INT TERM
	[ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null && wait "$CLIENT_PID" 2>/dev/null
	eval_colocd_stop "$ROOT"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T_START=$SECONDS

eval_colocd_start "$WORK" "$PORT" "$ROOT" "$GRACE_MS" "$EXECUTOR" || exit 1

send() { "$SEND" --tcp "$PORT" "$@"; }
report() { "$SEND" --unix "$WORK/colocd.sock" "$@"; }
field() { grep -o "\"$1\":\"\\?[^,\"}]*" | head -1 | sed 's/.*:"\?//'; }
# acquire LIB: a one-worker lease for nobody; sets LEASE_ID, XPID; the document in $WORK/lease.json
acquire() {
	local out
	out=$(send --lease-out "$WORK/lease.json" "{\"v\":1,\"type\":\"lease_acquire\",\"cred\":\"none:$NOBODY:$NOBODY\",\"workers\":1,\"lib\":\"$1\",\"mem\":0,\"gpus\":0,\"time\":120,\"mode\":\"spread\",\"job\":0}" 2>&1) ||
		die "lease_acquire failed: $out"
	LEASE_ID=$(echo "$out" | field id)
	XPID=$(field pid <"$WORK/lease.json")
	{ [ -n "$LEASE_ID" ] && [ -n "$XPID" ]; } || die "no lease id or executor pid in: $out"
}
release() { send "{\"v\":1,\"type\":\"lease_release\",\"cred\":\"none:$NOBODY:$NOBODY\",\"id\":\"$1\"}" >/dev/null 2>&1; }
cgroup_of() { # lease id: its cgroup directories that still exist
	local m
	for m in /sys/fs/cgroup/*/"$ROOT/$1" /sys/fs/cgroup/"$ROOT/$1"; do [ -d "$m" ] && echo "$m"; done
}
# rx_bytes PID: the bytes PID has received on its established TCP connections
rx_bytes() {
	ss -Htnpi state established 2>/dev/null | grep -A1 "pid=$1," |
		grep -o 'bytes_received:[0-9]*' | awk -F: '{ s += $2 } END { print s + 0 }'
}
# until_ms MS CMD: until CMD succeeds, at most MS milliseconds (5 ms steps)
until_ms() {
	local i
	for ((i = 0; i < $1; i += 5)); do
		eval "$2" && return 0
		sleep 0.005
	done
	return 1
}

# the floor: a report that evicts nothing (the end of a job colocd does not
# know), timed the same way: colocd_send's start and one unix round trip
: >"$WORK/floor"
for _ in $(seq 10); do
	eval_stamp t0
	report '{"v":1,"type":"job_end","job":999999}' >/dev/null || die "colocd does not answer on its unix socket"
	eval_stamp t1
	eval_ms "$t0" "$t1" >>"$WORK/floor"
done

JOB=5000
# one MODE: one iteration; appends the reclaim time (ms) to $WORK/MODE and
# the client's outcome to $WORK/MODE.client
one() {
	local mode=$1 lib=$EX_LIB out rc t0 t1 te ms alive cg
	[ "$mode" = hung ] && lib=$FAULTS_LIB
	acquire "$lib"
	rm -f "$WORK/client.out" "$WORK/client.end"
	case $mode in
	idle) sleep 0.05 ;;
	busy)
		(
			FAAS_LEASE=$WORK/lease.json FAAS_ADDR=127.0.0.1 timeout 60 "$BS_CLIENT" \
				--options "$BS_OPTIONS" --fallback --blocking --json >"$WORK/client.out" 2>"$WORK/client.err"
			echo "rc=$?" >"$WORK/client.end"
		) &
		CLIENT_PID=$!
		# until calls flow: the executor has received more than the
		# handshake (64 KiB) on its connections (bounded)
		until_ms 10000 "[ \$(rx_bytes $XPID) -gt 65536 ]" ||
			say "busy: no calls reached the executor within 10 s"
		;;
	hung)
		(
			FAAS_ADDR=127.0.0.1 timeout 60 "$FAAS_CALL" --lease "$WORK/lease.json" --fn sleep_ms \
				--u64 30000 --timeout-ms "$CALL_TIMEOUT_MS" >"$WORK/client.out" 2>&1
			rc=$?
			eval_stamp te
			echo "rc=$rc end=$te" >"$WORK/client.end"
		) &
		CLIENT_PID=$!
		# until one of the executor's threads sleeps in the function (bounded)
		until_ms 10000 "grep -qs hrtimer_nanosleep /proc/$XPID/task/*/wchan" ||
			say "hung: the function did not start sleeping within 10 s"
		;;
	esac
	JOB=$((JOB + 1))
	eval_stamp t0
	out=$(report "{\"v\":1,\"type\":\"job_start\",\"job\":$JOB,\"uid\":1000,\"pus\":\"0-$((NCPU - 1))\",\"mem\":1073741824,\"mem_need\":0,\"gpus\":0,\"consent\":false,\"end\":0}" 2>&1)
	rc=$?
	eval_stamp t1
	alive=0
	[ -d "/proc/$XPID" ] && alive=1
	cg=$(cgroup_of "$LEASE_ID")
	if [ $rc != 0 ] || ! echo "$out" | grep -q '"ok"'; then
		die "$mode: the host report was not answered ok: $out"
	fi
	ms=$(eval_ms "$t0" "$t1")
	echo "$ms" >>"$WORK/$mode"
	echo "$alive ${cg:+1}" >>"$WORK/$mode.left" # executor alive / cgroup left at the answer
	report "{\"v\":1,\"type\":\"job_end\",\"job\":$JOB}" >/dev/null
	release "$LEASE_ID"
	if [ -n "$CLIENT_PID" ]; then
		wait "$CLIENT_PID"
		CLIENT_PID=''
		case $mode in
		busy) # remote lost local mismatches rc
			rc=$(sed 's/rc=//' "$WORK/client.end")
			out=$(cat "$WORK/client.out")
			echo "$(echo "$out" | eval_json_get remote_calls) $(echo "$out" | eval_json_get lost_calls)" \
				"$(echo "$out" | eval_json_get local_calls) $(echo "$out" | eval_json_get mismatches)" \
				"$(echo "$out" | eval_json_get calls) $rc" >>"$WORK/busy.client"
			;;
		hung) # rc error_seen ms_from_report_to_client_exit
			read -r rc te <"$WORK/client.end"
			rc=${rc#rc=} te=${te#end=}
			echo "$rc $(grep -c 'faas-call: error' "$WORK/client.out") $(eval_ms "$t0" "$te")" >>"$WORK/hung.client"
			sed -n 's/^faas-call: error \(.*\) after [0-9]* calls$/\1/p' "$WORK/client.out" >>"$WORK/hung.errors"
			;;
		esac
	fi
}

MODES=(idle busy hung)
: >"$WORK/busy.client"
: >"$WORK/hung.client"
: >"$WORK/hung.errors"
for mode in "${MODES[@]}"; do
	say "$mode: $N reclaims (EvictGrace ${GRACE_MS}ms)"
	: >"$WORK/$mode"
	: >"$WORK/$mode.left"
	for _ in $(seq "$N"); do one "$mode"; done
done
kill "$COLOCD_PID" 2>/dev/null && wait "$COLOCD_PID" 2>/dev/null
COLOCD_PID=''
SIGKILLS=$(grep -c 'needed SIGKILL' "$WORK/colocd.log")

# ---- results ---------------------------------------------------------------------

stats() { eval_stats_json <"$WORK/$1"; }
med() { eval_median <"$WORK/$1"; }
p99() { eval_p99 <"$WORK/$1"; }
left_alive() { awk '$1 == 1 { c++ } END { print c + 0 }' "$WORK/$1.left"; }
left_cg() { awk '$2 == 1 { c++ } END { print c + 0 }' "$WORK/$1.left"; }
FLOOR=$(eval_median <"$WORK/floor")
# busy: remote lost local mismatches calls rc
B_REMOTE=$(awk '{ s += $1 } END { print s + 0 }' "$WORK/busy.client")
B_FAILED=$(awk '{ s += $2 } END { print s + 0 }' "$WORK/busy.client")
B_LOCAL=$(awk '{ s += $3 } END { print s + 0 }' "$WORK/busy.client")
B_MISM=$(awk '{ s += $4 } END { print s + 0 }' "$WORK/busy.client")
B_BADRC=$(awk '$6 != 0 { c++ } END { print c + 0 }' "$WORK/busy.client")
B_MIDRUN=$(awk '$1 > 0 && $3 > 0 { c++ } END { print c + 0 }' "$WORK/busy.client")
# calls that neither completed nor failed: a client that hung (timeout) or
# whose remote + local calls do not add up to its calls
B_LOST=$(awk '$6 == 124 || $1 + $3 != $5 { c++ } END { print c + 0 }' "$WORK/busy.client")
# hung: rc error_seen ms
H_FAILED=$(awk '$1 == 1 && $2 > 0 { c++ } END { print c + 0 }' "$WORK/hung.client")
H_LOST=$(awk '$1 == 124 || $1 == 137 { c++ } END { print c + 0 }' "$WORK/hung.client")
H_DONE=$(awk '$1 == 0 { c++ } END { print c + 0 }' "$WORK/hung.client")
H_ERR_MED=$(awk '{ print $3 }' "$WORK/hung.client" | eval_median)
H_ERR_P99=$(awk '{ print $3 }' "$WORK/hung.client" | eval_p99)
LOST=$((B_LOST + H_LOST))
TARGET=$(awk -v a="$(p99 idle)" -v b="$(p99 busy)" 'BEGIN { print (a <= 20 && b <= 20) ? "met" : "missed" }')
# the hung clients' error messages, with their counts: {"message":count,...}
H_ERRS=$(sort "$WORK/hung.errors" | uniq -c | while read -r c m; do printf '%s:%d\n' "$(eval_json_str "$m")" "$c"; done | paste -sd, -)
H_ERRS_TEXT=$(sort "$WORK/hung.errors" | uniq -c | awk '{ c = $1; $1 = ""; printf "%s\"%s\" x%d", (NR > 1 ? ", " : ""), substr($0, 2), c }')
HUNG_OVER=$(awk -v m="$(med hung)" -v g="$GRACE_MS" 'BEGIN { printf "%.3f", m - g }')

params="{\"iterations_per_mode\":$N,\"evict_grace_ms\":$GRACE_MS,\"cpus\":$NCPU,\
\"workers_per_lease\":1,\"provider\":\"tcp;ofi_rxm\",\"host_report\":\"job_start holding PUs 0-$((NCPU - 1))\",\
\"modes\":{\"idle\":\"executor waiting, no calls\",\
\"busy\":$(eval_json_str "faas-bs-client --options $BS_OPTIONS --fallback: short blackscholes calls"),\
\"hung\":\"faas-call of sleep_ms 30000 (faas_faults.so): does not return\"}}"
results="{\"reclaim_ms\":{\"idle\":$(stats idle),\"busy\":$(stats busy),\"hung\":$(stats hung)},\
\"samples_ms\":{\"idle\":$(eval_json_array <"$WORK/idle"),\"busy\":$(eval_json_array <"$WORK/busy"),\
\"hung\":$(eval_json_array <"$WORK/hung")},\
\"report_floor_ms\":$FLOOR,\"cooperative_p99_target_ms\":20,\"cooperative_p99_target\":\"$TARGET\",\"hung_median_minus_grace_ms\":$HUNG_OVER,\"sigkills_logged\":$SIGKILLS,\
\"executor_alive_at_answer\":{\"idle\":$(left_alive idle),\"busy\":$(left_alive busy),\"hung\":$(left_alive hung)},\
\"cgroup_left_at_answer\":{\"idle\":$(left_cg idle),\"busy\":$(left_cg busy),\"hung\":$(left_cg hung)},\
\"client\":{\"busy\":{\"runs\":$N,\"runs_reclaimed_mid_run\":$B_MIDRUN,\"remote_calls\":$B_REMOTE,\
\"calls_failed\":$B_FAILED,\"calls_retried_locally\":$B_LOCAL,\"mismatches\":$B_MISM,\
\"clients_failed\":$B_BADRC,\"calls_lost\":$B_LOST},\
\"hung\":{\"runs\":$N,\"calls_failed\":$H_FAILED,\"calls_completed\":$H_DONE,\"calls_lost\":$H_LOST,\
\"call_timeout_ms\":$CALL_TIMEOUT_MS,\"errors\":{$H_ERRS},\"error_after_report_ms\":{\"median\":${H_ERR_MED:-null},\"p99\":${H_ERR_P99:-null}}},\
\"calls_lost\":$LOST}}"
eval_write_json "$OUT/$NAME.json" "$NAME" "$QUICK" "$CMDLINE" "$params" "$results"

# ---- plot: the CDF of each mode ------------------------------------------------------

for mode in "${MODES[@]}"; do
	sort -g "$WORK/$mode" | awk -v n="$N" 'NR == 1 { print $1, 0 } { print $1, NR / n }' >"$WORK/$mode.cdf"
done
gnuplot <<EOF || die "gnuplot failed"
set terminal $(eval_png_terminal) size 900,520 font ",10"
set output "$OUT/$NAME.png"
set title "Reclaim: host report -> executor gone, cgroup removed, answered (EvictGrace ${GRACE_MS} ms, $N per mode)" noenhanced
set logscale x 10
set xlabel "time from the host report to colocd's answer (ms, log scale)"
set ylabel "fraction of reclaims"
set yrange [0:1.05]
set grid
set key bottom right
set arrow from $GRACE_MS, graph 0 to $GRACE_MS, graph 1 nohead dt 2 lc rgb "gray40"
set label "EvictGrace" at $GRACE_MS, graph 0.5 right offset -0.5,0 textcolor rgb "gray40"
plot "$WORK/idle.cdf" using 1:2 with steps lw 2 title "idle executor (cooperative)", \
     "$WORK/busy.cdf" using 1:2 with steps lw 2 title "busy, short calls (cooperative)", \
     "$WORK/hung.cdf" using 1:2 with steps lw 2 title "function that does not return"
EOF

# ---- markdown ------------------------------------------------------------------------

f1() { awk -v v="$1" 'BEGIN { printf (v < 10 ? "%.2f" : "%.1f"), v }'; }
{
	echo "## 4. Reclaim"
	echo
	echo "A \`colocd --standalone\` on this machine (EvictGrace=${GRACE_MS}ms, the testbed's value) ran a" \
		"one-worker lease for user nobody $N times per mode, and each time a host report that needs the" \
		"lent core (\`job_start\` holding every PU, on the node agent's unix socket, as slurmstepd sends" \
		"it) was timed until colocd answered it, which it does only once the executor is gone and its" \
		"cgroup removed (checked after every answer: executors still alive $(($(left_alive idle) + $(left_alive busy) + $(left_alive hung)))," \
		"cgroups left $(($(left_cg idle) + $(left_cg busy) + $(left_cg hung))))."
	echo "Cooperative executors (idle, or busy with a Black-Scholes client) gave their core back in" \
		"$(f1 "$(med idle)") and $(f1 "$(med busy)") ms (median); a function that does not return holds it until" \
		"the SIGKILL after EvictGrace: $(f1 "$(med hung)") ms, EvictGrace + $(f1 "$HUNG_OVER") ms of cleanup."
	echo "The paper gives no reclaim time for rFaaS (its executors were not preempted by a host); the" \
		"design's target is p99 <= 20 ms for a cooperative executor ($TARGET in this run: p99" \
		"$(f1 "$(p99 idle)") ms idle, $(f1 "$(p99 busy)") ms busy), and Slurm's slurmstepd waits for the" \
		"answer at most EvictGrace + 3 s."
	echo "The clients lost $LOST calls (a call that neither completes nor returns an error): the busy" \
		"clients had $B_FAILED calls fail with an error and priced $B_LOCAL calls locally ($B_MISM mismatches;" \
		"$B_MIDRUN of $N runs reclaimed mid-run, with calls done remotely and locally), and $H_FAILED of $N" \
		"hung calls returned an error ($H_ERRS_TEXT) and their client exited a median $(f1 "${H_ERR_MED:-0}") ms after the report, with" \
		"a ${CALL_TIMEOUT_MS} ms deadline per call."
	echo "Each time includes starting the reporting program and a unix round trip, $(f1 "$FLOOR") ms" \
		"(median of a report that evicts nothing, same run)."
	echo
	echo "| mode | n | median | p99 | min | max |"
	echo "|---|---|---|---|---|---|"
	for mode in "${MODES[@]}"; do
		s=$(stats "$mode")
		echo "| $mode | $(echo "$s" | eval_json_get n) | $(f1 "$(echo "$s" | eval_json_get median)") ms" \
			"| $(f1 "$(echo "$s" | eval_json_get p99)") ms | $(f1 "$(echo "$s" | eval_json_get min)") ms" \
			"| $(f1 "$(echo "$s" | eval_json_get max)") ms |"
	done
	echo
	echo "| client | runs | remote calls | failed (error) | retried locally | lost | mismatches |"
	echo "|---|---|---|---|---|---|---|"
	echo "| faas-bs-client --fallback --blocking (busy) | $N | $B_REMOTE | $B_FAILED | $B_LOCAL | $B_LOST | $B_MISM |"
	echo "| faas-call sleep_ms (hung) | $N | $N | $H_FAILED | 0 | $H_LOST | - |"
	echo
	echo "![]($NAME.png)"
	echo
	echo '```sh'
	echo "$CMDLINE"
	echo '```'
} >"$OUT/$NAME.md"

say "done in $((SECONDS - T_START)) s: $OUT/$NAME.{json,png,md}"
[ "$LOST" = 0 ] || die "$LOST calls were lost (no answer and no error)"
