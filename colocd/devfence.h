/*
 * devfence: device access of a cgroup v2 cgroup, as an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE (cgroup v2 has no devices.allow; Slurm's
 * cgroup/v2 plugin fences jobs' devices the same way). The one module that
 * calls bpf(2). No state: each call builds, loads and attaches one program.
 */
#ifndef COLOC_DEVFENCE_H
#define COLOC_DEVFENCE_H

#include <stdbool.h>
#include <stddef.h>

/* What a rule allows: read, write, mknod (BPF_DEVCG_ACC_*). */
enum { DEVFENCE_MKNOD = 1, DEVFENCE_READ = 2, DEVFENCE_WRITE = 4 };

struct devfence_rule {
	char type;	 /* 'c' (character) or 'b' (block) */
	unsigned major;	 /* the device's major number */
	int minor;	 /* its minor number, or -1 for every minor */
	unsigned access; /* DEVFENCE_* bits this rule allows */
};

#define DEVFENCE_MAX_RULES 64

/*
 * Attaches to the cgroup whose directory is open at cgroup_fd a program
 * that allows exactly the accesses the rules grant and denies every other
 * device access of the cgroup's processes (attached with BPF_F_ALLOW_MULTI,
 * so programs of the cgroup's ancestors still apply too). The program stays
 * attached until the cgroup is removed; no descriptor is kept. Returns 0,
 * or -errno with a sentence in err (the verifier's first line where it
 * refused the program). Thread-safe.
 */
int devfence_attach(int cgroup_fd, const struct devfence_rule *rules, unsigned n, char *err,
		    size_t errlen);

/* How many instructions the program for these rules has (for tests). */
unsigned devfence_program_len(const struct devfence_rule *rules, unsigned n);

#endif
