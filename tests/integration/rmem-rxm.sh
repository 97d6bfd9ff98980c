#!/bin/sh
# TAP test: rmem.sh (a memory lease, its attackers, its eviction) over tcp;ofi_rxm.
exec bash "$(dirname "$0")/rmem.sh" "tcp;ofi_rxm"
