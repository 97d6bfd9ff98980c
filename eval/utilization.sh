#!/usr/bin/env bash
# Experiment "utilization": the core-hours a cluster gains when coloc lends
# idle cores to functions, from job traces replayed through colocd's own
# gap computation and placement policy (faas-trace-replay, built in
# tests/bench; faas-trace-replay(1) and its header describe the model).
#
#   eval/utilization.sh --out DIR [--quick] [--build BUILD] [--swf FILE]
#                       [--nodes N] [--cores C] [--node-mem-gib G] [--usage FILE]
#
# Replays two traces, each twice (LendUnallocated=no: only the idle cores
# inside allocations; yes: the unallocated ones too): a synthetic one,
# seeded, calibrated to Piz Daint, on 256 nodes x 36 cores x 64 GiB; and a
# real one, by default LLNL Atlas from the Parallel Workloads Archive
# (eval/traces/, 1152 nodes x 8 cores, 16 GiB a node, Nov 2006 - Jun 2007),
# or the Standard Workload Format trace --swf names (gzip'ed or not) on the
# shape its header gives, or --nodes/--cores (and --node-mem-gib, default
# 64 GiB for a trace other than Atlas); --usage passes per-job usage
# samples through. Writes DIR/utilization.{json,png,md}. Needs a build
# (BUILD, default <repo>/build) and gnuplot (installed as root when
# missing); not root itself. Full: synthetic 30 days, the whole real trace
# (about 2 min); --quick: synthetic 64 nodes x 5 days, the real trace's
# first 2 days after the 1-day warm-up (about 5 s).
set -u
# shellcheck source=eval/lib.sh
. "$(dirname "$0")/lib.sh"

ATLAS=$EVAL_TOP/eval/traces/LLNL-Atlas-2006-2.1-cln.swf.gz
SWF='' SWF_NODES='' SWF_CORES='' SWF_MEM='' USAGE=''
EVAL_USAGE='[--swf FILE] [--nodes N] [--cores C] [--node-mem-gib G] [--usage FILE]'
# eval_option OPTION VALUE: the real trace and its machine (see eval_init)
eval_option() {
	[ $# -ge 2 ] || return 1
	case $1 in
	--swf) SWF=$2 ;;
	--nodes) SWF_NODES=$2 ;;
	--cores) SWF_CORES=$2 ;;
	--node-mem-gib) SWF_MEM=$2 ;;
	--usage) USAGE=$2 ;;
	*) return 1 ;;
	esac
}
eval_init utilization "$@"
eval_out
eval_build
REPLAY=$BUILD/tests/bench/faas-trace-replay
eval_need "$REPLAY"
if [ -z "$SWF" ]; then
	SWF=$ATLAS SWF_MEM=${SWF_MEM:-16}
fi
for f in "$SWF" ${USAGE:+"$USAGE"}; do
	[ -r "$f" ] || die "cannot read $f"
done
eval_ensure_gnuplot || exit 1
WORK=$(mktemp -d /tmp/coloc-eval-utilization.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$WORK"' EXIT
# faas-trace-replay reads a plain file
case $SWF in
*.gz)
	TRACE=$WORK/$(basename "$SWF" .gz)
	gzip -dc "$SWF" >"$TRACE" || die "cannot decompress $SWF"
	;;
*) TRACE=$SWF ;;
esac
SWF_NAME=$(basename "$SWF" .gz)
SHORT=${SWF_NAME%%[-.]*}
[ "$SWF" = "$ATLAS" ] && SHORT=Atlas

DEMAND=4:5
COMMON=(--seed 1 --function-demand "$DEMAND" --json)
if [ "$QUICK" = true ]; then NODES=64 DAYS=5; else NODES=256 DAYS=30; fi
SYNTH=(--synthetic --nodes "$NODES" --cores 36 --node-mem-gib 64 --days "$DAYS")
REAL=(--swf "$TRACE")
[ -n "$SWF_NODES" ] && REAL+=(--nodes "$SWF_NODES")
[ -n "$SWF_CORES" ] && REAL+=(--cores "$SWF_CORES")
[ -n "$SWF_MEM" ] && REAL+=(--node-mem-gib "$SWF_MEM")
[ -n "$USAGE" ] && REAL+=(--usage "$USAGE")
[ "$QUICK" = true ] && REAL+=(--days 2)

