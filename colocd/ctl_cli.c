/*
 * ctl_cli: colocctl's commands (see ctl_cli.h). Each command builds one
 * control-plane request, sends it with ctl_call() (leases: with
 * ctl_lease_acquire() and ctl_lease_release(), whose rules, lease_rules.h,
 * are libfaas's and the SPANK plugin's too) and prints the reply:
 * a table (table.c) or JSON on one line for queries, the lease document for
 * a grant. No state beyond the struct ctl_cli main() fills.
 */
#include "config.h"

#include "ctl_cli.h"
#include "cli.h"
#include "ctl_client.h"
#include "lease_doc.h"
#include "lease_rules.h"
#include "leaselog.h"
#include "table.h"
#include "usage.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "colocctl"

void ctl_cli_usage(FILE *f)
{
	fprintf(f,
		"usage: colocctl [-f FILE] [--json] [--timeout SEC] COMMAND [ARGS]\n"
		"commands:\n"
		"  nodes [--state up|down|drained]\n"
		"                          nodes registered with the controller\n"
		"  gaps [--min-cores N]    what each node may lend now\n"
		"  leases [--user U]       leases in the controller's table\n"
		"  executors [--user U]    running faas-executors\n"
		"  lease acquire --workers N --lib PATH [--mem SIZE] [--gpus N] [--time MIN]\n"
		"                [--pack] [--job ID]\n"
		"                          ask for a lease; prints its lease document\n"
		"  lease acquire --remote-mem SIZE [--time MIN] [--job ID]\n"
		"                          ask for a memory lease (SIZE of another node's "
		"idle memory)\n"
		"  lease release ID        give a lease back\n"
		"  drain NODE              no new leases on NODE; leases there run until they "
		"end\n"
		"  resume NODE             undo drain: NODE lends again\n"
		"  logs LEASE [--node N]   what the lease's executor wrote (its owner, on the "
		"node)\n"
		"  usage [--by user|host-job|node|lease] [--user U] [--host-job J] [--since T]\n"
		"        [--records]       usage of ended leases (core-, GB-, GPU-seconds, "
		"calls)\n"
		"options:\n"
		"  -f, --config FILE       coloc.conf to read (default: COLOC_CONF, else %s)\n"
		"  --json                  print JSON on one line (a lease document, an array of "
		"items)\n"
		"  --timeout SEC           bound on the whole exchange with the controller "
		"(default %d)\n"
		"  -V, --version           print the version\n"
		"  -h, --help              this text\n",
		config_default_path(), CTL_CLI_DEFAULT_TIMEOUT_S);
}

/* Options every command accepts after its name; 1 if opt was one. */
static int common_option(struct ctl_cli *c, int opt)
{
	if (opt == 'J') {
		c->json = true;
		return 1;
	}
	if (opt == 'T') {
		c->timeout_ms =
		    (int)cli_number(PROG, "--timeout", optarg, 1, CTL_CLI_MAX_TIMEOUT_S) * 1000;
		return 1;
	}
	return 0;
}

/* Sends req and checks the reply's type; 0 with *reply filled, else the
 * exit status (1) after printing why. */
