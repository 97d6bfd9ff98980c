#!/bin/sh
# colocctl's argument checking, run on the built program (TAP): usage
# errors exit 2 with a message saying what is accepted, before any network
# traffic; an unreachable controller exits 1 naming HOST:PORT and the
# remedy. Needs no colocd (the controller's port is one nobody listens on).
colocctl=${COLOCCTL:-../../colocd/colocctl}
if [ ! -x "$colocctl" ]; then
	echo "1..0 # SKIP $colocctl is not built (include colocd/colocctl.am)"
	exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
printf 'ControllerHost=127.0.0.1\nControllerPort=1\nAuthType=none\n' >"$tmp/coloc.conf"
: >"$tmp/lib.so"
COLOC_CONF=$tmp/coloc.conf
export COLOC_CONF
# shellcheck source=tests/unit/args_tap.sh
. "$(dirname "$0")/args_tap.sh"

# check NAME STATUS PATTERN ARGS...: colocctl ARGS exits STATUS, its stderr matches PATTERN.
check() {
	a=$1 b=$2 c=$3
	shift 3
	run_check "$a" "$b" "$c" "$colocctl" "$@"
}

echo "1..37"
check "no command" 2 "a command is needed"
check "unknown command" 2 "unknown command frob; expected nodes, gaps" frob
check "drain needs a node" 2 "drain needs one NODE" drain
check "resume takes one node" 2 "resume needs one NODE" resume n1 n2
check "drain checks the node name" 2 "drain n1/x: not a node name; expected 1 to 63 letters" \
	drain n1/x
check "a node name starts with a letter or digit" 2 "resume -n1: not a node name" resume -- -n1
check "a node name has at most 63 characters" 2 "not a node name" \
	drain "$(printf 'n%.0s' $(seq 64))"
check "query takes no argument" 2 "nodes takes no arguments" nodes n1
check "lease without a subcommand" 2 "expected lease acquire or lease release" lease
check "acquire needs --workers and --lib" 2 "needs --workers N (1 to 4096) and --lib PATH" lease acquire
check "--workers out of range" 2 "--workers 0: expected a whole number from 1 to 4096" \
	lease acquire --workers 0 --lib "$tmp/lib.so"
check "--lib must exist" 2 "--lib $tmp/none.so: No such file" lease acquire --workers 1 --lib "$tmp/none.so"
check "--mem needs a size" 2 "--mem lots: expected a size" lease acquire --workers 1 --lib "$tmp/lib.so" --mem lots
check "--time needs a duration" 2 "--time soon: expected minutes" lease acquire --workers 1 --lib "$tmp/lib.so" --time soon
check "--timeout range" 2 "--timeout 0: expected a whole number from 1 to 3600" --timeout 0 leases
# lease_rules.h's limits: each at its edge is sent (and finds the controller down), one past is not
down="colocd is not running on 127.0.0.1:1"
check "--workers 4096 is sent" 1 "$down" lease acquire --workers 4096 --lib "$tmp/lib.so"
check "--workers 4097 is refused" 2 "--workers 4097: expected a whole number from 1 to 4096" \
	lease acquire --workers 4097 --lib "$tmp/lib.so"
check "--gpus 64 is sent" 1 "$down" lease acquire --workers 1 --lib "$tmp/lib.so" --gpus 64
check "--gpus 65 is refused" 2 "--gpus 65: expected a whole number from 0 to 64" \
	lease acquire --workers 1 --lib "$tmp/lib.so" --gpus 65
check "--mem 1024T is sent" 1 "$down" lease acquire --workers 1 --lib "$tmp/lib.so" --mem 1024T
check "--mem 1 PiB + 1 is refused" 2 "--mem 1125899906842625: expected a size per worker like 512M or 2G (K, M, G, T: powers of 1024), at least 16M and at most 1024T" \
	lease acquire --workers 1 --lib "$tmp/lib.so" --mem 1125899906842625
check "--mem below a worker's least is refused, naming it" 2 "--mem 15M: expected a size per worker like 512M or 2G (K, M, G, T: powers of 1024), at least 16M" \
	lease acquire --workers 1 --lib "$tmp/lib.so" --mem 15M
check "--mem 0 is refused (leave --mem out for the site default)" 2 "--mem 0: expected a size" \
	lease acquire --workers 1 --lib "$tmp/lib.so" --mem 0
check "--time 366d is sent" 1 "$down" lease acquire --workers 1 --lib "$tmp/lib.so" --time 366d
check "--time 366 days + 1 s is refused" 2 "--time 366-00:00:01: expected minutes, .* above 0 and at most 366 days" \
	lease acquire --workers 1 --lib "$tmp/lib.so" --time 366-00:00:01
check "--timeout 3600 is taken" 1 "$down" --timeout 3600 leases
check "--timeout 3601 is refused" 2 "--timeout 3601: expected a whole number from 1 to 3600" --timeout 3601 leases
check "release needs an id" 2 "lease release needs one lease ID" lease release
check "controller down" 1 "colocd is not running on 127.0.0.1:1 (connection refused)" \
	lease acquire --workers 2 --lib "$tmp/lib.so" --json
check "drain: controller down" 1 "colocd is not running on 127.0.0.1:1" drain node-1.a_b
check "a 63-character node name is sent" 1 "colocd is not running on 127.0.0.1:1" \
	resume "$(printf 'n%.0s' $(seq 63))"
check "--remote-mem 4K is sent" 1 "$down" lease acquire --remote-mem 4K
check "--remote-mem 1024T is sent" 1 "$down" lease acquire --remote-mem 1024T
check "--remote-mem lots: not a size" 2 '--remote-mem "lots" is not a size: give a size like 512M' \
	lease acquire --remote-mem lots
check "--remote-mem 4095: too small" 2 "--remote-mem 4095 is too small: give .* at least 4K" \
	lease acquire --remote-mem 4095
check "--remote-mem 1025T: too large" 2 "--remote-mem 1025T is too large: give .* at most 1024T" \
	lease acquire --remote-mem 1025T
check "--remote-mem with --lib is refused: memory alone" 2 "asks for memory alone" \
	lease acquire --remote-mem 16M --lib "$tmp/lib.so"
exit $((fails > 0))
