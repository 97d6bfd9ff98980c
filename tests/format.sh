#!/bin/sh
# Checks that every C source follows the checked-in .clang-format (Linux
# kernel style family). Skips (77) where clang-format is not installed.
top=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
command -v clang-format >/dev/null 2>&1 || { echo "SKIP: clang-format is not installed (apt-get install clang-format)"; exit 77; }
cd "$top" || exit 1
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find common executor libfaas examples tests -name '*.[ch]'); do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (run: clang-format -i $f)"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "all C sources formatted"
exit $bad
