#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
int main(int argc, char **argv) {
  unsigned btf_id = 0; sscanf(argv[1], "%u", &btf_id);
  struct bpf_insn insns[] = { { .code = BPF_ALU64|BPF_MOV|BPF_K, .dst_reg = 0, .imm = 0 }, { .code = BPF_JMP|BPF_EXIT } };
  static char log[65536];
  union bpf_attr a; memset(&a, 0, sizeof a);
  a.prog_type = btf_id; a.kern_version = 0x061200;
  a.insns = (unsigned long)insns; a.insn_cnt = 2; a.license = (unsigned long)"GPL";
  a.log_buf = (unsigned long)log; a.log_size = sizeof log; a.log_level = 1;
  int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
  printf("fd %d errno %d (%s)\nlog: %s\n", fd, errno, strerror(errno), log);
}
