#!/usr/bin/env bash
# Experiment "scale": one colocd --controller under N simulated node agents
# (colocd-scale-bench, built in tests/bench; its header describes the
# load), each sending its state when it changes and a heartbeat once a
# second on a kept connection, with leases acquired and released and
# nodes, gaps and leases listed (every page) while that runs.
#
#   eval/scale.sh --out DIR [--quick] [--build BUILD]
#
# Writes DIR/scale.{json,md}: per N, heartbeats taken a second, the
# controller's and the generator's CPU, heartbeat round trip, lease_acquire
# and query times, and nodes marked down. AuthType=none (no munged needed;
# docs/performance.md has the MUNGE runs). Full: N = 1000, 3000, 10000,
# 20 s each (about 2 minutes); --quick: N = 1000, 10 s. Not root.
set -u
# shellcheck source=eval/lib.sh
. "$(dirname "$0")/lib.sh"

eval_init scale "$@"
eval_out
eval_build
BENCH=$BUILD/tests/bench/colocd-scale-bench
COLOCD=$BUILD/colocd/colocd
eval_need "$BENCH" "$COLOCD"
if [ "$QUICK" = true ]; then SIZES=(1000) SECONDS_EACH=10; else SIZES=(1000 3000 10000) SECONDS_EACH=20; fi
WORK=$(mktemp -d /tmp/coloc-eval-scale.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$WORK"' EXIT

for n in "${SIZES[@]}"; do
	say "colocd-scale-bench --nodes $n --seconds $SECONDS_EACH"
	"$BENCH" --colocd "$COLOCD" --nodes "$n" --seconds "$SECONDS_EACH" --warmup 8 >"$WORK/$n.json" 2>"$WORK/$n.err" ||
		{ cat "$WORK/$n.err" >&2; die "colocd-scale-bench failed (N=$n)"; }
done

# get N SECTION KEY: KEY of the line of SECTION in N's output
get() { grep "\"$2\":" "$WORK/$1.json" | head -1 | eval_json_get "$3"; }
results=$(for n in "${SIZES[@]}"; do tr -d '\n' <"$WORK/$n.json"; echo; done | paste -sd, | sed 's/^/[/; s/$/]/')
params=$(printf '{"sizes":"%s","seconds":%d,"auth":"none"}' "${SIZES[*]}" "$SECONDS_EACH")
eval_write_json "$OUT/$NAME.json" "$NAME" "$QUICK" "$CMDLINE" "$params" "$results"

{
	echo "## 6. Scale: one controller, N node agents"
	echo
	echo "colocd-scale-bench ran one \`colocd --controller\` (AuthType=none) under N simulated node agents on this" \
		"machine (loopback, the generator and the controller sharing its cores), each agent sending its whole state" \
		"(64 PUs, a gap in pieces, its leases) when it changed and a heartbeat naming it once a second otherwise, on a" \
		"kept connection, while a client acquired 10 leases a second (released 2 s later) and listed nodes, gaps and" \
		"leases in turn once a second, every page (streamed on one connection)."
	echo "Load average at the end of each run is given: the machine is shared, and a controller that does not get" \
		"the CPU it asks for queues heartbeats."
	echo
	echo "| N | heartbeats/s taken | controller CPU | generator CPU | heartbeat p50 / p99 | lease_acquire p50 / p99 | nodes / gaps / leases p99 | marked down | load |"
	echo "|---|---|---|---|---|---|---|---|---|"
	for n in "${SIZES[@]}"; do
		echo "| $n | $(get "$n" heartbeats ok_per_s) | $(get "$n" nodes_marked_down controller_cpu_pct) % |" \
			"$(get "$n" nodes_marked_down generator_cpu_pct) % |" \
			"$(get "$n" heartbeat p50_ms) / $(get "$n" heartbeat p99_ms) ms |" \
			"$(get "$n" lease_acquire p50_ms) / $(get "$n" lease_acquire p99_ms) ms |" \
			"$(get "$n" query_nodes p99_ms) / $(get "$n" query_gaps p99_ms) / $(get "$n" query_leases p99_ms) ms |" \
			"$(get "$n" nodes_marked_down nodes_marked_down) | $(grep -o '"loadavg": \[[0-9.]*' "$WORK/$n.json" | sed 's/.*\[//') |"
	done
	# shellcheck disable=SC2016 # the backquotes are markdown's, not a command substitution
	printf '\n```sh\n%s\n```\n' "$CMDLINE"
} >"$OUT/$NAME.md"
say "wrote $OUT/$NAME.json and $OUT/$NAME.md"
