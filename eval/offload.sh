#!/usr/bin/env bash
# Experiment "offload": Black-Scholes priced by a job on its own core only,
# by functions on another node's idle core only, and by both at once (the
# paper's "OpenMP + rFaaS" hybrid, P1 Fig. 11: 1.73x over OpenMP alone with
# 32 + 32 workers).
#
#   eval/offload.sh --out DIR [--quick] [--build BUILD]
#
# On a 2-node scripts/testbed: a host job on node 1 (-c2, --faas-host, an
# idle batch script that coloc counts as using 1 core) lends its other core;
# a job on node 2 (-c2, everything pinned to core 0, "its own core") prices
# N options (quick 1M, full 10M: the paper's) three ways, REPS times:
#   local   faas-bs-client --no-remote --local-threads 1: one thread of the
#           job prices every option on core 0
#   remote  faas-bs-client through srun --faas-workers=1: one function worker
#           on node 1's lent core prices them
#   hybrid  faas-bs-client --local-threads 1 through srun --faas-workers=1:
#           the thread and the remote calls take chunks from one queue
# (the client always with --blocking: it sleeps while its calls run),
# each timed by the client (wall_s, without its local reference pricing),
# every price checked bit for bit against that reference,
# and writes DIR/offload.{json,png,md}. Needs root (the testbed). The
# testbed is named by TESTBED_PREFIX (eb), TESTBED_PORT (25817),
# TESTBED_SUBNET (10.241.0) and torn down on every exit; the build tree is
# copied first, so that a rebuild during the run does not disturb it.
set -u
# shellcheck source=eval/lib.sh
. "$(dirname "$0")/lib.sh"

eval_init offload "$@"
eval_root "a Slurm testbed, cgroups, colocd"
eval_ensure_gnuplot || exit 1
eval_out

export TESTBED_PREFIX=${TESTBED_PREFIX:-eb} TESTBED_PORT=${TESTBED_PORT:-25817} \
	TESTBED_SUBNET=${TESTBED_SUBNET:-10.241.0} TESTBED_LEND_UNALLOCATED=${TESTBED_LEND_UNALLOCATED:-no}
if $QUICK; then OPTIONS=1000000 REPS=1; else OPTIONS=10000000 REPS=3; fi

