# shellcheck shell=bash
# Sourced by the credential tests: a private munged, with its own key,
# socket and logs in a directory of the test's, stopped by its pid.
#   munged_start DIR   starts it (socket DIR/munge.sock); 0, or 1 with why
#                      on stdout as a TAP comment
#   munged_stop DIR    stops it (safe to call twice, or when it never ran)
# Both need munged and mungekey (apt-get install munge); the caller skips
# when `munged_missing` says they are absent.
munged_missing() {
	! command -v munged >/dev/null || ! command -v mungekey >/dev/null
}
munged_start() {
	local d=$1
	chmod 711 "$d" # munged wants its socket's directory searchable by all
	mungekey --create --keyfile="$d/munge.key" >/dev/null 2>&1 || { echo "# mungekey failed"; return 1; }
	munged --socket="$d/munge.sock" --key-file="$d/munge.key" --pid-file="$d/munge.pid" \
		--log-file="$d/munge.log" --seed-file="$d/munge.seed" >/dev/null 2>&1 ||
		{ sed 's/^/# munged: /' "$d/munge.log"; return 1; }
	for _ in $(seq 100); do [ -S "$d/munge.sock" ] && return 0; sleep 0.05; done
	echo "# munged did not create its socket"
	return 1
}
munged_stop() {
	local d=$1
	[ -f "$d/munge.pid" ] && kill "$(cat "$d/munge.pid")" 2>/dev/null
	for _ in $(seq 50); do [ -S "$d/munge.sock" ] || break; sleep 0.1; done
	rm -f "$d/munge.pid"
}
