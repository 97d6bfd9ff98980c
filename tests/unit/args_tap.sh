# shellcheck shell=sh
# Sourced by the TAP scripts that run a built program with bad arguments
# (colocctl_args.sh, size_args.sh). The script sets tmp (a private
# directory) first; n counts the checks and fails the failed ones.
n=0
fails=0

# run_check NAME STATUS PATTERN PROGRAM ARGS...: PROGRAM ARGS exits STATUS
# and its stderr matches PATTERN.
run_check() {
	name=$1 want=$2 pattern=$3
	shift 3
	n=$((n + 1))
	# shellcheck disable=SC2154 # tmp: set by the script that sources this one
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ] && grep -q -- "$pattern" "$tmp/err"; then
		echo "ok $n - $name"
	else
		echo "not ok $n - $name (exit $got, want $want; stderr: $(cat "$tmp/err"))"
		fails=$((fails + 1))
	fi
}