WORK=$(mktemp -d /tmp/eval-offload.XXXXXX) || die "cannot create a work directory"
chmod 755 "$WORK"
TB=$WORK/tb W=$WORK/jobs
mkdir -m 777 "$W"
cleanup() {
	trap '' INT TERM
	touch "$W/stop" 2>/dev/null
	eval_tb_down "$TB" "$WORK/testbed-down.log" || say "testbed down failed (see above)"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

eval_snapshot_build "$BUILD" "$WORK/build" || exit 1
B=$WORK/build LIB=$WORK/build/examples/faas_examples.so
CLIENT=(env LD_LIBRARY_PATH="$B/libfaas" "$B/examples/faas-bs-client")
export COLOC_BUILD=$B
say "testbed: 2 nodes ($TESTBED_PREFIX, $TESTBED_SUBNET.0/24, port $TESTBED_PORT); $OPTIONS options, $REPS rep(s)"
eval_tb_up "$TB" 2 "$WORK/testbed-up.log" || die "the testbed did not come up"
N1=${TESTBED_PREFIX}1 N2=${TESTBED_PREFIX}2

# the host job: two cores on node 1, an idle batch script (counted as one core)
eval_nobody sbatch -w "$N1" -n1 -c2 --mem=1000M --faas-host --faas-host-mem=500M -J host \
	-o "$W/host.out" --wrap "touch $W/host.started; while [ ! -e $W/stop ]; do sleep 0.2; done" >/dev/null ||
	die "sbatch of the host job failed"
eval_until 30 "[ -e $W/host.started ] && [ -n \"\$(eval_lendable $N1)\" ]" ||
	die "the host job did not start, or $N1 lends nothing"
LENT=$(eval_lendable "$N1")
say "$N1 lends core $LENT"

# step ARGS...: one step on node 2, everything on its core 0 ("its own
# core"), running faas-bs-client with ARGS; its JSON on stdout. With
# --faas-workers it gets one function worker on node 1's lent core.
step() {
	eval_nobody srun -w "$N2" -n1 -c2 --mem=1500M "$@"
}
# faas-bs-client on core 0, for step; each way below adds its own options
BS=(taskset -c 0 "${CLIENT[@]}" --blocking --options "$OPTIONS" --json)
num() { echo "$1" | eval_json_get "$2"; }

T0=$SECONDS
: >"$WORK/local" && : >"$WORK/remote" && : >"$WORK/hybrid" && : >"$WORK/hybrid.rows"
MISM=0
for rep in $(seq 1 "$REPS"); do
	j=$(step "${BS[@]}" --no-remote --local-threads 1) || die "the local run failed: $j"
	tl=$(num "$j" wall_s)
	MISM=$((MISM + $(num "$j" mismatches)))
	j=$(step --faas-workers=1 --faas-lib="$LIB" "${BS[@]}") || die "the remote run failed: $j"
	tr=$(num "$j" wall_s)
	MISM=$((MISM + $(num "$j" mismatches)))
	j=$(step --faas-workers=1 --faas-lib="$LIB" "${BS[@]}" --local-threads 1) ||
		die "the hybrid run failed: $j"
	th=$(num "$j" wall_s)
	MISM=$((MISM + $(num "$j" mismatches)))
	echo "$tl" >>"$WORK/local"
	echo "$tr" >>"$WORK/remote"
	echo "$th" >>"$WORK/hybrid"
	echo "$(num "$j" thread_options) $((OPTIONS - $(num "$j" thread_options))) $th" >>"$WORK/hybrid.rows"
	say "rep $rep: local $tl s, remote $tr s, hybrid $th s ($(num "$j" thread_options) options priced locally)"
done
RUN_S=$((SECONDS - T0))
[ "$MISM" = 0 ] || die "$MISM prices differ"

# ---- results ------------------------------------------------------------------
ms() { eval_mean_sd <"$WORK/$1"; }
read -r L_M L_SD <<<"$(ms local)"
read -r R_M R_SD <<<"$(ms remote)"
read -r H_M H_SD <<<"$(ms hybrid)"
SP_H=$(eval_ratio "$L_M" "$H_M")
SP_R=$(eval_ratio "$L_M" "$R_M")
EFF=$(awk -v s="$SP_H" 'BEGIN { printf "%.3f\n", s / 2 }')
# the best a split can do: both cores busy to the end, at the rates measured alone
IDEAL=$(awk -v a="$L_M" -v b="$R_M" 'BEGIN { printf "%.3f\n", (1 / a + 1 / b) * a }')
rate() { awk -v n="$OPTIONS" -v t="$1" 'BEGIN { printf "%.0f\n", n / t }'; }
ROWS=$(awk '{ printf "%s{\"local_options\":%d,\"remote_options\":%d,\"elapsed_s\":%s}", (NR > 1 ? "," : ""), $1, $2, $3 }' "$WORK/hybrid.rows")
PARAMS="{\"options\":$OPTIONS,\"repetitions\":$REPS,\"own_cores\":1,\"lent_cores\":1,\
\"provider\":\"tcp;ofi_rxm\",\"testbed\":{\"nodes\":2,\"prefix\":$(eval_json_str "$TESTBED_PREFIX"),\
\"lent_core\":$(eval_json_str "$LENT")},\"paper\":{\"openmp_32_ms\":43.4,\"rfaas_32_ms\":50.1,\"hybrid_32_32_ms\":25.2,\"speedup_over_openmp\":1.73}}"
RESULTS="{\"local_s\":$(eval_mean_sd_json <"$WORK/local"),\"remote_s\":$(eval_mean_sd_json <"$WORK/remote"),\
\"hybrid_s\":$(eval_mean_sd_json <"$WORK/hybrid"),\"local_options_per_s\":$(rate "$L_M"),\"remote_options_per_s\":$(rate "$R_M"),\
\"hybrid_options_per_s\":$(rate "$H_M"),\"speedup_hybrid_over_local\":$SP_H,\"speedup_remote_over_local\":$SP_R,\
\"parallel_efficiency\":$EFF,\"ideal_speedup_at_measured_rates\":$IDEAL,\"mismatches\":$MISM,\"hybrid_runs\":[$ROWS],\"run_s\":$RUN_S}"
eval_write_json "$OUT/$NAME.json" "$NAME" "$QUICK" "$CMDLINE" "$PARAMS" "$RESULTS"

cat >"$WORK/plot.dat" <<EOF
"own core\\n(local)" $L_M $L_SD
"lent core\\n(functions)" $R_M $R_SD
"own + lent\\n(hybrid)" $H_M $H_SD
EOF
gnuplot <<EOF || die "gnuplot failed"
set terminal $(eval_png_terminal) size 720,420
set output "$OUT/$NAME.png"
set title "Black-Scholes, $OPTIONS options ($REPS rep(s), mean ± sd); lower is better"
set ylabel "seconds"
set yrange [0:*]
set style fill solid 0.7 border -1
set boxwidth 0.5
set grid ytics
unset key
plot "$WORK/plot.dat" using 0:2:xtic(1) with boxes lc rgb "#4477aa", \
     "" using 0:2:3 with yerrorbars lc rgb "black" pt 0, \
     "" using 0:(\$2):(sprintf("%.3f s", \$2)) with labels offset 0,1.2
EOF

f3() { printf '%.3f' "$1"; }
# during the hybrid: each side's rate (M options/s) and its share of its rate alone
read -r HL_RATE HR_RATE <<<"$(awk '{ l += $1 / $3; r += $2 / $3 } END { printf "%.2f %.2f\n", l / NR / 1e6, r / NR / 1e6 }' "$WORK/hybrid.rows")"
HL_PCT=$(awk -v h="$HL_RATE" -v n="$OPTIONS" -v t="$L_M" 'BEGIN { printf "%.0f\n", 100 * h * 1e6 / (n / t) }')
HR_PCT=$(awk -v h="$HR_RATE" -v n="$OPTIONS" -v t="$R_M" 'BEGIN { printf "%.0f\n", 100 * h * 1e6 / (n / t) }')
mrate() { awk -v n="$OPTIONS" -v t="$1" 'BEGIN { printf "%.2f", n / t / 1e6 }'; }
{
	echo "## 3. Offload speedup"
	echo
	echo "A job on node 2 priced $OPTIONS Black-Scholes options ($REPS repetition(s)) on its own core only" \
		"(\`faas-bs-client --no-remote --local-threads 1\`)," \
		"on one function worker on the core a host job on node 1 lends (\`srun --faas-workers=1 faas-bs-client --blocking\`)," \
		"and on both at once (\`--local-threads 1\`: a thread of the job and the remote calls take chunks from one queue);" \
		"every price matched the client's local reference bit for bit ($MISM mismatches)." \
		"The hybrid took $(f3 "$H_M") s against $(f3 "$L_M") s on the own core alone: a speedup of ${SP_H}x" \
		"(parallel efficiency $EFF on 2 cores; ${IDEAL}x would be the best at the rates measured alone)," \
		"where the paper's OpenMP 32 + rFaaS 32 reached 1.73x (efficiency 0.87) because its functions over RDMA" \
		"ran almost as fast as local threads (50.1 ms against 43.4 ms)." \
		"Here one function prices $(mrate "$R_M") M options/s against $(mrate "$L_M") M locally: each call ships 64 KiB" \
		"through TCP (tcp;ofi_rxm over veth), copied by the kernel, where RDMA would have the NIC move it." \
		"During the hybrid the job's thread priced $HL_RATE M options/s ($HL_PCT % of its rate alone) and the function $HR_RATE M/s" \
		"($HR_PCT % of its rate alone): the client's own work (posting calls, the TCP stack's copies, waking up for replies; it waits" \
		"with \`--blocking\`) runs on core 0 beside the job's thread, and the function idles whenever the next request waits for" \
		"that core. Node 1 and node 2 share this machine's 2 physical cores (the own core is core 0, the lent one core 1)," \
		"so there is no third core for the client and the network stack as on a real node."
	echo
	echo "| run | cores | time (s, mean ± sd) | M options/s | speedup vs own core |"
	echo "|---|---|---|---|---|"
	echo "| own core only (local) | 1 | $(f3 "$L_M") ± $(f3 "$L_SD") | $(mrate "$L_M") | 1.00 |"
	echo "| lent core only (functions) | 1 remote | $(f3 "$R_M") ± $(f3 "$R_SD") | $(mrate "$R_M") | $SP_R |"
	echo "| own + lent (hybrid) | 1 + 1 remote | $(f3 "$H_M") ± $(f3 "$H_SD") | $(mrate "$H_M") | $SP_H |"
	echo "| paper: OpenMP 32 + rFaaS 32 (Daint, 10M) | 32 + 32 | 0.0252 | 397 | 1.73 |"
	echo
	echo "![]($NAME.png)"
	echo
	echo "\`$CMDLINE\` (${RUN_S} s of measurements)"
} >"$OUT/$NAME.md"
say "wrote $OUT/$NAME.json, $NAME.png, $NAME.md: hybrid ${SP_H}x over the own core (paper 1.73x)"
