/*
 * fuzz_faas_opts: what spank_faas.so parses (spank-plugin/faas_opts.c,
 * compiled in): the --faas-* option values srun, sbatch and salloc hand
 * it, the FAAS_* environment variables it reads in their place, the
 * plugstack.conf arguments, and Slurm's GPU index lists.
 *
 * Input: NUL-separated entries, each a kind byte and a value: kinds 0..7
 * give the value to an option on the command line, 8..15 set an option's
 * environment variable, 16..23 make it a plugstack.conf argument, the
 * rest a GPU list (at most 16 of each). Then the command line is parsed,
 * the environment fills the rest, faas_opts_check runs, and the plugin's
 * arguments are parsed, as the plugin does.
 *
 * Properties: every refusal is -EINVAL with a sentence; what is accepted
 * is within the documented bounds (the plugin sends it as is).
 */
#include "config.h"

#include "fuzz.h"

#include "faas_opts.c"

#define ENTRIES_MAX 16

struct env {
	const char *value[FAAS_OPT_COUNT];
};

static const char *env_get(void *ctx, const char *name)
{
	struct env *e = ctx;

	for (int o = FAAS_OPT_WORKERS; o < FAAS_OPT_COUNT; o++)
		if (strcmp(name, faas_opt_env((enum faas_opt)o)) == 0 && e->value[o])
			return e->value[o];
	return NULL;
}

static void check_refusal(int rc, const char *err)
{
	FUZZ_CHECK(rc == -EINVAL, "a parser returned %d", rc);
	FUZZ_CHECK(err[0] != '\0', "a refusal without a message");
}

static void check_bounds(const struct faas_opts *f)
{
	if (faas_opts_has(f, FAAS_OPT_WORKERS))
		FUZZ_CHECK(f->workers >= 1 && f->workers <= LEASE_MAX_WORKERS, "%u workers",
			   f->workers);
	if (faas_opts_has(f, FAAS_OPT_GPUS))
		FUZZ_CHECK(f->gpus <= LEASE_MAX_GPUS, "%u GPUs", f->gpus);
	if (faas_opts_has(f, FAAS_OPT_MEM))
		FUZZ_CHECK(f->mem >= 1 && f->mem <= LEASE_MAX_MEM, "mem %llu",
			   (unsigned long long)f->mem);
	if (faas_opts_has(f, FAAS_OPT_HOST_MEM))
		FUZZ_CHECK(f->host_mem >= 1 && f->host_mem <= LEASE_MAX_MEM, "host mem %llu",
			   (unsigned long long)f->host_mem);
	if (faas_opts_has(f, FAAS_OPT_TIME))
		FUZZ_CHECK(f->time_s >= 1 && f->time_s <= LEASE_MAX_TIME_S, "time %u", f->time_s);
	if (faas_opts_has(f, FAAS_OPT_LIB))
		FUZZ_CHECK(f->lib[0] == '/' && memchr(f->lib, '\0', sizeof(f->lib)), "lib %s",
			   f->lib);
	FUZZ_CHECK(!faas_opts_has(f, FAAS_OPT_NO_HOST), "--no-faas-host recorded as itself");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *p = text, *end = text + size, err[1024];
	struct {
		enum faas_opt opt;
		const char *value;
	} cmdline[ENTRIES_MAX];
	char *av[ENTRIES_MAX + 1];
	unsigned ncmd = 0, nav = 0;
	struct faas_plugin_args args;
	struct faas_opts f;
	struct env env = {{0}};
	int rc;

	memset(&f, 0, sizeof(f));
	/* entries: text holds NULs where the input does */
	while (p < end) {
		size_t len = strlen(p);
		uint8_t kind = (uint8_t)p[0];
		const char *value = len ? p + 1 : "";
		enum faas_opt o = (enum faas_opt)(FAAS_OPT_WORKERS + kind % (FAAS_OPT_COUNT - 1));

		if (len == 0) {
			p++;
			continue;
		}
		if (kind < 8 && ncmd < ENTRIES_MAX) {
			cmdline[ncmd].opt = o;
			cmdline[ncmd++].value = value;
		} else if (kind < 16) {
			env.value[o] = value;
		} else if (kind < 24 && nav < ENTRIES_MAX) {
			av[nav++] = (char *)value;
		} else if (kind >= 24) {
			uint32_t mask = faas_gpu_mask(value);

			/* a single index: its bit, or nothing from 32 on */
			if (*value && strspn(value, "0123456789") == strlen(value)) {
				unsigned long g = strtoul(value, NULL, 10);

				FUZZ_CHECK(mask == (g < 32 ? 1u << g : 0), "GPU list %s gives %#x",
					   value, mask);
			}
		}
		p += len + 1;
	}
	av[nav] = NULL;

	/* the command line, as slurm_spank_init's option callbacks see it */
	for (unsigned i = 0; i < ncmd; i++) {
		static struct faas_opts before;

		memcpy(&before, &f, sizeof(f));
		err[0] = '\0';
		rc = faas_opt_parse(&f, cmdline[i].opt, cmdline[i].value, err, sizeof(err));
		if (rc) {
			check_refusal(rc, err);
			FUZZ_CHECK(memcmp(&before, &f, sizeof(f)) == 0,
				   "a refused --%s= changed the options",
				   faas_opt_name(cmdline[i].opt));
		}
		check_bounds(&f);
	}
	err[0] = '\0';
	rc = faas_opts_from_env(&f, env_get, &env, err, sizeof(err));
	if (rc)
		check_refusal(rc, err);
	check_bounds(&f);
	err[0] = '\0';
	rc = faas_opts_check(&f, err, sizeof(err));
	if (rc)
		check_refusal(rc, err);
	err[0] = '\0';
	rc = faas_plugin_args_parse((int)nav, av, &args, err, sizeof(err));
	if (rc)
		check_refusal(rc, err);
	else
		FUZZ_CHECK(!args.conf[0] || args.conf[0] == '/', "conf=%s accepted", args.conf);
	free(text);
	return 0;
}
