#!/usr/bin/env bash
# Experiment "utilization": the core-hours a cluster gains when coloc lends
# idle cores to functions, from a job trace replayed through colocd's own
# gap computation and placement policy (faas-trace-replay, built in
# tests/bench; its --help and header describe the model).
#
#   eval/utilization.sh --out DIR [--quick] [--build BUILD] [--swf FILE]
#
# Runs faas-trace-replay twice on the same trace (synthetic, seeded, unless
# --swf names a Standard Workload Format trace): LendUnallocated=no (only the
# idle cores inside allocations) and yes (the unallocated ones too), and
# writes DIR/utilization.{json,png,md}. Needs a build (BUILD, default
# <repo>/build) and gnuplot (installed as root when missing); not root
# itself. Full: 256 nodes x 36 cores, 30 days (about 30 s); --quick: 64
# nodes, 5 days (about 2 s).
set -u
# shellcheck source=eval/lib.sh
. "$(dirname "$0")/lib.sh"

SWF=''
EVAL_USAGE='[--swf FILE]'
# eval_option --swf FILE: a Standard Workload Format trace (see eval_init)
eval_option() {
	case $1 in
	--swf) [ $# -ge 2 ] || return 1; SWF=$2 ;;
	*) return 1 ;;
	esac
}
eval_init utilization "$@"
eval_out
eval_build
REPLAY=$BUILD/tests/bench/faas-trace-replay
eval_need "$REPLAY"
if [ -n "$SWF" ]; then
	[ -r "$SWF" ] || die "cannot read the trace $SWF"
	SWF=$(cd "$(dirname "$SWF")" && pwd)/$(basename "$SWF")
fi
eval_ensure_gnuplot || exit 1

if [ "$QUICK" = true ]; then NODES=64 DAYS=5; else NODES=256 DAYS=30; fi
DEMAND=4:5
ARGS=(--nodes "$NODES" --cores 36 --node-mem-gib 64 --seed 1 --function-demand "$DEMAND" --json)
if [ -n "$SWF" ]; then
	ARGS+=(--swf "$SWF")
	[ "$QUICK" = true ] && ARGS+=(--days "$DAYS")
else
	ARGS+=(--synthetic --days "$DAYS")
