/* Escape probes for the isolation tests: each tries one kernel interface that acts on
 * the whole host rather than on the container's namespaces, harmlessly (it asks for
 * something that fails after the permission check, or only reads). Exit 0: the
 * interface answered, so the escape is open; 1: refused (EPERM/EACCES); 2: something
 * else went wrong, which the test counts as "not open" but prints. */
#define _GNU_SOURCE
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/fs.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int verdict(const char *what, long result, int expected_errno) {
    if (result >= 0 || errno == expected_errno) {
        printf("%s: open\n", what);
        return 0;
    }
    if (errno == EPERM || errno == EACCES) {
        printf("%s: refused (%s)\n", what, strerror(errno));
        return 1;
    }
    printf("%s: %s\n", what, strerror(errno));
    return 2;
}

/* The "shocker" escape: a file handle names an inode of the whole filesystem, and
 * open_by_handle_at (CAP_DAC_READ_SEARCH) opens it whatever the caller's root. */
static int handle(void) {
    struct { struct file_handle h; unsigned char bytes[128]; } buffer = { .h.handle_bytes = 128 };
    int mount_id;
    if (name_to_handle_at(AT_FDCWD, "/", &buffer.h, &mount_id, 0) < 0) return verdict("name_to_handle_at", -1, 0);
    int root = open("/", O_RDONLY | O_DIRECTORY);
    return verdict("open_by_handle_at", open_by_handle_at(root, &buffer.h, O_RDONLY), 0);
}

/* A two-instruction kprobe program: loading any tracing program means reading the
 * host's kernel memory is one step away. */
static int bpf(void) {
    struct bpf_insn program[] = {
        { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
        { .code = BPF_JMP | BPF_EXIT },
    };
    union bpf_attr attr = { .prog_type = BPF_PROG_TYPE_KPROBE, .insns = (unsigned long)program, .insn_cnt = 2,
        .license = (unsigned long)"GPL" };
    return verdict("bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr), 0);
}

/* A counter of every task on CPU 0: the host's processes included. */
static int perf(void) {
    struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .size = sizeof attr, .config = PERF_COUNT_SW_CPU_CLOCK };
    return verdict("perf_event_open(cpu 0, all tasks)", syscall(SYS_perf_event_open, &attr, -1, 0, -1, 0), 0);
}

/* The user keyring of uid 0 is the host root's: keyrings are not namespaced. */
static int keyring(void) {
    return verdict("keyctl(user keyring)", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0), 0);
}

/* swapoff of a path that does not exist: ENOENT comes after the permission check. */
static int swap(void) { return verdict("swapoff", syscall(SYS_swapoff, "/nonexistent-ferry-probe"), ENOENT); }

/* acct of a path that does not exist: ENOENT comes after the permission check. */
static int accounting(void) { return verdict("acct", syscall(SYS_acct, "/nonexistent-ferry-probe"), ENOENT); }

/* FIFREEZE on the filesystem PATH is on, thawed at once: it acts on the whole
 * filesystem, every mount of it, the host's included. */
static int freeze(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return verdict("open", -1, 0);
    long result = ioctl(fd, FIFREEZE, 0);
    int saved = errno;
    if (result == 0) ioctl(fd, FITHAW, 0);
    errno = saved;
    return verdict("ioctl(FIFREEZE)", result, 0);
}

/* A network namespace of its own, whose fresh sysfs would be a new, writable superblock
 * with the host's global files in it. Gone with the probe. */
static int netns(void) { return verdict("unshare(CLONE_NEWNET)", unshare(CLONE_NEWNET), 0); }

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "freeze") == 0) return freeze(argv[2]);
    const struct { const char *name; int (*probe)(void); } probes[] = {
        { "handle", handle }, { "bpf", bpf }, { "perf", perf }, { "keyring", keyring }, { "swap", swap }, { "acct", accounting }, { "netns", netns },
    };
    for (size_t i = 0; argc == 2 && i < sizeof probes / sizeof probes[0]; i++) {
        if (strcmp(argv[1], probes[i].name) == 0) return probes[i].probe();
    }
    fprintf(stderr, "usage: hostreach handle|bpf|perf|keyring|swap|acct|netns | freeze PATH\n");
    return 2;
}
