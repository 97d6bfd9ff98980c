/*
 * agent: colocd's node agent role, the part that runs on every compute
 * node as root. It owns:
 *   - the node's topology (hwloc), memory and GPUs (the Gpus key);
 *   - the ledger of host jobs and steps, from the SPANK plugin's reports;
 *   - the gap (gaps.c) and the leases running on the node, each with its
 *     faas-executor in its own cgroup (sandbox.c) as the lease owner;
 *   - supervision: an executor that exits or is OOM-killed ends its lease as
 *     "failed"; leases end at their deadline even when no controller is
 *     reachable; memory pressure (MemAvailable below MemoryMargin) evicts
 *     the executor using most memory;
 *   - eviction: a report that needs lent PUs, memory or GPUs back is
 *     answered only once the leases on them are gone.
 * It is driven by one thread: requests in, agent_tick() every few ms, and
 * agent_state() for the controller (the whole soft state, rebuilt on
 * request). Replies that wait (exec_start until the executor is ready)
 * go through a callback.
 */
#ifndef COLOC_AGENT_H
#define COLOC_AGENT_H

#include "coloc_config.h"
#include "cred.h"
#include "msg.h"

#include <stdbool.h>
#include <stdint.h>

/* Delivers the reply to a request; cookie is the caller's. Called exactly
 * once per request, possibly before the request function returns. */
typedef void (*agent_reply_fn)(void *arg, uint64_t cookie, const struct msg *reply);

struct agent;

/* node: the node's name; cfg has had its %n expanded. 0 or -errno with err. */
int agent_create(const struct coloc_config *cfg, const char *executor, const char *node,
		 struct agent **out, char *err, size_t errlen);

/* Ends every lease now, as evicted for why. */
void agent_evict_all(struct agent *a, const char *why);

/* Ends every lease (the host wins at the end too) and frees a. */
void agent_destroy(struct agent *a);

const char *agent_node(const struct agent *a);

/* Requests, already authenticated by the caller: exec_start and exec_stop
 * from the controller, job_start/step_start/step_end/job_end from the
 * plugin. Anything else gets an EPROTO error. from: who sent it, when it
 * came with a credential (the controller over TCP); exec_start's grant is
 * then marked to be signed (msg.sign), bound to from's nonce. NULL: the
 * plugin, or the controller in this process (standalone). */
void agent_request(struct agent *a, const struct msg *m, const struct cred_id *from,
		   agent_reply_fn fn, void *arg, uint64_t cookie);

/* Starting executors, exits, deadlines, memory pressure, spare executors. */
void agent_tick(struct agent *a);

/* How soon agent_tick wants to run again, in ms: sooner while an executor
 * is starting (its lease document is looked for). */
int agent_tick_ms(const struct agent *a);

/* New configuration (SIGHUP): what can change while running. */
void agent_reload(struct agent *a, const struct coloc_config *cfg);

/* True when the state changed since the last agent_state(). */
bool agent_dirty(const struct agent *a);

/* The node_state message for the controller (port: NodeAgentPort to
 * advertise). It carries the leases that ended since the controller last
 * took a state; *ended_upto is what to hand agent_state_taken() once the
 * controller has answered ok. The caller msg_free()s it. 0 or -ENOMEM. */
int agent_state(struct agent *a, uint16_t port, struct msg *out, uint64_t *ended_upto);
void agent_state_taken(struct agent *a, uint64_t ended_upto);

#endif
