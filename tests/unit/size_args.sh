#!/bin/sh
# Size options take units as coloc.conf does (common/cli.c: cli_size, over
# config_parse_size): faas-executor --slot-size and faas-bench --payload,
# run on the built programs (TAP). A value that parses lets the program go
# on to its next complaint (--lib missing, an unknown option); one that
# does not exits 2 naming the option, the range and the units.
executor=${FAAS_EXECUTOR_BIN:-../../executor/faas-executor}
bench=${FAAS_BENCH_BIN:-../../tests/bench/faas-bench}
for p in "$executor" "$bench"; do
	if [ ! -x "$p" ]; then
		echo "1..0 # SKIP $p is not built"
		exit 0
	fi
done
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/unit/args_tap.sh
. "$(dirname "$0")/args_tap.sh"
check() { run_check "$@"; }

units="in bytes or with K, M, G or T (powers of 1024)"
echo "1..9"
check "faas-executor --slot-size 16M is taken" 2 "--lib PATH is required" "$executor" --slot-size 16M
check "faas-executor --slot-size 64KiB is taken" 2 "--lib PATH is required" "$executor" --slot-size 64KiB
check "faas-executor --slot-size 65536 (bytes) is taken" 2 "--lib PATH is required" \
	"$executor" --slot-size 65536
check "faas-executor --slot-size 16X is refused, saying what is accepted" 2 \
	"--slot-size 16X: expected a size from 64 to 64M, $units" "$executor" --slot-size 16X
check "faas-executor --slot-size 65M is above 64M" 2 "--slot-size 65M: expected a size from 64 to 64M" \
	"$executor" --slot-size 65M
check "faas-executor --slot-size 63 is below 64" 2 "--slot-size 63: expected a size" \
	"$executor" --slot-size 63
check "faas-executor --slot-size -1M is refused" 2 "--slot-size -1M: expected a size" \
	"$executor" --slot-size -1M
check "faas-bench --payload 4K is taken" 2 "unrecognized option" "$bench" --payload 4K --frob
check "faas-bench --payload 9M is above 8M" 2 "--payload 9M: expected a size from 1 to 8M, $units" \
	"$bench" --payload 9M
exit $((fails > 0))
