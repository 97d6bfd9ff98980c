#!/bin/sh
# TAP test: sessions over tcp;ofi_rxm (sessions.sh).
exec "$(dirname "$0")/sessions.sh" "tcp;ofi_rxm"
