#!/bin/sh
# Runs one integration test in a sanitizer build (configure
# --enable-sanitizers; tests/sanitizers.am sets ASAN_OPTIONS and
# UBSAN_OPTIONS): every process the test starts, the daemons and the
# executors colocd starts as the lease owner included (colocd hands the
# settings on), writes its sanitizer reports into a directory of this test
# instead of a log the test may not read. Any report fails the test, shown
# after its own output; the reports stay in sanitizer-reports/TEST/.
# Usage: sanitizers.sh TEST [ARGS...]
test=$1
shift
name=$(basename "$test" .sh)
keep=$(pwd)/sanitizer-reports/$name
rm -rf "$keep"
# world-writable and sticky: executors run as the lease owner (nobody)
dir=$(mktemp -d "${TMPDIR:-/tmp}/coloc-sanitizers.XXXXXX") || exit 99
chmod 1777 "$dir"
ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$dir/asan"
UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$dir/ubsan"
export ASAN_OPTIONS UBSAN_OPTIONS
"$test" "$@"
rc=$?
if [ -n "$(ls -A "$dir")" ]; then
	mkdir -p "$keep"
	cp "$dir"/* "$keep"/
	echo "# sanitizer reports of processes $name started (kept in $keep):"
	sed 's/^/# /' "$dir"/*
	rc=1
fi
rm -rf "$dir"
exit $rc
