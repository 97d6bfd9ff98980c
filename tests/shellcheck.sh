#!/bin/sh
# The shell scripts of the tree (scripts/, eval/, tests/) pass shellcheck,
# with the exceptions each script or its directory's .shellcheckrc names.
# Skipped (exit 77) where shellcheck is not installed.
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (apt-get install shellcheck)"; exit 77; }
cd "${abs_top_srcdir:?make check sets it}" || exit 1
# every file under scripts/ is a shell script; elsewhere, the *.sh ones
files=$(find scripts eval tests -type f \( -path 'scripts/*' -o -name '*.sh' \) | LC_ALL=C sort)
# shellcheck disable=SC2086 # one path per word; none has a blank
shellcheck -x $files && echo "shellcheck: $(echo "$files" | wc -l) scripts clean"