static int exchange(struct ctl_cli *c, struct msg *req, struct msg *reply, enum msg_type expect)
{
	char err[1024];

	if (ctl_call(&c->cfg, req, expect, c->timeout_ms, reply, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	return 0;
}

/* Asks for the lease and prints what it got: "lease ID: WHAT" and its
 * document, or the document alone with --json. 0, 1 (refused) or 2. */
static int acquire_print(struct ctl_cli *c, const struct lease_request *req)
{
	struct lease_doc *doc = NULL;
	struct msg grant;
	char err[1024];

	if (ctl_lease_acquire(&c->cfg, req, c->timeout_ms, &grant, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	if (c->json) {
		printf("%s\n", grant.u.grant.lease);
	} else {
		if (lease_doc_decode(grant.u.grant.lease, &doc, err, sizeof(err)) != 0)
			printf("lease %s (the document does not parse: %s)\n", grant.u.grant.id,
			       err);
		else if (doc->remote_mem)
			printf("lease %s: %" PRIu64 " bytes of memory, provider %s\n",
			       grant.u.grant.id, doc->remote_mem,
			       doc->provider[0] ? doc->provider : "(default)");
		else
			printf("lease %s: %u workers, provider %s\n", grant.u.grant.id,
			       doc->nworkers, doc->provider[0] ? doc->provider : "(default)");
		lease_doc_free(doc);
		printf("%s\n", grant.u.grant.lease);
	}
	msg_free(&grant);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* lease acquire --remote-mem: a memory lease has no workers, library,
 * memory per worker, GPUs or packing. */
static int memory_lease_acquire(struct ctl_cli *c, const struct lease_request *req, const char *lib)
{
	if (req->workers || lib || req->mem || req->gpus || req->pack) {
		fprintf(stderr, PROG ": lease acquire --remote-mem asks for memory alone: give it "
				     "without --workers, --lib, --mem, --gpus and --pack (ask for "
				     "a compute lease separately)\n");
		return 2;
	}
	return acquire_print(c, req);
}

static int lease_acquire(struct ctl_cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"workers", required_argument, NULL, 'w'},
	    {"lib", required_argument, NULL, 'l'},
	    {"mem", required_argument, NULL, 'm'},
	    {"gpus", required_argument, NULL, 'g'},
	    {"time", required_argument, NULL, 't'},
	    {"pack", no_argument, NULL, 'p'},
	    {"job", required_argument, NULL, 'j'},
	    {"json", no_argument, NULL, 'J'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"remote-mem", required_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	struct lease_request req = {0}; /* time 0: DefaultLeaseTime */
	const char *lib = NULL;
	char path[PATH_MAX];
	char err[1024];
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (common_option(c, opt))
			continue;
		switch (opt) {
		case 'w':
			req.workers =
			    (uint32_t)cli_number(PROG, "--workers", optarg, 1, LEASE_MAX_WORKERS);
			break;
		case 'l':
			lib = optarg;
			break;
		case 'm':
			if (lease_rules_parse_mem(optarg, &req.mem) != 0) {
				fprintf(stderr, PROG ": --mem %s: expected " LEASE_ACCEPT_MEM "\n",
					optarg);
				return 2;
			}
			break;
		case 'g':
			req.gpus = (uint32_t)cli_number(PROG, "--gpus", optarg, 0, LEASE_MAX_GPUS);
			break;
		case 't':
			if (lease_rules_parse_time(optarg, &req.time) != 0) {
				fprintf(stderr,
					PROG ": --time %s: expected " LEASE_ACCEPT_TIME "\n",
					optarg);
				return 2;
			}
			break;
		case 'p':
			req.pack = true;
			break;
		case 'j':
			req.job = (uint32_t)cli_number(PROG, "--job", optarg, 0, UINT32_MAX);
			break;
		case 'R':
			if (lease_rules_parse_remote_mem(optarg, &req.remote_mem, err,
							 sizeof(err)) != 0) {
				fprintf(stderr, PROG ": --remote-mem %s\n", err);
				return 2;
			}
			break;
		default:
			ctl_cli_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": lease acquire: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (req.remote_mem)
		return memory_lease_acquire(c, &req, lib);
	if (!req.workers || !lib) {
		fprintf(stderr,
			PROG ": lease acquire needs --workers N (1 to %d) and --lib PATH (the "
			     "function library)\n",
			LEASE_MAX_WORKERS);
		return 2;
	}
	if (!realpath(lib, path)) {
		fprintf(stderr,
			PROG ": --lib %s: %s; give the path of an existing function library\n", lib,
			strerror(errno));
		return 2;
	}
	if (strlen(path) >= sizeof(req.lib)) {
		fprintf(stderr, PROG ": --lib %s: the path is too long\n", path);
		return 2;
	}
	strcpy(req.lib, path);
	return acquire_print(c, &req);
}

/* Parses a subcommand that takes only the common options (--json,
 * --timeout); returns the index of its first operand, or -1 after a usage
 * message. */
static int common_options_only(struct ctl_cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'J'},
	    {"timeout", required_argument, NULL, 'T'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (!common_option(c, opt)) {
			ctl_cli_usage(stderr);
			return -1;
		}
	}
	return optind;
}

static int lease_release(struct ctl_cli *c, int argc, char **argv)
{
	char err[1024];

	if (common_options_only(c, argc, argv) < 0)
		return 2;
	if (argc - optind != 1 || !argv[optind][0] ||
	    strlen(argv[optind]) >= sizeof(((struct msg *)NULL)->u.release.id)) {
		fprintf(stderr, PROG ": lease release needs one lease ID (as colocctl leases "
				     "shows it)\n");
		return 2;
	}
	if (ctl_lease_release(&c->cfg, argv[optind], c->timeout_ms, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	if (!c->json)
		printf("lease %s released\n", argv[optind]);
	return 0;
}

int ctl_cli_lease(struct ctl_cli *c, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "acquire") == 0)
		return lease_acquire(c, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "release") == 0)
		return lease_release(c, argc - 1, argv + 1);
	fprintf(stderr, PROG ": lease %s: expected lease acquire or lease release\n",
		argc >= 2 ? argv[1] : "(nothing)");
	return 2;
}

/* A node name as the controller accepts it (msg.h, drain.node): 1 to
 * MSG_NODE_MAX - 1 letters, digits, '-', '_' and '.', the first a letter
 * or a digit. */
static bool node_name_ok(const char *s)
{
#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	size_t len = strlen(s);

	return len > 0 && len < MSG_NODE_MAX && strchr(ALNUM, s[0]) &&
	       s[strspn(s, ALNUM "-_.")] == '\0';
#undef ALNUM
}

int ctl_cli_drain(struct ctl_cli *c, bool drain, int argc, char **argv)
{
	struct msg req = {.type = MSG_DRAIN}, reply;
	const char *cmd = drain ? "drain" : "resume";
	int rc;

	if (common_options_only(c, argc, argv) < 0)
		return 2;
	if (argc - optind != 1) {
		fprintf(stderr,
			PROG ": %s needs one NODE (a node name as colocctl nodes shows it)\n", cmd);
		return 2;
	}
	if (!node_name_ok(argv[optind])) {
		fprintf(stderr,
			PROG
			": %s %s: not a node name; expected 1 to %d letters, digits, '-', '_' "
			"and '.', the first a letter or a digit (as colocctl nodes shows it)\n",
			cmd, argv[optind], MSG_NODE_MAX - 1);
		return 2;
	}
	strcpy(req.u.drain.node, argv[optind]);
	req.u.drain.drain = drain;
	rc = exchange(c, &req, &reply, MSG_OK);
	if (rc)
		return rc;
	if (!c->json)
		printf("node %s %s\n", req.u.drain.node, drain ? "drained" : "resumed");
	msg_free(&reply);
	return fflush(stdout) == 0 ? 0 : 1;
}

static const char *const query_cmds[] = {
    [MSG_QUERY_NODES] = "nodes",   [MSG_QUERY_GAPS] = "gaps",
    [MSG_QUERY_LEASES] = "leases", [MSG_QUERY_EXECUTORS] = "executors",
    [MSG_QUERY_USAGE] = "usage",   [MSG_QUERY_RECORDS] = "usage records"};

/* Preferred columns per query, in this order; any other keys follow. */
static const char *const *query_columns(enum msg_query what)
{
	static const char *const nodes[] = {"name", "state", "pus", "mem", "gpus", "drained", NULL};
	static const char *const gaps[] = {"node", "lendable", "unallocated", "mem",
					   "gpus", "until",    NULL};
	static const char *const leases[] = {"id",   "uid", "state",   "node", "workers",
					     "cpus", "mem", "expires", "why",  NULL};
	static const char *const executors[] = {"pid",	     "node", "uid",   "cgroup", "cpus",
						"mem_limit", "gpus", "lease", NULL};
	static const char *const usage[] = {
	    "group", "leases", "core_seconds", "gb_seconds", "gpu_seconds", "calls", NULL};
	static const char *const records[] = {"id",	      "user",  "job",	"host_jobs", "node",
					      "cores",	      "mem",   "gpus",	"start",     "end",
					      "core_seconds", "calls", "state", "why",	     NULL};

	switch (what) {
	case MSG_QUERY_NODES:
		return nodes;
	case MSG_QUERY_GAPS:
		return gaps;
	case MSG_QUERY_LEASES:
		return leases;
	case MSG_QUERY_EXECUTORS:
		return executors;
	case MSG_QUERY_USAGE:
		return usage;
	case MSG_QUERY_RECORDS:
		return records;
	}
	return NULL;
}

enum msg_query ctl_cli_query_parse(const char *name)
{
	for (unsigned i = MSG_QUERY_NODES; i <= MSG_QUERY_EXECUTORS; i++)
		if (strcmp(name, query_cmds[i]) == 0)
			return (enum msg_query)i;
	return 0;
}

static int user_parse(const char *s, uint32_t *uid);

/* Parses a query's options into req's filter; the index of its first
 * operand, or -1 after a message. */
static int query_options(struct ctl_cli *c, struct msg *req, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'J'},	     {"timeout", required_argument, NULL, 'T'},
	    {"state", required_argument, NULL, 's'}, {"min-cores", required_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},  {NULL, 0, NULL, 0},
	};
	enum msg_query what = req->u.query;
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (common_option(c, opt))
			continue;
		if (opt == 's' && what == MSG_QUERY_NODES) {
			if (strcmp(optarg, "up") && strcmp(optarg, "down") &&
			    strcmp(optarg, "drained")) {
				fprintf(stderr, PROG ": --state %s: expected " MSG_NODE_STATES "\n",
					optarg);
				return -1;
			}
			snprintf(req->filter.state, sizeof(req->filter.state), "%s", optarg);
		} else if (opt == 'c' && what == MSG_QUERY_GAPS) {
			req->filter.min_cores =
			    (uint32_t)cli_number(PROG, "--min-cores", optarg, 1, 1024);
		} else if (opt == 'u' &&
			   (what == MSG_QUERY_LEASES || what == MSG_QUERY_EXECUTORS)) {
			if (user_parse(optarg, &req->filter.user) != 0) {
				fprintf(stderr,
					PROG ": --user %s: no such user (a name or a uid)\n",
					optarg);
				return -1;
			}
			req->filter.has_user = true;
		} else {
			if (opt == 's' || opt == 'c' || opt == 'u')
				fprintf(stderr, PROG ": %s takes no %s; see colocctl --help\n",
					query_cmds[what],
					opt == 's'   ? "--state (nodes does)"
					: opt == 'c' ? "--min-cores (gaps does)"
						     : "--user (leases and executors do)");
			else
				ctl_cli_usage(stderr);
			return -1;
		}
	}
	return optind;
}

/* Appends a page's rows, a JSON array, to *json (an array being built). */
static int json_join(char **json, size_t *len, const char *page)
{
	size_t n = strlen(page);
	char *more;

	if (n < 2 || page[0] != '[' || page[n - 1] != ']')
		return -EPROTO;
	if (n == 2)
		return 0; /* no rows */
	more = realloc(*json, *len + n + 2);
	if (!more)
		return -ENOMEM;
	*json = more;
	more[*len] = *len > 1 ? ',' : '[';
	if (*len == 0)
		*len = 1;
	else
		(*len)++;
	memcpy(more + *len, page + 1, n - 2);
	*len += n - 2;
	more[*len] = '\0';
	return 0;
}

/* A query's answer as it arrives, page after page (ctl_query_pages). */
struct pages {
	struct ctl_cli *c;
	enum msg_query what;
	struct msg all; /* the table's rows, */
	char *json;	/* or --json's array */
	size_t json_len;
	uint64_t from; /* where the page must start: the last one's next */
};

/* A ctl_page_fn: takes page into pg; 0, or 1 with what is wrong said. */
static int take_page(void *arg, const struct msg *page)
{
	struct pages *pg = arg;
	char *text = NULL;
	int rc;

	if (page->type == MSG_ERROR) {
		fprintf(stderr, PROG ": the controller refused the query request: %s: %s\n",
			page->u.error.code, page->u.error.message);
		return 1;
	}
	if (page->type != MSG_RESULT || page->u.result.what != pg->what ||
	    (page->u.result.next && page->u.result.next <= pg->from)) {
		fprintf(stderr, PROG ": the controller answered a %s query with %s\n",
			query_cmds[pg->what],
			page->type != MSG_RESULT ? msg_type_name(page->type)
			: page->u.result.what != pg->what
			    ? query_cmds[page->u.result.what]
			    : "a page that goes back (upgrade colocd?)");
		return 1;
	}
	pg->from = page->u.result.next;
	rc = pg->c->json ? msg_result_json(page, &text) : msg_result_append(&pg->all, page);
	if (!rc && text)
		rc = json_join(&pg->json, &pg->json_len, text);
	free(text);
	if (rc) {
		fprintf(stderr, PROG ": cannot print the %s: %s\n", query_cmds[pg->what],
			strerror(-rc));
		return 1;
	}
	return 0;
}

int ctl_cli_query(struct ctl_cli *c, enum msg_query what, int argc, char **argv)
{
	struct msg req = {.type = MSG_QUERY, .u.query = what};
	struct pages pg = {
	    .c = c, .what = what, .all = {.type = MSG_RESULT, .u.result.what = what}};
	char err[1024];
	int rc = 0;

	if (query_options(c, &req, argc, argv) < 0)
		return 2;
	if (optind < argc) {
		fprintf(stderr, PROG ": %s takes no arguments, not %s\n", query_cmds[what],
			argv[optind]);
		return 2;
	}
	/* every page (each answer fits a frame; "next" says where the rest
	 * starts), streamed on one connection, printed as one table or one
	 * JSON array */
	rc = ctl_query_pages(&c->cfg, &req, c->timeout_ms, take_page, &pg, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, PROG ": %s\n", err);
	if (rc) {
		rc = 1;
		goto out;
	}
	if (c->json)
		printf("%s]\n", pg.json ? pg.json : "[");
	else if ((rc = table_print(&pg.all, query_columns(what), stdout)) != 0) {
		fprintf(stderr, PROG ": cannot print the %s: %s\n", query_cmds[what],
			strerror(-rc));
		rc = 1;
	}
	if (!rc && fflush(stdout) != 0)
		rc = 1;
out:
	free(pg.json);
	msg_free(&pg.all);
	return rc;
}

int ctl_cli_logs(struct ctl_cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"node", required_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0},
	};
	char node[MSG_NODE_MAX] = "", path[4400], err[512], buf[65536];
	const char *id;
	ssize_t n;
	int opt, fd;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (opt != 'N' || !node_name_ok(optarg)) {
			fprintf(stderr, PROG ": logs LEASE [--node NODE]: NODE is a node name as "
					     "colocctl leases shows it\n");
			return 2;
		}
		snprintf(node, sizeof(node), "%s", optarg);
	}
	id = optind < argc ? argv[optind] : "";
	if (argc - optind != 1 || !id[0] || id[0] == '.' || strchr(id, '/') || strlen(id) >= 64) {
		fprintf(stderr, PROG ": logs needs one lease ID (as colocctl leases shows it)\n");
		return 2;
	}
	if (!node[0] && gethostname(node, sizeof(node) - 1) != 0)
		snprintf(node, sizeof(node), "localhost");
	node[strcspn(node, ".")] = '\0'; /* the short name, as colocd's */
	if (config_expand_node(&c->cfg, node, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	leaselog_path(c->cfg.state_dir, id, path, sizeof(path));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			fprintf(stderr,
				PROG
				": %s has no log on node %s (%s): run colocctl logs on the "
				"node the lease ran on (colocctl leases shows it); logs are kept "
				"%d days\n",
				id, node, path, LEASELOG_KEEP_S / 86400);
		else if (errno == EACCES)
			fprintf(stderr, PROG ": %s: its log (on %s, %s) is its owner's alone\n", id,
				node, path);
		else
			fprintf(stderr, PROG ": %s: cannot read its log on %s (%s): %s\n", id, node,
				path, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			break;
	close(fd);
	return n < 0 || fflush(stdout) != 0 ? 1 : 0;
}

/* A user name or uid into *uid. */
static int user_parse(const char *s, uint32_t *uid)
{
	struct passwd *pw = getpwnam(s);
	char *end;
	unsigned long v;

	if (pw) {
		*uid = (uint32_t)pw->pw_uid;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v >= UINT32_MAX)
		return -EINVAL;
	*uid = (uint32_t)v;
	return 0;
}

int ctl_cli_usage_report(struct ctl_cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"by", required_argument, NULL, 'b'},	{"user", required_argument, NULL, 'u'},
	    {"host-job", required_argument, NULL, 'H'}, {"since", required_argument, NULL, 's'},
	    {"records", no_argument, NULL, 'r'},	{"json", no_argument, NULL, 'J'},
	    {"timeout", required_argument, NULL, 'T'},	{NULL, 0, NULL, 0},
	};
	struct msg req = {.type = MSG_QUERY, .u.query = MSG_QUERY_USAGE}, reply;
	const char *since = NULL;
	char when[64] = "";
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (common_option(c, opt))
			continue;
		switch (opt) {
		case 'b':
			if (msg_usage_by_parse(optarg, &req.filter.by) != 0) {
				fprintf(stderr,
					PROG ": --by %s: expected user, host-job, node or lease\n",
					optarg);
				return 2;
			}
			break;
		case 'u':
			if (user_parse(optarg, &req.filter.user) != 0) {
				fprintf(stderr,
					PROG ": --user %s: no such user (a name or a uid)\n",
					optarg);
				return 2;
			}
			req.filter.has_user = true;
			break;
		case 'H':
			req.filter.host_job =
			    (uint32_t)cli_number(PROG, "--host-job", optarg, 1, UINT32_MAX);
			break;
		case 's':
			since = optarg;
			if (usage_since_parse(optarg, time(NULL), &req.filter.since) != 0 ||
			    req.filter.since < 0) {
				fprintf(stderr,
					PROG ": --since %s: expected a date (2026-12-01), a time "
					     "(2026-12-01T10:00) or an age (30m, 12h, 7d, 2w)\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			req.u.query = MSG_QUERY_RECORDS;
			break;
		default:
			ctl_cli_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": usage takes no arguments, not %s\n", argv[optind]);
		return 2;
	}
	rc = exchange(c, &req, &reply, MSG_RESULT);
	if (rc)
		return rc;
	if (reply.u.result.what != req.u.query) {
		fprintf(stderr, PROG ": the controller answered a usage query with %s\n",
			query_cmds[reply.u.result.what]);
		msg_free(&reply);
		return 1;
	}
	if (c->json) {
		char *text = NULL;

		rc = msg_result_json(&reply, &text);
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		if (since) {
			time_t t = (time_t)req.filter.since;
			struct tm tm;

			strftime(when, sizeof(when), " since %Y-%m-%dT%H:%M:%S",
				 localtime_r(&t, &tm));
		}
		if (req.u.query == MSG_QUERY_USAGE)
			printf("Usage of ended leases%s by %s%s (seconds; GB = GiB)\n", when,
			       msg_usage_by_name(req.filter.by),
			       req.filter.host_job ? ", on the host job's cores" : "");
		else
			printf("Usage records%s, the newest %d at most\n", when, USAGE_RECORDS_MAX);
		rc = table_print(&reply, query_columns(req.u.query), stdout);
	}
	if (rc)
		fprintf(stderr, PROG ": cannot print the usage: %s\n", strerror(-rc));
	msg_free(&reply);
	return rc || fflush(stdout) != 0 ? 1 : 0;
}
