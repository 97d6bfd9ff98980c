#!/bin/bash
# TAP test: MUNGE credentials bound to messages (cred_check) against a
# private munged (munged.sh), with credentials munge(1) makes the old way
# (no payload), for too long, or with a payload that is not a binding.
set -u
. "$(dirname "$0")/munged.sh"
munged_missing && { echo "1..0 # SKIP munged is not installed (apt-get install munge)"; exit 0; }
dir=$(mktemp -d /tmp/coloc-munge.XXXXXX)
trap 'munged_stop "$dir"; rm -rf "$dir"' EXIT
munged_start "$dir" || { echo "not ok 1 - munged starts"; echo "1..1"; exit 1; }
sock=$dir/munge.sock
unbound=$(munge --socket="$sock" --no-input)
long=$(munge --socket="$sock" --no-input --ttl=3600)
junk=$(munge --socket="$sock" --string="hello")
"${CRED_CHECK:-./cred_check}" "$sock" "$unbound" "$long" "$junk"
