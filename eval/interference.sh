#!/usr/bin/env bash
# Experiment "interference": what co-located functions cost a host job, with
# and without coloc's isolation (the paper's P1 Figs. 7-8: LULESH slowed at
# most ~2 %, the memory-bound MILC 3-12 %).
#
#   eval/interference.sh --out DIR [--quick] [--build BUILD]
#
# On a 2-node scripts/testbed, for each host workload (stress-ng --cpu 1
# --cpu-method matrixprod: compute-bound; stress-ng --stream 1: memory-bound)
# and each case, REPS times (quick 1 x 5 s, full 3 x 20 s):
#   alone      a host batch job on node 1 (sbatch -c2 --faas-host, as nobody)
#              runs the workload on core 0 (the core coloc counts its batch
#              step on); core 1 stays idle
#   coloc      the same, while a client job on node 2 (srun --faas-workers=1,
#              faas-bs-client --blocking --options 2M in a loop, pinned to
#              core 1)
#              keeps the function worker coloc placed on the lent core 1
#              (its cgroup: that core, a memory limit) busy
#   unmanaged  the same client load on a faas-executor started by hand in
#              node 1's network namespace, no cgroup, no --cpus: its worker
#              pins itself to the first core it may use, core 0, the host's
# The host's throughput is stress-ng's bogo ops/s (real time); the functions'
# is faas-bs-client's options/s. Writes DIR/interference.{json,png,md}. Needs
# root (the testbed). The testbed is named by TESTBED_PREFIX (eb),
# TESTBED_PORT (25817), TESTBED_SUBNET (10.241.0) and torn down on every
# exit; the build tree is copied first.
set -u
# shellcheck source=eval/lib.sh
. "$(dirname "$0")/lib.sh"

eval_init interference "$@"
eval_root "a Slurm testbed, cgroups, colocd"
command -v stress-ng >/dev/null || die "needs stress-ng: apt-get install stress-ng (scripts/lib.sh lists it)"
eval_ensure_gnuplot || exit 1
eval_out

export TESTBED_PREFIX=${TESTBED_PREFIX:-eb} TESTBED_PORT=${TESTBED_PORT:-25817} \
	TESTBED_SUBNET=${TESTBED_SUBNET:-10.241.0} TESTBED_LEND_UNALLOCATED=${TESTBED_LEND_UNALLOCATED:-no}
if $QUICK; then DUR=5 REPS=1; else DUR=20 REPS=3; fi
LOAD_OPTIONS=2000000
read -ra WORKLOADS <<<"${EVAL_WORKLOADS:-cpu stream}"
CASES=(alone coloc unmanaged)

