#!/bin/sh
# TAP test: calls carrying 1 GiB of input and of output (dataplane.c's
# large-payload cases alone) over shm with the writedata rung: content,
# output larger than out_cap, an input over FAAS_MAX_PAYLOAD, a client
# killed mid-transfer, a staging budget too small, an executor killed
# mid-call. DATAPLANE_LARGE sets another size (like 64M). Exit 77 from
# dataplane means the provider is missing here.
DATAPLANE_LARGE="${DATAPLANE_LARGE:-1G}" "${DATAPLANE:-./dataplane}" 'shm' writedata
rc=$?
test $rc -eq 77 && exit 0
exit $rc
