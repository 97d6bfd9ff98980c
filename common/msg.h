/*
 * msg: the control plane's messages, encoded as JSON (the payload of one
 * frame, see frame.h). Every message is an object with "v" (protocol
 * version, 1) and "type"; decoding is strict: an unknown type, a missing or
 * mistyped field, a value out of range or an unknown field is an error that
 * names the field, and the daemon answers with an "error" message and drops
 * the connection.
 *
 *   client/plugin -> controller (TCP, "cred" = a MUNGE credential)
 *     lease_acquire {cred, workers, lib, mem, gpus, time, mode, job}
 *     lease_release {cred, id}
 *     query         {cred, what}            what = nodes|gaps|leases|executors
 *   controller -> client
 *     lease_grant   {id, lease}             lease = the lease document (object)
 *     result        {what, items}           items = an array of objects (a query's answer)
 *     ok            {}
 *     error         {code, message}         code = an errno name, e.g. "ENOSPC"
 *   SPANK plugin -> node agent (unix socket, peer checked with SO_PEERCRED)
 *     job_start     {job, uid, pus, mem, mem_need, gpus, consent, end}
 *     step_start    {job, step, pus, mem, gpus}
 *     step_end      {job, step}
 *     job_end       {job}
 *   (the node agent answers ok once what a job or step needs is free)
 *
 * CPU sets travel as lists ("0-3,8"), GPUs as a bitmask, sizes in bytes,
 * times in seconds (durations) or unix seconds (end).
 */
#ifndef COLOC_MSG_H
#define COLOC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_VERSION 1
#define MSG_CRED_MAX 1024
#define MSG_PATH_MAX 4096
#define MSG_TEXT_MAX 512
#define MSG_CPULIST_MAX 4096

enum msg_type {
	MSG_OK = 1,
	MSG_ERROR,
	MSG_LEASE_ACQUIRE,
	MSG_LEASE_GRANT,
	MSG_LEASE_RELEASE,
	MSG_QUERY,
	MSG_JOB_START,
	MSG_STEP_START,
	MSG_STEP_END,
	MSG_JOB_END,
	MSG_RESULT,
};

enum msg_query { MSG_QUERY_NODES = 1, MSG_QUERY_GAPS, MSG_QUERY_LEASES, MSG_QUERY_EXECUTORS };

struct msg {
	enum msg_type type;
	char cred[MSG_CRED_MAX]; /* requests to the controller */
	union {
		struct {
			char code[32]; /* errno name */
			char message[MSG_TEXT_MAX];
		} error;
		struct {
			uint32_t workers;	/* 1..4096 */
			char lib[MSG_PATH_MAX]; /* absolute path of the function library */
			uint64_t mem;		/* bytes per worker, 0 = the site default */
			uint32_t gpus;		/* 0..64 */
			uint32_t time;		/* seconds, 1..366 days */
			bool pack;		/* mode "pack" (else "spread") */
			uint32_t job;		/* the client's Slurm job, 0 = none */
		} acquire;
		struct {
			char id[64];
			char *lease; /* the lease document (JSON text), malloc'd; msg_free */
		} grant;
		struct {
			char id[64];
		} release;
		enum msg_query query;
		struct {
			enum msg_query what;
			char *items; /* JSON array text, malloc'd; msg_free */
		} result;
		struct {
			uint32_t job, uid;
			char pus[MSG_CPULIST_MAX]; /* "0-3,8" */
			uint64_t mem, mem_need;
			uint32_t gpus; /* bitmask */
			bool consent;
			int64_t end; /* unix seconds; 0 = no limit */
		} job_start;
		struct {
			uint32_t job, step;
			char pus[MSG_CPULIST_MAX];
			uint64_t mem;
			uint32_t gpus;
		} step;		  /* step_start; step_end uses job and step */
		uint32_t job_end; /* the job id */
	} u;
};

const char *msg_type_name(enum msg_type type);

/* Encodes m as compact JSON (malloc'd, caller frees). 0 or -errno. */
int msg_encode(const struct msg *m, char **text);

/* Decodes text into m (zeroed first). 0, or -EPROTO with a message naming
 * the field; -ENOMEM. Frees nothing: call msg_free(m) after a grant. */
int msg_decode(const char *text, struct msg *m, char *err, size_t errlen);

/* Frees what a message owns (a grant's lease, a result's items). */
void msg_free(struct msg *m);

/* An error reply: code is an errno name, message says what and the remedy. */
void msg_error(struct msg *m, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