# replay RUN ARGS...: faas-trace-replay ARGS into $WORK/RUN-{no,yes}.json
replay() {
	local run=$1 lend
	shift
	for lend in no yes; do
		say "faas-trace-replay $* ${COMMON[*]} --lend-unallocated $lend"
		"$REPLAY" "$@" "${COMMON[@]}" --lend-unallocated "$lend" >"$WORK/$run-$lend.json" 2>"$WORK/$run-$lend.err" ||
			{ cat "$WORK/$run-$lend.err" >&2; die "faas-trace-replay failed ($run, LendUnallocated=$lend)"; }
	done
}
replay synthetic "${SYNTH[@]}"
replay swf "${REAL[@]}"

# ---- JSON ----------------------------------------------------------------------------

get() { eval_json_get "$2" <"$WORK/$1.json"; }
params=$(printf '{"synthetic_args":%s,"swf":%s,"swf_args":%s,"common_args":%s,"function_demand":%s}' \
	"$(eval_json_str "${SYNTH[*]}")" "$(eval_json_str "$SWF_NAME")" "$(eval_json_str "${REAL[*]}")" \
	"$(eval_json_str "${COMMON[*]}")" "$(eval_json_str "$DEMAND")")
results=$(printf '{"synthetic":{"lend_unallocated_no":%s,"lend_unallocated_yes":%s},"swf":{"lend_unallocated_no":%s,"lend_unallocated_yes":%s}}' \
	"$(cat "$WORK/synthetic-no.json")" "$(cat "$WORK/synthetic-yes.json")" \
	"$(cat "$WORK/swf-no.json")" "$(cat "$WORK/swf-yes.json")")
eval_write_json "$OUT/$NAME.json" "$NAME" "$QUICK" "$CMDLINE" "$params" "$results"

# ---- plot: stacked shares of the core-hours -------------------------------------------

# row LABEL RUN [DONE LOST]: label, then used, functions completed, lost to
# evictions and left idle, in % of the run's core-hours
row() {
	awk -v l="$1" -v tot="$(get "$2" total)" -v used="$(get "$2" used)" \
		-v done="${3:-$(get "$2" functions_completed)}" -v lost="${4:-$(get "$2" lost_to_evictions)}" \
		'BEGIN { printf "\"%s\" %.3f %.3f %.3f %.3f\n", l, 100 * used / tot, 100 * done / tot, 100 * lost / tot, 100 * (tot - used - done - lost) / tot }'
}
{
	for run in synthetic swf; do
		label=$run
		[ "$run" = swf ] && label=$SHORT
		row "$label, none" "$run-no" 0 0
		row "$label, no" "$run-no"
		row "$label, yes" "$run-yes"
	done
} >"$WORK/bars.dat"
swf_days=$(get swf-no days | awk '{ printf "%.0f", $1 }')
gnuplot <<EOF || die "gnuplot failed"
set terminal $(eval_png_terminal) size 1000,560 font ",10"
set output "$OUT/$NAME.png"
set title "Share of the core-hours: synthetic ($NODES x 36 cores, $(get synthetic-no days) days) and $SWF_NAME ($(get swf-no nodes) x $(get swf-no cores) cores, $swf_days days),\nreplayed through colocd gaps + placement; none: without coloc, no/yes: coloc with LendUnallocated=no/yes" noenhanced
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set xrange [-0.6:5.6]
set ylabel "% of the cluster's core-hours"
set yrange [0:100]
set key outside bottom center horizontal
set grid ytics
plot "$WORK/bars.dat" using 2:xtic(1) title "used by host jobs" lc rgb "#4477aa", \
     "" using 3 title "functions (completed)" lc rgb "#228833", \
     "" using 4 title "functions (lost to evictions)" lc rgb "#ee6677", \
     "" using 5 title "idle (unallocated or idle in allocation)" lc rgb "#bbbbbb"
EOF

# ---- markdown ------------------------------------------------------------------------