fi
WORK=$(mktemp -d /tmp/coloc-eval-utilization.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$WORK"' EXIT

for lend in no yes; do
	say "faas-trace-replay ${ARGS[*]} --lend-unallocated $lend"
	"$REPLAY" "${ARGS[@]}" --lend-unallocated "$lend" >"$WORK/$lend.json" 2>"$WORK/$lend.err" ||
		{ cat "$WORK/$lend.err" >&2; die "faas-trace-replay failed (LendUnallocated=$lend)"; }
done

# ---- JSON ----------------------------------------------------------------------------

get() { eval_json_get "$2" <"$WORK/$1.json"; }
params=$(printf '{"trace":%s,"nodes":%d,"cores":36,"node_mem_gib":64,"days":%s,"seed":1,"function_demand":%s,"replay_args":%s}' \
	"$(eval_json_str "${SWF:-synthetic}")" "$NODES" "$(get no days)" "$(eval_json_str "$DEMAND")" \
	"$(eval_json_str "${ARGS[*]}")")
results=$(printf '{"lend_unallocated_no":%s,"lend_unallocated_yes":%s}' "$(cat "$WORK/no.json")" "$(cat "$WORK/yes.json")")
eval_write_json "$OUT/$NAME.json" "$NAME" "$QUICK" "$CMDLINE" "$params" "$results"

# ---- plot: stacked core-hours ---------------------------------------------------------

# columns: label, used, functions completed, lost to evictions, left idle (thousands)
row() {
	awk -v l="$1" -v tot="$(get "$2" total)" -v used="$(get "$2" used)" \
		-v done="${3:-$(get "$2" functions_completed)}" -v lost="${4:-$(get "$2" lost_to_evictions)}" \
		'BEGIN { printf "\"%s\" %.3f %.3f %.3f %.3f\n", l, used / 1e3, done / 1e3, lost / 1e3, (tot - used - done - lost) / 1e3 }'
}
{
	row "without coloc" no 0 0
	row "coloc, LendUnallocated=no" no
	row "coloc, LendUnallocated=yes" yes
} >"$WORK/bars.dat"
gnuplot <<EOF || die "gnuplot failed"
set terminal $(eval_png_terminal) size 900,520 font ",10"
set output "$OUT/$NAME.png"
set title "Core-hours, $NODES nodes x 36 cores, $(get no days) days (${SWF:+SWF }trace replayed through colocd gaps + placement)" noenhanced
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.6
set ylabel "core-hours (thousands)"
set yrange [0:*]
set key outside bottom center horizontal
set title font ",10"
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
{
	echo "## 5. Utilization"
	echo
	if [ -n "$SWF" ]; then
		trace_desc="the SWF trace \`$(basename "$SWF")\` ($(get no in_trace) completed jobs, rounded up to whole nodes)"
	else
		trace_desc="a synthetic trace ($(get no in_trace) jobs, seed 1, offered load 0.95, jobs of 1-$(get no max_job_nodes) whole nodes, lognormal run times; $(get no days) days counted after a 1-day warm-up)"
	fi
	echo "faas-trace-replay replayed $trace_desc on $NODES simulated 36-core, 64 GiB nodes, calling colocd's own" \
		"\`gaps_compute()\` (the node agent, MaxLendFraction 0.5, BatchStepCores 1) and \`placement_place()\` (the" \
		"controller) on every change, with a backlog of 4-worker x 5-minute function tasks (2 GiB a worker)."
	echo "The model's host jobs leave $(ratio_pct "$(get no idle_in_allocation)" "$(get no allocated)") of their allocated cores idle" \
		"(per node and 9-minute phase, a lognormal fraction: node-sample median $(pct "$(get no node_idle_median)")," \
		"p95 $(pct "$(get no node_idle_p95)"), against Piz Daint's 6.65 % mean, 3.46 % median and 24.2 % p95 idle cores," \
		"where 89 % of idle periods end within 20 minutes); $(pct "$(get no unallocated_of_cluster_mean)") of the cores are unallocated," \
		"and consenting jobs declare 1.5x their memory use (20 % of the node on average) with \`--faas-host-mem\`."
	echo "Lending only idle cores inside allocations (LendUnallocated=no) completed $(kh "$(get no functions_completed)") core-hours of" \
		"functions, a throughput gain of $(pct "$(get no throughput_gain)") over the host jobs' $(kh "$(get no used)") used core-hours" \
		"($(pct "$(get no throughput_gain_served)") counting the work lost to $(get no evictions) evictions);" \
		"with unallocated cores too (yes) the gain is $(pct "$(get yes throughput_gain)") and utilization goes from" \
		"$(pct "$(get yes utilization_before)") to $(pct "$(get yes utilization_after)")."
	echo "The paper's \"up to 53 %\" is a best case for one application pair on two nodes (LULESH with CG.B functions on its" \
		"free cores: utilization .993 against .650 when each NAS run takes an exclusive node), not a cluster-wide figure:" \
		"across a cluster the gain is bounded by the idle cores themselves (inside allocations" \
		"$(ratio_pct "$(get no idle_in_allocation)" "$(get no used)") of the used core-hours here), and short idle phases" \
		"evict $(ratio_pct "$(get no evictions)" "$(get no leases)") of the leases when only idle-in-allocation cores are lent."
	echo "Assumed, not measured: exclusive whole-node jobs, one busy step per node on its lowest cores, independent" \
		"phases per node, every job consenting, a never-empty function queue, evicted work lost and restarted from scratch," \
		"and no interference cost for the host job (experiment 3 measures that)."
	echo
	echo "| core-hours | LendUnallocated=no | LendUnallocated=yes |"
	echo "|---|---|---|"
	for k in total allocated used idle_in_allocation unallocated lendable functions_on_idle_in_allocation \
		functions_on_unallocated functions_completed lost_to_evictions; do
		echo "| ${k//_/ } | $(kh "$(get no "$k")") | $(kh "$(get yes "$k")") |"
	done
	echo "| leases / evictions | $(get no leases) / $(get no evictions) | $(get yes leases) / $(get yes evictions) |"
	echo "| utilization before -> after | $(pct "$(get no utilization_before)") -> $(pct "$(get no utilization_after)") |" \
		"$(pct "$(get yes utilization_before)") -> $(pct "$(get yes utilization_after)") |"
	echo "| throughput gain (completed / served) | $(pct "$(get no throughput_gain)") / $(pct "$(get no throughput_gain_served)") |" \
		"$(pct "$(get yes throughput_gain)") / $(pct "$(get yes throughput_gain_served)") |"
	echo "| replay time | $(get no wall_s) s | $(get yes wall_s) s |"
	eval_md_tail "$NAME" "$CMDLINE"
} >"$OUT/$NAME.md"
say "wrote $OUT/$NAME.json, $OUT/$NAME.png and $OUT/$NAME.md"