WORK=$(mktemp -d /tmp/eval-interference.XXXXXX) || die "cannot create a work directory"
chmod 755 "$WORK"
TB=$WORK/tb W=$WORK/jobs
mkdir -m 777 "$W"
LOADPID='' EXECPID=''
stop_load() {
	touch "$W/stop"
	[ -n "$LOADPID" ] && { wait "$LOADPID" 2>/dev/null; LOADPID=''; }
	if [ -n "$EXECPID" ]; then
		kill "$EXECPID" 2>/dev/null
		wait "$EXECPID" 2>/dev/null
		EXECPID=''
	fi
	rm -f "$W/stop"
}
cleanup() {
	trap '' INT TERM
	[ -n "$LOADPID" ] && kill "$LOADPID" 2>/dev/null
	[ -n "$EXECPID" ] && kill "$EXECPID" 2>/dev/null
	touch "$W/stop" 2>/dev/null
	eval_tb_down "$TB" "$WORK/testbed-down.log" || say "testbed down failed (see above)"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

eval_snapshot_build "$BUILD" "$WORK/build" || exit 1
B=$WORK/build LIB=$WORK/build/examples/faas_examples.so
CLIENT="env LD_LIBRARY_PATH=$B/libfaas $B/examples/faas-bs-client"
export COLOC_BUILD=$B
say "testbed: 2 nodes ($TESTBED_PREFIX, $TESTBED_SUBNET.0/24, port $TESTBED_PORT); ${#WORKLOADS[@]} workloads x ${#CASES[@]} cases x $REPS x $DUR s"
eval_tb_up "$TB" 2 "$WORK/testbed-up.log" || die "the testbed did not come up"
N1=${TESTBED_PREFIX}1 N2=${TESTBED_PREFIX}2

# the function load: faas-bs-client in a loop on core 1 of node 2 until
# $W/stop, one JSON line per run into $W/load; srun ARGS... before the command
LOOP="while [ ! -e $W/stop ]; do taskset -c 1 $CLIENT --blocking --options $LOAD_OPTIONS --json || exit 1; done"
start_load() {
	: >"$W/load"
	eval_nobody srun -w "$N2" -n1 -c2 --mem=1500M "$@" bash -c "$LOOP" >"$W/load" 2>"$W/load.err" &
	LOADPID=$!
	eval_until 60 "[ -s $W/load ]" || die "the function load did not get going: $(tail -3 "$W/load.err")"
}

# run_once WORKLOAD CASE: one host job; prints the host's bogo ops/s and the
# functions' mean options/s (or -)
run_once() {
	local w=$1 c=$2 args=(--cpu 1 --cpu-method matrixprod) tag=$1-$2 bogo fps
	[ "$w" = stream ] && args=(--stream 1)
	rm -f "$W/$tag".*
	eval_nobody sbatch -w "$N1" -n1 -c2 --mem=1000M --faas-host --faas-host-mem=500M -J "host-$tag" -D "$W" \
		-o "$W/$tag.host" --wrap "touch $W/$tag.started; until [ -e $W/$tag.go ]; do sleep 0.05; done
taskset -c 0 stress-ng ${args[*]} --metrics-brief -t ${DUR}s; touch $W/$tag.done" >/dev/null ||
		die "sbatch of the host job failed"
	eval_until 30 "[ -e $W/$tag.started ] && [ -n \"\$(eval_lendable $N1)\" ]" ||
		die "the host job did not start, or $N1 lends nothing"
	case $c in
	coloc) start_load --faas-workers=1 --faas-lib="$LIB" ;;
	unmanaged)
		rm -f "$W/lease.json"
		nsenter --net="/run/netns/${TESTBED_PREFIX}ns1" setpriv --reuid=nobody --regid=nogroup --clear-groups \
			"$B/executor/faas-executor" --lib "$LIB" --workers 1 --provider 'tcp;ofi_rxm' \
			--addr "$TESTBED_SUBNET.11" --publish "$W/lease.json" >"$W/exec.log" 2>&1 &
		EXECPID=$!
		eval_until 60 "[ -s $W/lease.json ]" || die "the hand-started executor published no lease: $(cat "$W/exec.log")"
		FAAS_LEASE=$W/lease.json start_load
		;;
	esac
	touch "$W/$tag.go"
	if [ -n "${EVAL_DEBUG:-}" ]; then # which threads run where, halfway through
		sleep $((DUR / 2))
		ps -eLo psr,pcpu,user,comm --sort=-pcpu | head -8 >&2
	fi
	eval_until $((DUR + 30)) "[ -e $W/$tag.done ]" || die "the host job did not finish: $(tail -5 "$W/$tag.host")"
	[ "$c" = alone ] || stop_load
	bogo=$(awk '/metrc:/ && ($4 == "cpu" || $4 == "stream") { print $9; exit }' "$W/$tag.host")
	[ -n "$bogo" ] || die "no stress-ng metrics in the host job's output: $(tail -5 "$W/$tag.host")"
	fps=-
	if [ "$c" != alone ]; then
		grep -q '"mismatches":[1-9]' "$W/load" && die "the functions' prices differ from the local ones"
		fps=$(grep -o '"options_per_s":[0-9.]*' "$W/load" | cut -d: -f2 | eval_mean_sd)
		fps=${fps% *}
	fi
	eval_until 30 "[ -z \"\$(squeue -h -n host-$tag 2>/dev/null)\" ]"
	echo "$bogo ${fps:--}"
}