pct() { awk -v v="$1" 'BEGIN { printf "%.1f %%", 100 * v }'; }
kh() { awk -v v="$1" 'BEGIN { printf "%.0f", v }'; }
ratio_pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f %%", (b > 0 ? 100 * a / b : 0) }'; }
# gains RUN: the sentence on what lending gained in RUN
gains() {
	echo "Lending only idle cores inside allocations (LendUnallocated=no) completed $(kh "$(get "$1-no" functions_completed)") core-hours" \
		"of functions, a throughput gain of $(pct "$(get "$1-no" throughput_gain)") over the host jobs' $(kh "$(get "$1-no" used)")" \
		"used core-hours ($(pct "$(get "$1-no" throughput_gain_served)") counting the work lost to $(get "$1-no" evictions) evictions," \
		"$(ratio_pct "$(get "$1-no" evictions)" "$(get "$1-no" leases)") of the leases);" \
		"with unallocated cores too (yes) the gain is $(pct "$(get "$1-yes" throughput_gain)") ($(get "$1-yes" evictions) evictions," \
		"$(ratio_pct "$(get "$1-yes" evictions)" "$(get "$1-yes" leases)") of the leases) and utilization goes from" \
		"$(pct "$(get "$1-yes" utilization_before)") to $(pct "$(get "$1-yes" utilization_after)")."
}
{
	echo "## 5. Utilization"
	echo
	echo "faas-trace-replay replayed two job traces on simulated clusters, calling colocd's own \`gaps_compute()\` (the node" \
		"agent, MaxLendFraction 0.5, BatchStepCores 1) and \`placement_place()\` (the controller) on every change, with a" \
		"backlog of 4-worker x 5-minute function tasks (2 GiB a worker), once lending only the idle cores inside allocations" \
		"(LendUnallocated=no) and once the unallocated cores too (yes). Jobs take whole nodes and are scheduled with EASY" \
		"backfilling (Slurm's backfill: the first waiting job gets a reservation, later ones start early only if they do not" \
		"delay it), or start at their recorded start when the trace has one."
	echo
	echo "**Synthetic trace, calibrated to Piz Daint.** $(get synthetic-no in_trace) jobs (seed 1, offered load 0.95, jobs of" \
		"1-$(get synthetic-no max_job_nodes) whole nodes, lognormal run times) on $NODES simulated 36-core, 64 GiB nodes;" \
		"$(get synthetic-no days) days counted after a 1-day warm-up. The host jobs leave" \
		"$(ratio_pct "$(get synthetic-no idle_in_allocation)" "$(get synthetic-no allocated)") of their allocated cores idle" \
		"(node-sample median $(pct "$(get synthetic-no node_idle_median)"), p95 $(pct "$(get synthetic-no node_idle_p95)"))," \
		"and $(pct "$(get synthetic-no unallocated_of_cluster_mean)") of the cores are unallocated. $(gains synthetic)"
	echo
	if [ "$SWF" = "$ATLAS" ]; then
		trace_desc="**LLNL Atlas, a real Slurm trace.** The Parallel Workloads Archive's log of Lawrence Livermore's Atlas (\`$SWF_NAME\`, shipped in \`eval/traces/\`; Slurm, Nov 2006 - Jun 2007; log courtesy of Moe Jette, LLNL, converted by Gingichashvili and Feitelson): every one of its $(get swf-no in_trace) jobs that held nodes"
	else
		trace_desc="**The SWF trace \`$SWF_NAME\`.** Every one of its $(get swf-no in_trace) jobs that held nodes"
	fi
	if [ "$(get swf-no with_start_time)" = 0 ]; then
		starts="the trace records no wait times, so jobs are queued at their submission (the replay's mean wait is"
	else
		starts="$(get swf-no with_start_time) jobs are queued at their recorded start, the others at submission (the replay's mean wait is"
	fi
	echo "$trace_desc ($(get swf-no completed) completed, $(get swf-no failed) failed, $(get swf-no cancelled) cancelled," \
		"$(get swf-no other_status) other: a failed or cancelled job that ran held its nodes like any other), on the machine" \
		"the $(get swf-no shape_from) gives, $(get swf-no nodes) nodes x $(get swf-no cores) cores, $(get swf-no node_mem_gib) GiB" \
		"a node$([ "$SWF" = "$ATLAS" ] && echo " (Atlas's)");" \
		"$starts $(get swf-no mean_wait_s) s, $(get swf-no waited) jobs waited); $(get swf-no days | awk '{ printf "%.1f", $1 }')" \
		"days counted after a 1-day warm-up. The trace's jobs allocate" \
		"$(ratio_pct "$(get swf-no allocated)" "$(get swf-no total)") of the core-hours, and the idle model leaves" \
		"$(ratio_pct "$(get swf-no idle_in_allocation)" "$(get swf-no allocated)") of their cores idle." \
		"$(gains swf)"
	echo
	echo "**The idle model and its assumptions.** Within an allocation, each node of a job changes its usage in phases of" \
		"exponential length (mean 9 minutes: Piz Daint's 89 % of idle periods under 20 minutes), and each phase draws the" \
		"idle fraction of the job's cores from a lognormal (median 3.46 %, sigma 1.18: Daint's 3.46 % median, ~6.9 % mean and" \
		"24.2 % p95 of idle cores, Copik et al., IPDPS 2024). Where a trace records CPU time, a job's median is scaled by its" \
		"inefficiency (1 - CPU time / run time) against the trace's mean, so wasteful jobs idle more whole cores and" \
		"efficient ones fewer while the trace-wide mean keeps Daint's calibration (most inefficiency is partial use of every" \
		"core, not whole idle cores; the trace here has $(awk -v v="$(get swf-no inefficiency_mean)" 'BEGIN { if (v > 0) printf "a mean inefficiency of %.1f %%", 100 * v; else printf "no CPU times, so the calibration applies unchanged" }'))." \
		"A site should feed measured per-job usage instead (\`faas-trace-replay --usage\`: the idle fraction of each job's" \
		"cores over time, from Slurm's jobacct_gather samples or TACC Stats), which replaces the model for those jobs." \
		"Also assumed, not measured: exclusive whole-node jobs, one busy step per node on its lowest cores, independent" \
		"phases per node, every job consenting and declaring 1.5x its memory use with \`--faas-host-mem\` (the trace's, or" \
		"U(5 %, 35 %) of the node), a never-empty function queue, evicted work lost and restarted from scratch, and no" \
		"interference cost for the host job (experiment 2 measures that)."
	echo "The paper's \"up to 53 %\" is a best case for one application pair on two nodes (LULESH with CG.B functions on its" \
		"free cores: utilization .993 against .650 when each NAS run takes an exclusive node), not a cluster-wide figure:" \
		"across a cluster the gain is bounded by the idle cores themselves, and short idle phases evict many leases."
	echo
	echo "| core-hours | synthetic, no | synthetic, yes | $SHORT, no | $SHORT, yes |"
	echo "|---|---|---|---|---|"
	for k in total allocated used idle_in_allocation unallocated lendable functions_on_idle_in_allocation \
		functions_on_unallocated functions_completed lost_to_evictions; do
		echo "| ${k//_/ } | $(kh "$(get synthetic-no "$k")") | $(kh "$(get synthetic-yes "$k")") |" \
			"$(kh "$(get swf-no "$k")") | $(kh "$(get swf-yes "$k")") |"
	done
	row_of() {
		local r out='' field=$1
		shift
		for r in synthetic-no synthetic-yes swf-no swf-yes; do out="$out $("$field" "$r") |"; done
		echo "$out"
	}
	leases_evictions() { echo "$(get "$1" leases) / $(get "$1" evictions)"; }
	before_after() { echo "$(pct "$(get "$1" utilization_before)") -> $(pct "$(get "$1" utilization_after)")"; }
	gain() { echo "$(pct "$(get "$1" throughput_gain)") / $(pct "$(get "$1" throughput_gain_served)")"; }
	wall() { echo "$(get "$1" wall_s) s"; }
	echo "| leases / evictions |$(row_of leases_evictions)"
	echo "| utilization before -> after |$(row_of before_after)"
	echo "| throughput gain (completed / served) |$(row_of gain)"
	echo "| replay time |$(row_of wall)"
	eval_md_tail "$NAME" "$CMDLINE"
} >"$OUT/$NAME.md"
say "wrote $OUT/$NAME.json, $OUT/$NAME.png and $OUT/$NAME.md"
