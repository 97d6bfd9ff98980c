#!/usr/bin/env bash
# Experiment "latency": invocation latency, side by side in one run.
#
#   eval/latency.sh --out DIR [--quick] [--build BUILD]
#
# Measures on this machine, in one run:
#   raw, raw-warm  bare libfabric round trips (faas-bench --mode raw/raw-warm),
#                  spinning and blocking: the physical limit
#   hot, warm      coloc calls of "echo" on a faas-executor (faas-bench --mode
#                  hot/warm); tcp;ofi_rxm, 64 B, as raw
#   cold start     lease request -> first call complete (colocd-bench, a real
#                  colocd --standalone, executor in its cgroup)
#   srun           what a Slurm user does instead to run a small task on the
#                  idle cores of an allocation: `srun --jobid=J --overlap -n1
#                  true` inside a running job, on a 1-node scripts/testbed
#   sbatch --wait  a one-task job, submitted and waited for
# and writes DIR/latency.{json,png,md}. Needs root (the testbed, cgroups) and
# a build (BUILD, default <repo>/build). The testbed is named by
# TESTBED_PREFIX (ea), TESTBED_PORT (24817), TESTBED_SUBNET (10.240.0) and
# is torn down on every exit.
set -u
# shellcheck source=eval/lib.sh
. "$(dirname "$0")/lib.sh"

eval_init latency "$@"
eval_root "a Slurm testbed, cgroups, colocd"
eval_out
eval_build
BENCH=$BUILD/tests/bench/faas-bench
COLOCD_BENCH=$BUILD/tests/bench/colocd-bench
EXECUTOR=$BUILD/executor/faas-executor
LIB=$BUILD/examples/.libs/faas_examples.so
eval_need "$BENCH" "$COLOCD_BENCH" "$EXECUTOR" "$BUILD/colocd/colocd" "$LIB"
eval_ensure_gnuplot || exit 1

PROVIDER="tcp;ofi_rxm"
PAYLOAD=64
if [ "$QUICK" = true ]; then
	ITER=2000 WARMUP=200 ROUNDS=1 COLD_N=5 SRUN_N=10 SBATCH_N=3
else
	ITER=20000 WARMUP=2000 ROUNDS=3 COLD_N=30 SRUN_N=50 SBATCH_N=10
fi
export TESTBED_PREFIX=${TESTBED_PREFIX:-ea} TESTBED_PORT=${TESTBED_PORT:-24817} \
	TESTBED_SUBNET=${TESTBED_SUBNET:-10.240.0} COLOC_BUILD=$BUILD