T0=$SECONDS
for rep in $(seq 1 "$REPS"); do
	for w in "${WORKLOADS[@]}"; do
		for c in "${CASES[@]}"; do
			r=$(run_once "$w" "$c") || exit 1
			echo "${r% *}" >>"$WORK/bogo.$w.$c"
			[ "${r#* }" = - ] || echo "${r#* }" >>"$WORK/fps.$w.$c"
			say "rep $rep $w $c: host ${r% *} bogo ops/s, functions ${r#* } options/s"
		done
	done
done
RUN_S=$((SECONDS - T0))

# ---- results ------------------------------------------------------------------
: >"$WORK/plot.dat"
RES='' TABLE=''
declare -A SL_OF PER_OF SPREAD_OF
for w in "${WORKLOADS[@]}"; do
	read -r A_M A_SD <<<"$(eval_mean_sd <"$WORK/bogo.$w.alone")"
	SPREAD_OF[$w]=$(awk 'NR == 1 || $1 < lo { lo = $1 } NR == 1 || $1 > hi { hi = $1 } END { printf "%.1f", (hi / lo - 1) * 100 }' "$WORK/bogo.$w.alone")
	obj="\"alone\":{\"host_bogo_ops_per_s\":$(eval_mean_sd_json <"$WORK/bogo.$w.alone")}"
	line="| $w | $(printf '%.1f ± %.1f' "$A_M" "$A_SD")"
	plot="\"$w\" 0 0"
	for c in coloc unmanaged; do
		read -r M SD <<<"$(eval_mean_sd <"$WORK/bogo.$w.$c")"
		# slowdown = 1 - mean/alone mean; its sd propagated from both sds
		read -r SL SLSD <<<"$(awk -v a="$A_M" -v as="$A_SD" -v m="$M" -v s="$SD" 'BEGIN {
			r = m / a; e = r * sqrt((s / m) ^ 2 + (as / a) ^ 2); printf "%.2f %.2f\n", (1 - r) * 100, e * 100 }')"
		read -r F_M _ <<<"$(eval_mean_sd <"$WORK/fps.$w.$c")"
		# each repetition against the alone run of the same repetition
		PER=$(paste "$WORK/bogo.$w.alone" "$WORK/bogo.$w.$c" | awk '{ printf "%s%.2f", (NR > 1 ? "," : ""), (1 - $2 / $1) * 100 }')
		obj+=",\"$c\":{\"host_bogo_ops_per_s\":$(eval_mean_sd_json <"$WORK/bogo.$w.$c"),\"host_slowdown_pct\":$SL,\
\"host_slowdown_sd_pct\":$SLSD,\"host_slowdown_per_rep_pct\":[$PER],\"functions_options_per_s\":$(eval_mean_sd_json <"$WORK/fps.$w.$c")}"
		PER_OF[$w.$c]=$(echo "$PER" | awk -F, '{ for (i = 1; i <= NF; i++) printf "%s%+.1f %%", (i > 1 ? ", " : ""), $i }')
		line+=" | $(printf '%.1f ± %.1f' "$M" "$SD") | $(printf '%+.1f ± %.1f %%' "$SL" "$SLSD") | $(awk -v f="$F_M" 'BEGIN { printf "%.2f M", f / 1e6 }')"
		plot+=" $SL $SLSD"
		SL_OF[$w.$c]=$SL
	done
	RES+="${RES:+,}\"$w\":{$obj}"
	TABLE+="$line |"$'\n'
	echo "$plot" >>"$WORK/plot.dat"
