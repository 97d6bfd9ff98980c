#!/bin/sh
# TAP test: rmem.sh (a memory lease, its attackers, its eviction) over shm.
exec bash "$(dirname "$0")/rmem.sh" shm