WORK=$(mktemp -d /tmp/coloc-eval-latency.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
TB=$WORK/tb
TB_STARTED=
t0=0 t1=0
cleanup() {
	trap '' INT TERM
	if [ -n "$TB_STARTED" ]; then
		"$EVAL_TOP/scripts/testbed" down "$TB" >"$WORK/testbed-down.log" 2>&1 ||
			{ say "testbed down failed:"; cat "$WORK/testbed-down.log" >&2; }
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T_START=$SECONDS

# ---- 1. the data plane: faas-bench, rounds interleaved ----------------------

# bench MODE: one faas-bench run; appends "median_ns p99_ns" to $WORK/MODE
bench() {
	local line
	line=$(FAAS_EXECUTOR=$EXECUTOR "$BENCH" --mode "$1" --provider "$PROVIDER" --payload "$PAYLOAD" \
		--iterations "$ITER" --warmup "$WARMUP" --executor "$EXECUTOR" --lib "$LIB" --json 2>"$WORK/bench.err") ||
		die "faas-bench --mode $1 failed: $(tail -3 "$WORK/bench.err")"
	echo "$(echo "$line" | eval_json_get median_ns) $(echo "$line" | eval_json_get p99_ns)" >>"$WORK/$1"
}
say "faas-bench raw, hot, raw-warm, warm: $PROVIDER, $PAYLOAD B, $ITER calls, $ROUNDS round(s)"
for _ in $(seq "$ROUNDS"); do
	for m in raw hot raw-warm warm; do bench "$m"; done
done

# ---- 2. cold start: colocd-bench ---------------------------------------------

say "colocd-bench: $COLD_N cold starts"
line=$("$COLOCD_BENCH" --colocd "$BUILD/colocd/colocd" --executor "$EXECUTOR" --lib "$LIB" \
	--iterations "$COLD_N" --grace-ms 200 --json 2>"$WORK/colocd-bench.err") ||
	die "colocd-bench failed: $(tail -3 "$WORK/colocd-bench.err")"
COLD_MED=$(echo "$line" | eval_json_get cold_start_median_ns)
COLD_P99=$(echo "$line" | eval_json_get cold_start_p99_ns)
PROC_START=$(echo "$line" | eval_json_get process_start_ns)

# ---- 3. Slurm: srun in an allocation, sbatch --wait ----------------------------

say "testbed: 1 node ($TESTBED_PREFIX, $TESTBED_SUBNET.0/24, port $TESTBED_PORT)"
TB_STARTED=1
"$EVAL_TOP/scripts/testbed" up "$TB" 1 >"$WORK/testbed-up.log" 2>&1 ||
	{ cat "$WORK/testbed-up.log" >&2; die "the testbed did not come up"; }
# shellcheck disable=SC1091 # written by scripts/testbed up
. "$TB/env"
as_user() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env SLURM_CONF="$SLURM_CONF" PATH="$PATH" "$@"
}
NODE=${TESTBED_PREFIX}1
# the allocation: a job holding one core that does nothing (the idle resources)
J=$(as_user sbatch --parsable -w "$NODE" -n1 -c1 --mem=300M -J alloc -o /dev/null \
	--chdir=/tmp --wrap 'sleep 3600' 2>"$WORK/sbatch.err") || die "sbatch failed: $(cat "$WORK/sbatch.err")"
for _ in $(seq 1200); do
	[ "$(squeue -h -j "$J" -o %T 2>/dev/null)" = RUNNING ] && break
	sleep 0.05
done
[ "$(squeue -h -j "$J" -o %T 2>/dev/null)" = RUNNING ] || die "the allocation (job $J) did not start within 60 s"

srun_once() {
	as_user srun --jobid="$J" --overlap -n1 --mem=50M --chdir=/tmp true >/dev/null 2>>"$WORK/srun.err"
}
srun_once || die "srun --jobid=$J --overlap -n1 true failed: $(tail -3 "$WORK/srun.err")" # untimed, warms caches
say "srun --jobid=$J --overlap -n1 true, $SRUN_N times"
: >"$WORK/srun"
for _ in $(seq "$SRUN_N"); do
	eval_stamp t0
	srun_once || die "srun failed: $(tail -3 "$WORK/srun.err")"
	eval_stamp t1
	eval_ms "$t0" "$t1" >>"$WORK/srun"
done
# the cost of the timing itself (setpriv, env, a program that does nothing)
: >"$WORK/floor"
for _ in $(seq 10); do
	eval_stamp t0
	as_user true
	eval_stamp t1
	eval_ms "$t0" "$t1" >>"$WORK/floor"
done

say "sbatch --wait -n1 --wrap true, $SBATCH_N times"
: >"$WORK/sbatch"
for _ in $(seq "$SBATCH_N"); do
	eval_stamp t0
	as_user sbatch --wait -Q -w "$NODE" -n1 --mem=50M -o /dev/null --chdir=/tmp --wrap true \
		>/dev/null 2>>"$WORK/sbatch.err" || die "sbatch --wait failed: $(tail -3 "$WORK/sbatch.err")"
	eval_stamp t1
	eval_ms "$t0" "$t1" >>"$WORK/sbatch"
done
scancel "$J" 2>/dev/null

# ---- results -------------------------------------------------------------------

# per-mode summary in µs: the median over rounds of each round's median and p99
us_med() { awk '{ print $1 / 1000 }' "$WORK/$1" | eval_median; }
us_p99() { awk '{ print $2 / 1000 }' "$WORK/$1" | eval_median; }
RAW_MED=$(us_med raw) RAW_P99=$(us_p99 raw)
HOT_MED=$(us_med hot) HOT_P99=$(us_p99 hot)
RW_MED=$(us_med raw-warm) RW_P99=$(us_p99 raw-warm)
WARM_MED=$(us_med warm) WARM_P99=$(us_p99 warm)
COLD_MED_US=$(awk -v v="$COLD_MED" 'BEGIN { print v / 1000 }')
COLD_P99_US=$(awk -v v="$COLD_P99" 'BEGIN { print v / 1000 }')
SRUN_MED=$(awk '{ print $1 * 1000 }' "$WORK/srun" | eval_median)
SRUN_P99=$(awk '{ print $1 * 1000 }' "$WORK/srun" | eval_p99)
SB_MED=$(awk '{ print $1 * 1000 }' "$WORK/sbatch" | eval_median)
SB_P99=$(awk '{ print $1 * 1000 }' "$WORK/sbatch" | eval_p99)
FLOOR_MED=$(awk '{ print $1 * 1000 }' "$WORK/floor" | eval_median)

# rows: name label n median_us p99_us
{
	echo "raw raw_(spin) $((ITER * ROUNDS)) $RAW_MED $RAW_P99"
	echo "hot coloc_hot $((ITER * ROUNDS)) $HOT_MED $HOT_P99"
	echo "raw-warm raw_(block) $((ITER * ROUNDS)) $RW_MED $RW_P99"
	echo "warm coloc_warm $((ITER * ROUNDS)) $WARM_MED $WARM_P99"
	echo "cold coloc_cold_start $COLD_N $COLD_MED_US $COLD_P99_US"
	echo "srun srun_--overlap $SRUN_N $SRUN_MED $SRUN_P99"
	echo "sbatch sbatch_--wait $SBATCH_N $SB_MED $SB_P99"
} >"$WORK/rows"

rows_json=$(awk '{ printf "%s\"%s\":{\"n\":%d,\"median_us\":%.6g,\"p99_us\":%.6g}", (NR > 1 ? "," : ""), $1, $3, $4, $5 }' "$WORK/rows")
per_round() { # mode: [[median_ns,p99_ns],...]
	awk 'BEGIN { printf "[" } { printf "%s[%s,%s]", (NR > 1 ? "," : ""), $1, $2 } END { printf "]" }' "$WORK/$1"
}
R_HOT=$(eval_ratio "$HOT_MED" "$RAW_MED")
R_WARM=$(eval_ratio "$WARM_MED" "$RW_MED")
R_WARM_RAW=$(eval_ratio "$WARM_MED" "$RAW_MED")
R_COLD=$(eval_ratio "$COLD_MED_US" "$RAW_MED")
R_SRUN=$(eval_ratio "$SRUN_MED" "$RAW_MED")
R_SB=$(eval_ratio "$SB_MED" "$RAW_MED")
R_SRUN_HOT=$(eval_ratio "$SRUN_MED" "$HOT_MED")
R_SRUN_WARM=$(eval_ratio "$SRUN_MED" "$WARM_MED")
R_SB_HOT=$(eval_ratio "$SB_MED" "$HOT_MED")
R_SRUN_COLD=$(eval_ratio "$SRUN_MED" "$COLD_MED_US")
ratios="{\"hot_over_raw\":$R_HOT,\"warm_over_raw_warm\":$R_WARM,\"warm_over_raw\":$R_WARM_RAW,\
\"cold_over_raw\":$R_COLD,\"srun_over_raw\":$R_SRUN,\"sbatch_over_raw\":$R_SB,\
\"srun_over_hot\":$R_SRUN_HOT,\"srun_over_warm\":$R_SRUN_WARM,\"sbatch_over_hot\":$R_SB_HOT,\
\"srun_over_cold\":$R_SRUN_COLD}"
params="{\"provider\":$(eval_json_str "$PROVIDER"),\"payload_bytes\":$PAYLOAD,\"iterations\":$ITER,\
\"warmup\":$WARMUP,\"rounds\":$ROUNDS,\"cold_start_iterations\":$COLD_N,\"srun_iterations\":$SRUN_N,\
\"sbatch_iterations\":$SBATCH_N,\"testbed\":{\"nodes\":1,\"prefix\":$(eval_json_str "$TESTBED_PREFIX"),\
\"subnet\":$(eval_json_str "$TESTBED_SUBNET"),\"port\":$TESTBED_PORT},\
\"srun_command\":$(eval_json_str "srun --jobid=J --overlap -n1 --mem=50M true"),\
\"sbatch_command\":$(eval_json_str "sbatch --wait -n1 --mem=50M --wrap true")}"
results="{$rows_json,\"ratios\":$ratios,\"per_round_ns\":{\"raw\":$(per_round raw),\"hot\":$(per_round hot),\
\"raw_warm\":$(per_round raw-warm),\"warm\":$(per_round warm)},\
\"process_start_us\":$(awk -v v="$PROC_START" 'BEGIN { printf "%.6g", v / 1000 }'),\
\"timing_floor_us\":$FLOOR_MED,\
\"srun_samples_ms\":$(eval_json_array <"$WORK/srun"),\"sbatch_samples_ms\":$(eval_json_array <"$WORK/sbatch")}"
eval_write_json "$OUT/$NAME.json" "$NAME" "$QUICK" "$CMDLINE" "$params" "$results"

# ---- plot ------------------------------------------------------------------------

fmt() { awk -v v="$1" 'BEGIN { if (v >= 100000) printf "%.0f ms", v / 1000; else if (v >= 1000) printf "%.1f ms", v / 1000; else printf "%.3g µs", v }'; }
while read -r _ label _ med p99; do
	printf '"%s" %s %s "%s"\n' "${label//_/ }" "$med" "$p99" "$(fmt "$med")"
done <"$WORK/rows" >"$WORK/plot.dat"
gnuplot <<EOF || die "gnuplot failed"
set terminal $(eval_png_terminal) size 900,520 font ",10"
set output "$OUT/$NAME.png"
set title "Invocation latency, one run on this machine ($PROVIDER, $PAYLOAD B): median, bar up to p99" noenhanced
set logscale y 10
set ylabel "latency (µs, log scale)"
set format y "10^{%T}"
set yrange [1:*]
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set key off
set xtics noenhanced
plot "$WORK/plot.dat" using 0:2:xtic(1) with boxes lc rgb "#4a7ab5", \
     "" using 0:2:2:3 with yerrorbars lc rgb "black" pt 7 ps 0, \
     "" using (\$0-0.15):(\$2*1.6):4 with labels right font ",9" noenhanced
EOF

# ---- markdown ----------------------------------------------------------------------

{
	echo "## 1. Invocation latency, side by side in one run"
	echo
	echo "One run on this machine ($(nproc) CPUs, kernel $(uname -r), libfabric" \
		"$(fi_info --version 2>/dev/null | awk '/^libfabric:/ { print $2 }')) measured the bare libfabric" \
		"round trip (\`faas-bench --mode raw\`, spinning, and \`raw-warm\`, blocking), coloc's hot and warm" \
		"calls of a 64 B \`echo\` over $PROVIDER ($ITER calls x $ROUNDS round(s)), a cold start (lease" \
		"request to first call complete, \`colocd-bench\`, $COLD_N times), and what a Slurm user would do" \
		"instead on a 1-node \`scripts/testbed\`: \`srun --jobid=J --overlap -n1 true\` inside a running" \
		"allocation ($SRUN_N times) and \`sbatch --wait\` of a one-task job ($SBATCH_N times)."
	echo "Here hot calls took ${R_HOT}x the raw round trip and warm calls ${R_WARM}x the blocking raw" \
		"round trip (warm p99 $(fmt "$WARM_P99")); the paper's anchor (rFaaS over uGNI on Daint, 64 B)" \
		"is 8.13 vs 7.93 µs hot (1.03x) and 71.8 vs 24.9 µs warm (2.9x, p99 about 13.5 ms), on a" \
		"transport several times faster than this machine's tcp;ofi_rxm, where a fixed per-call cost" \
		"weighs less."
	echo "An \`srun\` step inside an existing allocation took $(fmt "$SRUN_MED") (median), ${R_SRUN_HOT}x a hot" \
		"and ${R_SRUN_WARM}x a warm call, and an \`sbatch --wait\` job $(fmt "$SB_MED"); a coloc cold start" \
		"($(fmt "$COLD_MED_US"); srun/cold start ${R_SRUN_COLD}) is paid once per lease, and" \
		"$(fmt "$(awk -v v="$PROC_START" 'BEGIN { print v / 1000 }')") of it is starting any program that links Debian's" \
		"libfabric (the paper reports about 1.36 s for a Sarus container)."
	echo "\`sbatch --wait\` polls the job's state every few seconds, so its number is what a user" \
		"waits, not the scheduler's own latency; the Slurm timings include about $(fmt "$FLOOR_MED")" \
		"of starting a program as user nobody (setpriv), measured in the same run."
	echo
	echo "| mechanism | n | median | p99 | median / raw |"
	echo "|---|---|---|---|---|"
	while read -r _ label n med p99; do
		echo "| ${label//_/ } | $n | $(fmt "$med") | $(fmt "$p99") | $(eval_ratio "$med" "$RAW_MED") |"
	done <"$WORK/rows"
	echo
	echo "Ratios in this run: hot/raw $R_HOT, warm/raw-warm $R_WARM, srun/hot $R_SRUN_HOT," \
		"srun/warm $R_SRUN_WARM, sbatch/hot $R_SB_HOT, srun/cold start $R_SRUN_COLD."
	echo
	echo "![]($NAME.png)"
	echo
	echo '```sh'
	echo "$CMDLINE"
	echo '```'
} >"$OUT/$NAME.md"

say "done in $((SECONDS - T_START)) s: $OUT/$NAME.{json,png,md}"