done
PARAMS="{\"workloads\":{\"cpu\":\"stress-ng --cpu 1 --cpu-method matrixprod\",\"stream\":\"stress-ng --stream 1\"},\
\"duration_s\":$DUR,\"repetitions\":$REPS,\"host_core\":0,\"lent_core\":1,\"function_load\":\"faas-bs-client --blocking --options $LOAD_OPTIONS, in a loop, on core 1\",\
\"provider\":\"tcp;ofi_rxm\",\"testbed\":{\"nodes\":2,\"prefix\":$(eval_json_str "$TESTBED_PREFIX")},\
\"paper\":{\"lulesh_max_slowdown_pct\":2.0,\"milc_slowdown_pct\":[3.0,12.4]}}"
eval_write_json "$OUT/$NAME.json" "$NAME" "$QUICK" "$CMDLINE" "$PARAMS" "{$RES,\"run_s\":$RUN_S}"

gnuplot <<EOF || die "gnuplot failed"
set terminal $(eval_png_terminal) size 720,420
set output "$OUT/$NAME.png"
set title "Host job slowdown vs alone ($REPS x $DUR s, mean ± sd); lower is better"
set ylabel "slowdown of the host's bogo ops/s (%)"
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.7 border -1
set grid ytics
set key top left
set yrange [*:*]
plot "$WORK/plot.dat" using 4:5:xtic(1) title "coloc (executor on the lent core)" lc rgb "#4477aa", \
     "" using 6:7 title "unmanaged executor (no cgroup, no placement)" lc rgb "#cc6677"
EOF

{
	echo "## 2. Co-location interference"
	echo
	echo "A host batch job on node 1 ran stress-ng on core 0 ($REPS × $DUR s per case: \`--cpu 1 --cpu-method matrixprod\`," \
		"compute-bound like LULESH, and \`--stream 1\`, memory-bound like MILC), alone, with coloc's function worker" \
		"on the core it lends (a client on node 2 kept it busy with faas-bs-client, $LOAD_OPTIONS options a run)," \
		"and with the same load on a faas-executor started by hand without coloc's cgroup and placement," \
		"whose worker pins itself to the first core it may use, the host's core 0." \
		"With coloc the host lost ${SL_OF[cpu.coloc]:-n/a} % (cpu) and ${SL_OF[stream.coloc]:-n/a} % (stream) of its throughput," \
		"to compare with the paper's ≤ 2 % for LULESH and 3-12 % for MILC; unmanaged it lost ${SL_OF[cpu.unmanaged]:-n/a} % and ${SL_OF[stream.unmanaged]:-n/a} %," \
		"as it then time-shares its core with the worker." \
		"Per repetition, against the alone run of the same repetition, coloc cost cpu ${PER_OF[cpu.coloc]:-n/a} and stream ${PER_OF[stream.coloc]:-n/a}" \
		"(unmanaged: cpu ${PER_OF[cpu.unmanaged]:-n/a}; stream ${PER_OF[stream.unmanaged]:-n/a});" \
		"the host's runs alone spread by ${SPREAD_OF[cpu]:-n/a} % (cpu) and ${SPREAD_OF[stream]:-n/a} % (stream) between repetitions" \
		"on this shared machine, the measure of its noise." \
		"All testbed nodes share this machine's 2 physical cores, so the host and the functions share one L3 cache and one memory bus" \
		"(the paper's batch and functions shared a 36-core node), and the client and the daemons run on the same 2 cores too;" \
		"the client shares core 1 with the worker, so it waits for replies with \`--blocking\` and leaves the core to the worker" \
		"while a call runs; its traffic (veth, softirqs) and Slurm's step daemons still run wherever the kernel puts them, core 0 included," \
		"which a client on another node would not cost the host."
	echo
	echo "| host workload | alone (bogo ops/s) | with coloc | slowdown | functions (options/s) | unmanaged executor | slowdown | functions (options/s) |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s' "$TABLE"
	echo
	echo "![]($NAME.png)"
	echo
	echo "\`$CMDLINE\` (${RUN_S} s of measurements)"
} >"$OUT/$NAME.md"
say "wrote $OUT/$NAME.json, $NAME.png, $NAME.md"
