/*
 * transport_rung: names of the transport's capability-ladder rungs (see
 * transport.h). Kept apart from transport.c, which needs libfabric, so that
 * tests with a mock transport use these very functions.
 */
#include "config.h"

#include "transport.h"

#include <errno.h>
#include <string.h>

const char *transport_rung_name(enum transport_rung rung)
{
	switch (rung) {
	case TRANSPORT_RUNG_WRITEDATA:
		return "writedata";
	case TRANSPORT_RUNG_WRITE_NOTIFY:
		return "write-notify";
	case TRANSPORT_RUNG_SEND:
		return "send";
	default:
		return "auto";
	}
}

int transport_rung_parse(const char *name, enum transport_rung *rung)
{
	static const enum transport_rung all[] = {TRANSPORT_RUNG_AUTO, TRANSPORT_RUNG_WRITEDATA,
						  TRANSPORT_RUNG_WRITE_NOTIFY, TRANSPORT_RUNG_SEND};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, transport_rung_name(all[i])) == 0) {
			*rung = all[i];
			return 0;
		}
	}
	return -EINVAL;
}
