#!/usr/bin/env bash
# Experiment "sebs": the SeBS kernels (Copik et al., Middleware'21) as coloc
# functions, with SeBS's measures: the time the client observed, the
# function's own time (measured inside it) and the overhead between them.
#
#   eval/sebs.sh --out DIR [--quick] [--build BUILD]
#
# Runs a colocd --standalone (this machine the only node, executors in real
# cgroups as user nobody) and faas-sebs as nobody against it: each kernel of
# faas_sebs.so (110 dynamic-html, 210 thumbnailer, 311 compression, 501-503
# graph pagerank/mst/bfs, 504 dna-visualization) locally, hot (one client),
# warm (a fresh client on the same lease per call) and cold (a fresh lease
# per call), every remote output checked against the local run's; the
# client waits for replies on the CQ (--blocking): spinning, it would take
# a core from the worker it waits for on a small machine. The
# floor, in the same run: bare libfabric round trips (faas-bench --mode raw)
# of 64 B and 32 KiB on the same provider. Writes DIR/sebs.{json,png,md};
# sebs.md sets the overheads beside SeBS's published AWS Lambda numbers.
# --quick: SeBS's "test" inputs, 20 calls, 3 cold starts per kernel;
# otherwise "small" inputs, 200 calls, 20 cold starts. Needs root and a
# build with faas_sebs.so (configure found libpng, zlib and igraph).
set -u
# shellcheck source=eval/lib.sh
. "$(dirname "$0")/lib.sh"

