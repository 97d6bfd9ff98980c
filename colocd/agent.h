/*
 * agent: colocd's node agent role, the part that runs on every compute
 * node as root. It owns:
 *   - the node's topology (hwloc), memory and GPUs (the Gpus key);
 *   - the ledger of host jobs and steps, from the SPANK plugin's reports
 *     (ledger.c);
 *   - the gap (gaps.c) and the leases running on the node, each with its
 *     faas-executor in its own cgroup (sandbox.c) as the lease owner, its
 *     lease document read back from the executor's channel and its output
 *     kept in the lease's log (leaselog.c);
 *   - spare executors started ahead of leases (spares.c);
 *   - supervision: an executor that exits or is OOM-killed ends its lease as
 *     "failed"; leases end at their deadline even when no controller is
 *     reachable; memory pressure (MemAvailable below MemoryMargin) evicts
 *     the executor using most memory;
 *   - eviction: a report that needs lent PUs, memory or GPUs back is
 *     answered only once the leases on them are gone (their cgroups
 *     empty), while the agent goes on serving everything else.
 * It is driven by one thread: requests in, agent_tick() every few ms, and
 * agent_state() for the controller (the whole soft state, rebuilt on
 * request). Replies that wait (exec_start until the executor is ready, a
 * report until its evictions are done) go through a callback. Nothing in
 * it waits on what a user controls; only agent_evict_all and
 * agent_destroy wait (for evictions, at a stop).
 */
#ifndef COLOC_AGENT_H
#define COLOC_AGENT_H

#include "coloc_config.h"
#include "cred.h"
#include "msg.h"

#include <stdbool.h>
#include <stdint.h>

struct agent;

struct topology;

/* node: the node's name; cfg has had its %n expanded; topo: the node's
 * topology (the agent takes it), NULL to load this machine's. 0 or -errno
 * with err. */
int agent_create(const struct coloc_config *cfg, const char *executor, const char *node,
		 struct topology *topo, struct agent **out, char *err, size_t errlen);

/* Ends every lease, as evicted for why, and waits until their executors
 * are gone (at most EvictGrace and 6 s more). */
void agent_evict_all(struct agent *a, const char *why);

/* Ends every lease (the host wins at the end too) and frees a. */
void agent_destroy(struct agent *a);

const char *agent_node(const struct agent *a);

/* Requests, already authenticated by the caller: exec_start and exec_stop
 * from the controller, job_start/step_start/step_end/job_end from the
 * plugin. Anything else gets an EPROTO error. from: who sent it, when it
 * came with a credential (the controller over TCP); exec_start's grant is
 * then marked to be signed (msg.sign), bound to from's nonce. NULL: the
 * plugin, or the controller in this process (standalone). fn gets the
 * reply (msg.h: exactly once, maybe before this returns). */
void agent_request(struct agent *a, const struct msg *m, const struct cred_id *from,
		   msg_reply_fn fn, void *arg, uint64_t cookie);

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

struct metrics_page;

/* Writes the node's metrics (metrics.h): lendable and lent resources,
 * leases by state, evictions by reason, reclaim and cold start times, the
 * executors' calls. */
void agent_metrics(struct agent *a, struct metrics_page *p);

/* Memory pressure's choice: the index of the largest usage[] (UINT64_MAX:
 * not a candidate) when avail (MemAvailable; UINT64_MAX: unknown) is below
 * margin, else -1. Pure; exposed for its unit test. */
int agent_pressure_pick(const uint64_t *usage, unsigned n, uint64_t avail, uint64_t margin);

#endif
