#!/bin/sh
# TAP test: sessions over shm (sessions.sh).
exec "$(dirname "$0")/sessions.sh" shm
