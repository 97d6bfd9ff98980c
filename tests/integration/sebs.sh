#!/bin/bash
# TAP test: the SeBS kernels (faas_sebs.so) through real faas-executors of
# a colocd --standalone, in real cgroups, as user nobody: faas-sebs runs
# every kernel locally and hot, warm and cold through leases and checks
# each remote output against the local run's; then it sends every kernel
# inputs it must refuse (wrong sizes, bad PNGs, bad bases, ...), each of
# which fails alone with a message naming the kernel while the executor
# serves on. Skipped when configure did not build faas_sebs.so (no
# libpng, zlib or igraph). Needs root and cgroups.
set -u
. "$(dirname "$0")/tap.sh"
# In a sanitizer build, executors that load faas_sebs.so report 8 bytes
# leaked at load time from a module already unloaded at exit (one of the
# libraries igraph brings, not coloc's code: a kernel run alone in faas-sebs
# leaks nothing): leak checks off here; memory errors are still caught.
if [ "${COLOC_SANITIZERS:-}" = yes ]; then
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
	export ASAN_OPTIONS
fi
if [ ! -x "${FAAS_SEBS:-}" ] || [ ! -f "${FAAS_SEBS_LIB:-}" ]; then
	skip "faas_sebs.so was not built (configure: apt-get install libpng-dev zlib1g-dev libigraph-dev)"
fi
tap_setup sebs
tap_ports 7349
pid=
trap tap_colocd_cleanup EXIT
tap_conf "$port" "$dir" "$root" EvictGrace=200ms >"$dir/coloc.conf"
check "colocd --standalone starts" colocd_start "see the log below"

# faas-sebs as nobody (the controller grants root no lease), bounded
sebs() {
	FAAS_ADDR=127.0.0.1 timeout 300 setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all -- \
		"$FAAS_SEBS" --lib "$FAAS_SEBS_LIB" --conf "$dir/coloc.conf" "$@" 2>&1
}

out=$(sebs --iterations 5 --cold 2 --timeout-ms 30000)
rc=$?
check "faas-sebs runs all 7 kernels locally, hot, warm and cold as nobody, each remote output equal to the local run's" \
	'[ $rc = 0 ] && echo "$out" | grep -q "\"ok\":true" && echo "$out" | grep -q "\"outputs_checked\":84"' "exit $rc: $out"
for k in dynamic-html thumbnailer compression graph-pagerank graph-mst graph-bfs dna-visualization; do
	check "$k: reports client, function and overhead times for each mode" \
		'echo "$out" | grep -q "\"$k\":{\"sebs\":\"[0-9]*\",\"input_bytes\":[1-9][0-9]*,\"output_bytes\":[1-9][0-9]*,\"local\":{\"n\":5,.*\"hot\":{\"n\":5,\"overhead_p50_ns\":[0-9]*,.*\"warm\":{\"n\":5,.*\"cold\":{\"n\":2,\"overhead_p50_ns\":[0-9]*,\"overhead_p99_ns\":[0-9]*,\"client_p50_ns\":[1-9][0-9]*"' \
		"$out"
done
hot=$(echo "$out" | grep -o '"compression":{[^}]*}[^}]*}' | grep -o '"hot":{[^}]*}')
fn=$(echo "$hot" | grep -o '"function_p50_ns":[0-9]*' | cut -d: -f2)
cl=$(echo "$hot" | grep -o '"client_p50_ns":[0-9]*' | cut -d: -f2)
check "compression, hot: the function's own time (p50) is above 0 and below the client's" \
	'[ -n "$fn" ] && [ -n "$cl" ] && [ "$fn" -gt 0 ] && [ "$fn" -lt "$cl" ]' "function ${fn:-none}, client ${cl:-none}: $hot"

out=$(sebs --bad-inputs --size small)
rc=$?
check "every bad input is refused with FAAS_EFUNC and a message naming the kernel; good calls still succeed after them" \
	'[ $rc = 0 ] && echo "$out" | grep -q "\"refused\":24,\"ok\":true"' "exit $rc: $out"
check "the messages say what is wrong (a sample)" \
	'echo "$out" | grep -q "thumbnailer: .*not a PNG" && echo "$out" | grep -q "dna-visualization: byte 4 (0x58) is not a base" &&
	echo "$out" | grep -q "graph-bfs: 4000000000 vertices is outside 11..100000" &&
	echo "$out" | grep -q "thumbnailer: the image is 2049x2 pixels"' "$out"
check "colocd is still running" 'kill -0 $pid' "$(tail -5 "$dir/colocd.log")"

# a library whose dynamic-html renders another page (one letter of its
# template changed): the comparison with the local run must catch it
sed 's/Randomly generated data\./Randomly generated date./' "$FAAS_SEBS_LIB" >"$dir/altered.so"
chmod 644 "$dir/altered.so"
out=$(sebs --remote-lib "$dir/altered.so" --kernels dynamic-html,compression --modes hot --iterations 2)
rc=$?
check "a remote output that differs from the local run's: exit 1, naming the kernel and mode" \
	'! cmp -s "$FAAS_SEBS_LIB" "$dir/altered.so" && [ $rc = 1 ] &&
	echo "$out" | grep -q "dynamic-html (hot): the output (.*) differs from the local run" && ! echo "$out" | grep -q "\"ok\":true"' \
	"exit $rc: $out"

out=$(FAAS_ADDR=127.0.0.1 as_user nobody "$FAAS_SEBS" --lib "$dir/nothing.so" --modes local 2>&1)
rc=$?
check "a library that is not there: exit 1, naming it" '[ $rc = 1 ] && echo "$out" | grep -q "cannot load $dir/nothing.so"' "exit $rc: $out"
out=$("$FAAS_SEBS" --lib "$FAAS_SEBS_LIB" --modes hot 2>&1)
rc=$?
check "remote modes without --conf: a usage error saying what to give" '[ $rc = 2 ] && echo "$out" | grep -q "need a colocd: --conf"' "exit $rc: $out"
out=$("$FAAS_SEBS" --lib "$FAAS_SEBS_LIB" --kernels 110,999 2>&1)
rc=$?
check "an unknown kernel: a usage error naming it" '[ $rc = 2 ] && echo "$out" | grep -q "unknown name .999."' "exit $rc: $out"
tap_end "$dir/colocd.log"
