#!/bin/sh
# Checks that every C source follows the checked-in .clang-format (Linux
# kernel style family). Skips (77) where clang-format is not installed.
top=${abs_top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
command -v clang-format >/dev/null 2>&1 || { echo "SKIP: clang-format is not installed (apt-get install clang-format)"; exit 77; }
cd "$top" || exit 1
bad=0
# git's list in a checkout; in a release tarball (also one unpacked inside
# a checkout, as make distcheck in build/ does) every C source
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find common executor libfaas examples colocd spank-plugin tests -name '*.[ch]' ! -path '*/_build/*')
fi
for f in $files; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (run: clang-format -i $f)"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "all C sources formatted"
exit $bad
