#!/bin/sh
# Every shell script of the tree passes shellcheck, with the exceptions
# each script or its directory's .shellcheckrc names. A shell script is a
# file named *.sh or one whose first line runs sh, bash or dash (scripts/*,
# bootstrap, .ci/run, debian's maintainer scripts ...): the files git
# tracks, or, outside a git checkout (a release tarball), every file but
# the build trees. Skipped (exit 77) where shellcheck is not installed.
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (apt-get install shellcheck)"; exit 77; }
cd "${abs_top_srcdir:?make check sets it}" || exit 1
# (a release tarball unpacked inside a checkout, as make distcheck in
# build/ does, is no checkout: git would list none of its files)
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	all=$(git ls-files)
else
	# (not what autotools generated: configure, build-aux/)
	all=$(find . -type f ! -path './build/*' ! -path './_build/*' ! -path './_inst/*' \
		! -path '*/autom4te.cache/*' ! -path './build-aux/*' ! -name configure |
		sed 's|^\./||')
fi
files=$(echo "$all" | while read -r f; do
	[ -f "$f" ] || continue
	case $f in
	*.sh) echo "$f" ;;
	*) head -n 1 "$f" 2>/dev/null | grep -Eq '^#! ?(/usr)?/bin/(env )?(ba|da)?sh( |$)' && echo "$f" ;;
	esac
done | LC_ALL=C sort)
[ -n "$files" ] || { echo "shellcheck: no shell script found"; exit 1; }
# shellcheck disable=SC2086 # one path per word; none has a blank
shellcheck -x $files && echo "shellcheck: $(echo "$files" | wc -l) scripts clean"
