#!/bin/bash
# TAP test: MUNGE credentials (cred_check) against a private munged: its
# own key, socket and logs in a temporary directory, stopped by pid.
set -u
command -v munged >/dev/null && command -v mungekey >/dev/null ||
	{ echo "1..0 # SKIP munged is not installed (apt-get install munge)"; exit 0; }
dir=$(mktemp -d /tmp/coloc-munge.XXXXXX)
chmod 711 "$dir" # munged wants its socket's directory searchable by all
cleanup() {
	[ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null
	for _ in $(seq 50); do [ -S "$dir/sock" ] || break; sleep 0.1; done
	rm -rf "$dir"
}
trap cleanup EXIT
mungekey --create --keyfile="$dir/key" >/dev/null 2>&1 || { echo "1..0 # SKIP mungekey failed"; exit 0; }
munged --socket="$dir/sock" --key-file="$dir/key" --pid-file="$dir/pid" \
	--log-file="$dir/log" --seed-file="$dir/seed" >/dev/null 2>&1 ||
	{ echo "not ok 1 - munged starts"; sed 's/^/# /' "$dir/log"; echo "1..1"; exit 1; }
for _ in $(seq 100); do [ -S "$dir/sock" ] && break; sleep 0.05; done
"${CRED_CHECK:-./cred_check}" "$dir/sock"
