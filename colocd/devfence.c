/*
 * devfence: a cgroup's device access on cgroup v2, as a
 * BPF_PROG_TYPE_CGROUP_DEVICE program written as raw eBPF instructions (no
 * libbpf). The kernel runs it on every open or mknod of a device node by a
 * process of the cgroup with a struct bpf_cgroup_dev_ctx in r1:
 *
 *   access_type: (access << 16) | type   access: MKNOD 1, READ 2, WRITE 4
 *                                        type:   BLOCK 1, CHAR 2
 *   major, minor
 *
 * and allows the access when it returns 1. The program: load the four
 * values, then one block per rule (type, major, minor unless a wildcard,
 * then "no access bit outside the rule's"), each falling through to the
 * next rule on a mismatch and returning 1 on a match; return 0 at the end.
 * No state, no locking.
 */
#include "config.h"

#include "devfence.h"

#include "log.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* the registers the program uses */
enum { R0 = 0, R1, R2, R3, R4, R5, R6 };

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i;

	memset(&i, 0, sizeof(i));
	i.code = code;
	i.dst_reg = dst & 0xf;
	i.src_reg = src & 0xf;
	i.off = off;
	i.imm = imm;
	return i;
}

/* dst = *(u32 *)(src + off) */
static struct bpf_insn ldx_w(uint8_t dst, uint8_t src, int16_t off)
{
	return insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0);
}

/* 32-bit dst op= imm, dst = src, 64-bit dst = imm */
static struct bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm)
{
	return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}

static struct bpf_insn mov32_reg(uint8_t dst, uint8_t src)
{
	return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}

static struct bpf_insn mov64_imm(uint8_t dst, int32_t imm)
{
	return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}

/* if dst != imm goto pc + 1 + off */
static struct bpf_insn jne_imm(uint8_t dst, int32_t imm, int16_t off)
{
	return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
}

static struct bpf_insn exit_insn(void)
{
	return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* Instructions of one rule's block: the jumps, the access test, return 1. */
static unsigned rule_len(const struct devfence_rule *r)
{
	return 2 + (r->minor >= 0) + 3 + 2;
}

unsigned devfence_program_len(const struct devfence_rule *rules, unsigned n)
{
	unsigned len = 6 + 2;

	for (unsigned i = 0; i < n; i++)
		len += rule_len(&rules[i]);
	return len;
}

/* Writes the program into prog (room for devfence_program_len); its length. */
static unsigned program_build(const struct devfence_rule *rules, unsigned n, struct bpf_insn *prog)
{
	unsigned k = 0;

	prog[k++] = ldx_w(R2, R1, 0);		    /* access_type */
	prog[k++] = mov32_reg(R3, R2);		    /* r3 = access_type */
	prog[k++] = alu32_imm(BPF_AND, R2, 0xffff); /* r2 = type */
	prog[k++] = alu32_imm(BPF_RSH, R3, 16);	    /* r3 = access */
	prog[k++] = ldx_w(R4, R1, 4);		    /* major */
	prog[k++] = ldx_w(R5, R1, 8);		    /* minor */
	for (unsigned i = 0; i < n; i++) {
		const struct devfence_rule *r = &rules[i];
		unsigned end = k + rule_len(r); /* the next rule's first instruction */
		int type = r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;

		prog[k] = jne_imm(R2, type, (int16_t)(end - k - 1));
		k++;
		prog[k] = jne_imm(R4, (int32_t)r->major, (int16_t)(end - k - 1));
		k++;
		if (r->minor >= 0) {
			prog[k] = jne_imm(R5, r->minor, (int16_t)(end - k - 1));
			k++;
		}
		prog[k++] = mov32_reg(R6, R3);
		prog[k++] = alu32_imm(BPF_AND, R6, (int32_t)(~r->access & 0xffffu));
		prog[k] = jne_imm(R6, 0, (int16_t)(end - k - 1));
		k++;
		prog[k++] = mov64_imm(R0, 1);
		prog[k++] = exit_insn();
	}
	prog[k++] = mov64_imm(R0, 0);
	prog[k++] = exit_insn();
	return k;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int devfence_attach(int cgroup_fd, const struct devfence_rule *rules, unsigned n, char *err,
		    size_t errlen)
{
	struct bpf_insn prog[6 + 2 + DEVFENCE_MAX_RULES * 8];
	char vlog[512] = "";
	union bpf_attr attr;
	unsigned len;
	int prog_fd, rc;

	if (n > DEVFENCE_MAX_RULES) {
		log_errbuf(err, errlen, "A device fence takes at most %d rules, not %u.",
			   DEVFENCE_MAX_RULES, n);
		return -EINVAL;
	}
	len = program_build(rules, n, prog);
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = len;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	attr.log_buf = (uint64_t)(uintptr_t)vlog;
	attr.log_size = sizeof(vlog);
	attr.log_level = 1;
	prog_fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog_fd < 0 && errno == ENOSPC) { /* the log did not fit: load without it */
		attr.log_buf = 0;
		attr.log_size = 0;
		attr.log_level = 0;
		prog_fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
	}
	if (prog_fd < 0) {
		rc = -errno;
		vlog[strcspn(vlog, "\n")] = '\0';
		log_errbuf(err, errlen,
			   "The kernel refused the device program (bpf BPF_PROG_LOAD: %s%s%s); it "
			   "needs CONFIG_CGROUP_BPF and CAP_BPF or root.",
			   strerror(-rc), vlog[0] ? "; verifier: " : "", vlog);
		return rc;
	}
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_fd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	rc = sys_bpf(BPF_PROG_ATTACH, &attr) == 0 ? 0 : -errno;
	if (rc)
		log_errbuf(err, errlen, "Cannot attach the device program to the cgroup: %s.",
			   strerror(-rc));
	close(prog_fd); /* an attached program lives on with its cgroup */
	return rc;
}