eval_init sebs "$@"
eval_root "colocd runs executors in cgroups"
[ -d /sys/fs/cgroup/cpuset ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || die "no cgroup file system is mounted"
id nobody >/dev/null 2>&1 || die "needs a user nobody (the lease owner)"
eval_out
eval_build
COLOCD=$BUILD/colocd/colocd
EXECUTOR=$BUILD/executor/faas-executor
SEBS=$BUILD/examples/faas-sebs
LIB=$BUILD/examples/.libs/faas_sebs.so
BENCH=$BUILD/tests/bench/faas-bench
[ -e "$LIB" ] || die "no $LIB: configure did not build the SeBS kernels (apt-get install libpng-dev zlib1g-dev libigraph-dev, then configure again)"
eval_need "$COLOCD" "$EXECUTOR" "$SEBS" "$BENCH"
eval_ensure_gnuplot || exit 1

PROVIDER="tcp;ofi_rxm"
if [ "$QUICK" = true ]; then SIZE=test ITER=20 COLD=3 RAW_ITER=2000; else SIZE=small ITER=200 COLD=20 RAW_ITER=20000; fi

WORK=$(mktemp -d /tmp/coloc-eval-sebs.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
ROOT=coloc-eval-sebs-$$
PORT=$((20000 + ($$ + 4111) % 12000)) # below the ephemeral ports
COLOCD_PID=''
# stops its colocd and what is left in its CgroupRoot
cleanup() {
	trap '' INT TERM
	eval_colocd_stop "$ROOT"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T_START=$SECONDS

# ---- the floor: bare libfabric round trips -------------------------------------

raw() { # payload: "median_us p99_us"
	local line
	line=$("$BENCH" --mode raw --provider "$PROVIDER" --payload "$1" --iterations "$RAW_ITER" \
		--warmup 200 --json 2>"$WORK/bench.err") || die "faas-bench --mode raw failed: $(tail -3 "$WORK/bench.err")"
	awk -v m="$(echo "$line" | eval_json_get median_ns)" -v p="$(echo "$line" | eval_json_get p99_ns)" \
		'BEGIN { printf "%.6g %.6g\n", m / 1000, p / 1000 }'
}
say "faas-bench --mode raw: $PROVIDER, 64 B and 32 KiB, $RAW_ITER round trips each"
read -r RAW64_MED RAW64_P99 <<<"$(raw 64)"
read -r RAW32K_MED RAW32K_P99 <<<"$(raw 32K)"

# ---- colocd and faas-sebs --------------------------------------------------------

eval_colocd_start "$WORK" "$PORT" "$ROOT" 200 "$EXECUTOR" || exit 1

say "faas-sebs: 7 kernels, $SIZE inputs, $ITER calls local/hot/warm, $COLD cold starts each, as nobody"
SEBS_CMD="faas-sebs --lib faas_sebs.so --conf coloc.conf --size $SIZE --iterations $ITER --cold $COLD --timeout-ms 30000 --blocking"
FAAS_ADDR=127.0.0.1 timeout 1800 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$SEBS" --lib "$LIB" --conf "$WORK/coloc.conf" --size "$SIZE" --iterations "$ITER" --cold "$COLD" \
	--timeout-ms 30000 --blocking >"$WORK/sebs.json" 2>"$WORK/sebs.err" ||
	die "faas-sebs failed: $(tail -5 "$WORK/sebs.err")"
grep -q '"ok":true' "$WORK/sebs.json" || die "faas-sebs printed no result: $(tail -5 "$WORK/sebs.err")"

# ---- results ------------------------------------------------------------------------

# rows: kernel sebs-id fn_us hot_ov_p50 hot_ov_p99 warm_ov_p50 warm_ov_p99 cold_ov_p50 cold_ov_p99
#       hot_client_p50 warm_client_p50 cold_client_p50 local_fn_us (µs)
python_free_rows() {
	local k obj
	for k in dynamic-html thumbnailer compression graph-pagerank graph-mst graph-bfs dna-visualization; do
		obj=$(grep -o "\"$k\":{\"sebs\":\"[0-9]*\"[^}]*}[^}]*}[^}]*}[^}]*}[^}]*}" "$WORK/sebs.json")
		[ -n "$obj" ] || die "no result for $k in faas-sebs's output"
		mode() { echo "$obj" | grep -o "\"$1\":{[^}]*}"; }
		us() { eval_json_get "$1" | awk '{ printf "%.6g", $1 / 1000 }'; }
		printf '%s %s %s %s %s %s %s %s %s %s %s %s %s\n' "$k" \
			"$(echo "$obj" | eval_json_get sebs)" \
			"$(mode hot | us function_p50_ns)" \
			"$(mode hot | us overhead_p50_ns)" "$(mode hot | us overhead_p99_ns)" \
			"$(mode warm | us overhead_p50_ns)" "$(mode warm | us overhead_p99_ns)" \
			"$(mode cold | us overhead_p50_ns)" "$(mode cold | us overhead_p99_ns)" \
			"$(mode hot | us client_p50_ns)" "$(mode warm | us client_p50_ns)" \
			"$(mode cold | us client_p50_ns)" "$(mode local | us function_p50_ns)"
	done
}
python_free_rows >"$WORK/rows"

# SeBS's AWS Lambda anchors (2048 MB; ms), derived from the SeBS artifact's
# raw data (spcl/serverless-benchmarks-artifact, data/performance/
# aws_perf_cost/*/perf-cost/result.csv; client time minus connection time,
# as its Figure 4 script does; median of 200 calls): kernel warm_overhead
# cold_overhead cold_over_warm_client. "-": not measured by SeBS on AWS.
cat >"$WORK/aws" <<'EOF2'
dynamic-html - - -
thumbnailer 129.8 430.9 3.83
compression 138.6 403.2 1.25
graph-pagerank - - -
graph-mst - - -
graph-bfs 456.7 692.8 1.65
dna-visualization - - -
EOF2

rows_json=$(awk '{ printf "%s\"%s\":{\"sebs\":\"%s\",\"function_p50_us\":%s,\"hot_overhead_p50_us\":%s,\"hot_overhead_p99_us\":%s,\"warm_overhead_p50_us\":%s,\"warm_overhead_p99_us\":%s,\"cold_overhead_p50_us\":%s,\"cold_overhead_p99_us\":%s,\"hot_client_p50_us\":%s,\"warm_client_p50_us\":%s,\"cold_client_p50_us\":%s,\"local_function_p50_us\":%s}", (NR > 1 ? "," : ""), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }' "$WORK/rows")
aws_json=$(awk '{ printf "%s\"%s\":{\"warm_overhead_ms\":%s,\"cold_overhead_ms\":%s,\"cold_over_warm_client\":%s}", (NR > 1 ? "," : ""), $1, ($2 == "-" ? "null" : $2), ($3 == "-" ? "null" : $3), ($4 == "-" ? "null" : $4) }' "$WORK/aws")
params="{\"provider\":$(eval_json_str "$PROVIDER"),\"size\":\"$SIZE\",\"iterations\":$ITER,\"cold\":$COLD,\
\"raw_iterations\":$RAW_ITER,\"faas_sebs_command\":$(eval_json_str "$SEBS_CMD")}"
results="{\"kernels\":{$rows_json},\"raw_us\":{\"64B\":{\"median\":$RAW64_MED,\"p99\":$RAW64_P99},\
\"32KiB\":{\"median\":$RAW32K_MED,\"p99\":$RAW32K_P99}},\"aws_lambda_2048MB\":{$aws_json},\
\"faas_sebs\":$(cat "$WORK/sebs.json")}"
eval_write_json "$OUT/$NAME.json" "$NAME" "$QUICK" "$CMDLINE" "$params" "$results"

# ---- plot: overhead (client - function) per kernel and mode, log scale ---------------

awk '{ printf "\"%s\" %s %s %s\n", $1, $4, $6, $8 }' "$WORK/rows" >"$WORK/plot.dat"
gnuplot <<EOF2 || die "gnuplot failed"
set terminal $(eval_png_terminal) size 960,520 font ",10"
set output "$OUT/$NAME.png"
set title "SeBS kernels on coloc ($PROVIDER, $SIZE inputs): overhead = client time - function time, p50" noenhanced
set logscale y 10
set ylabel "overhead (µs, log scale)"
set format y "10^{%T}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.7 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics noenhanced rotate by -20
set arrow from graph 0, first $RAW64_MED to graph 1, first $RAW64_MED nohead dt 2 lc rgb "black"
set label "raw libfabric round trip, 64 B" at graph 0.62, first $RAW64_MED * 1.5 font ",9"
plot "$WORK/plot.dat" using 2:xtic(1) title "hot" lc rgb "#4a7ab5", \
     "" using 3 title "warm (new client)" lc rgb "#e59c35", \
     "" using 4 title "cold (new lease)" lc rgb "#c0392b"
EOF2

# ---- markdown ------------------------------------------------------------------------

fmt() { awk -v v="$1" 'BEGIN { if (v == "-" || v == "") print "-"; else if (v >= 100000) printf "%.0f ms", v / 1000; else if (v >= 1000) printf "%.1f ms", v / 1000; else printf "%.3g µs", v }'; }
{
	echo "## 7. SeBS kernels: overheads as SeBS measures them"
	echo
	echo "Seven kernels of SeBS, the serverless benchmark suite (Copik et al., Middleware'21), ported to C" \
		"in \`faas_sebs.so\`, ran through a \`colocd --standalone\` on this machine as user nobody with" \
		"SeBS's \"$SIZE\" inputs (generated from a seed), over $PROVIDER: $ITER hot calls (one client)," \
		"$ITER warm calls (a new client on the same lease each) and $COLD cold calls (a new lease each," \
		"executor start included) per kernel; every remote output equalled the local run's." \
		"The client waited for replies on the completion queue (\`--blocking\`): client, colocd and" \
		"executor share this machine's $(nproc) cores, and a spinning client would take a core from the" \
		"worker it waits for (the executor's worker itself polls while hot)." \
		"As in SeBS, the overhead is the client's time minus the function's own time, measured inside it."
	echo "The bare libfabric round trip in the same run: $(fmt "$RAW64_MED") at 64 B, $(fmt "$RAW32K_MED") at 32 KiB (median)."
	echo
	echo "| kernel | SeBS | function p50 | hot overhead p50 / p99 | warm overhead p50 / p99 | cold overhead p50 / p99 | cold / warm client | AWS Lambda warm overhead | AWS cold overhead | AWS cold / warm |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	paste -d' ' "$WORK/rows" "$WORK/aws" | while read -r k id fn h50 h99 w50 w99 c50 c99 _ wc cc _ _ aw ac ar; do
		aw_s=- ac_s=-
		[ "$aw" != - ] && aw_s="$aw ms"
		[ "$ac" != - ] && ac_s="$ac ms"
		echo "| $k | $id | $(fmt "$fn") | $(fmt "$h50") / $(fmt "$h99") | $(fmt "$w50") / $(fmt "$w99") |" \
			"$(fmt "$c50") / $(fmt "$c99") | $(eval_ratio "$cc" "$wc") | $aw_s | $ac_s | ${ar/-/-} |"
	done
	echo
	echo "AWS Lambda columns: SeBS's published measurements of the same kernels (Python, 2048 MB, 200 calls)," \
		"taken from the raw data of its artifact (spcl/serverless-benchmarks-artifact," \
		"\`data/performance/aws_perf_cost/{210_python,311,503}/perf-cost/result.csv\`), client time minus" \
		"connection time as the paper's Figure 4 does, medians; \"-\": SeBS published no AWS measurement" \
		"of that kernel (its performance study covers 120, 210, 311, 411 and 503). SeBS's kernels read" \
		"their inputs from and write their outputs to cloud storage, which its function time includes;" \
		"ours get them in the call."
	echo
	echo "![]($NAME.png)"
	echo
	echo '```sh'
	echo "$CMDLINE"
	echo "# which runs, as nobody, against its own colocd --standalone:"
	echo "$SEBS_CMD"
	echo '```'
} >"$OUT/$NAME.md"

say "done in $((SECONDS - T_START)) s: $OUT/$NAME.{json,png,md}"
