#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netpacket/packet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <endian.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/wait.h>

// Glibc's <sys/mount.h> clashes with <linux/mount.h>; declare the classic calls here.
extern int mount(const char *, const char *, const char *, unsigned long, const void *);
extern int umount2(const char *, int);

_Static_assert(sizeof(struct open_how) == 24, "open_how layout");
_Static_assert(sizeof(struct mount_attr) == 32, "mount_attr layout");
_Static_assert(sizeof(struct loop_config) == 304, "loop_config layout");

int fy_clone_fork(uint64_t flags) {
    return (int)syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, NULL, NULL, NULL);
}

int fy_pipe2_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int fy_execvpe(const char *file, char *const argv[], char *const envp[]) {
    return execvpe(file, argv, envp);
}
int fy_spawn_actions_closefrom(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, from);
}
const short FY_POSIX_SPAWN_SETSID = POSIX_SPAWN_SETSID;
int fy_sethostname(const char *name, size_t length) { return sethostname(name, length); }

int fy_setns(int fd, int nstype) { return setns(fd, nstype); }
int fy_pidfd_open(int pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}
int fy_pidfd_send_signal(int pidfd, int sig, unsigned int flags) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}
int fy_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    return (int)syscall(SYS_close_range, first, last, flags);
}
int fy_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
int fy_capbset_drop(int capability) { return prctl(PR_CAPBSET_DROP, capability, 0, 0, 0); }

int fy_bpf_prog_load(uint32_t type, uint32_t expected_attach_type, const uint8_t *code, const uint8_t *registers,
                     const int16_t *offset, const int32_t *immediate, uint32_t count, char *log, uint32_t log_size) {
    struct bpf_insn program[count > 0 ? count : 1];
    for (uint32_t i = 0; i < count; i++) {
        program[i] = (struct bpf_insn){ .code = code[i], .dst_reg = registers[i] & 0xf, .src_reg = registers[i] >> 4,
                                        .off = offset[i], .imm = immediate[i] };
    }
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = type;
    attr.expected_attach_type = expected_attach_type;
    attr.insns = (uint64_t)(uintptr_t)program;
    attr.insn_cnt = count;
    attr.license = (uint64_t)(uintptr_t)"GPL";
    if (log && log_size) {
        log[0] = 0;
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
}

int fy_bpf_prog_attach(int prog_fd, int target_fd, uint32_t attach_type, uint32_t flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = target_fd;
    attr.attach_bpf_fd = prog_fd;
    attr.attach_type = attach_type;
    attr.attach_flags = flags;
    return (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
}

int fy_seccomp_filter(const uint16_t *code, const uint8_t *jt, const uint8_t *jf, const uint32_t *k, unsigned short count) {
    struct sock_filter program[count > 0 ? count : 1];
    for (unsigned short i = 0; i < count; i++) {
        program[i] = (struct sock_filter){ .code = code[i], .jt = jt[i], .jf = jf[i], .k = k[i] };
    }
    struct sock_fprog filter = { .len = count, .filter = program };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter);
}

int fy_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}
int fy_open_tree(int dirfd, const char *path, unsigned int flags) {
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}
int fy_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                  unsigned int flags) {
    return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags);
}
int fy_mount_setattr(int dirfd, const char *path, unsigned int flags, uint64_t attr_set,
                     uint64_t attr_clr, uint64_t propagation) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attr_set;
    attr.attr_clr = attr_clr;
    attr.propagation = propagation;
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof attr);
}
int fy_mount_set_idmap(int mount_fd, int userns_fd) {
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns_fd;
    return (int)syscall(SYS_mount_setattr, mount_fd, "", AT_EMPTY_PATH, &attr, sizeof attr);
}

static int fy_write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t length = (ssize_t)strlen(text);
    ssize_t written = write(fd, text, (size_t)length);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == length ? 0 : -1;
}

int fy_mapped_userns(unsigned int base, unsigned int count) {
    int ready[2], hold[2];
    if (pipe2(ready, O_CLOEXEC) != 0) return -1;
    if (pipe2(hold, O_CLOEXEC) != 0) { close(ready[0]); close(ready[1]); return -1; }
    pid_t child = fork();
    if (child < 0) { int saved = errno; close(ready[0]); close(ready[1]); close(hold[0]); close(hold[1]); errno = saved; return -1; }
    if (child == 0) {
        // Only async-signal-safe calls from here: the parent may have threads.
        close(ready[0]);
        close(hold[1]);  // or the read below would never see the parent's end close
        char byte = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
        (void)!write(ready[1], &byte, 1);
        (void)!read(hold[0], &byte, 1);  // until the parent has the namespace open
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    char byte = 'n', path[64], map[64];
    int result = -1, saved = 0;
    if (read(ready[0], &byte, 1) == 1 && byte == 'y') {
        snprintf(map, sizeof map, "0 %u %u\n", base, count);
        snprintf(path, sizeof path, "/proc/%d/uid_map", (int)child);
        if (fy_write_file(path, map) == 0) {
            snprintf(path, sizeof path, "/proc/%d/gid_map", (int)child);
            if (fy_write_file(path, map) == 0) {
                snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
                result = open(path, O_RDONLY | O_CLOEXEC);
            }
        }
    } else {
        errno = EPERM;
    }
    saved = errno;
    close(hold[1]);  // the child ends
    close(ready[0]);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
    errno = saved;
    return result;
}

int fy_fsopen(const char *fsname, unsigned int flags) {
    return (int)syscall(SYS_fsopen, fsname, flags);
}
int fy_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux) {
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
int fy_fsmount(int fd, unsigned int flags, unsigned int attr_flags) {
    return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}
int fy_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
             const char *data) {
    return mount(source, target, fstype, flags, data);
}
int fy_umount2(const char *target, int flags) { return umount2(target, flags); }

int fy_cached_file_type(int fd) {
    struct statx status;
    if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &status) != 0) return -1;
    return status.stx_mode & S_IFMT;
}

int fy_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

int fy_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

const uint64_t FY_CLONE_NEWNS = CLONE_NEWNS, FY_CLONE_NEWPID = CLONE_NEWPID,
               FY_CLONE_NEWUTS = CLONE_NEWUTS, FY_CLONE_NEWIPC = CLONE_NEWIPC,
               FY_CLONE_NEWNET = CLONE_NEWNET, FY_CLONE_NEWCGROUP = CLONE_NEWCGROUP,
               FY_CLONE_NEWUSER = CLONE_NEWUSER, FY_CLONE_NEWTIME = 0x80 /* CLONE_NEWTIME */;

const unsigned int FY_OPEN_TREE_CLONE = OPEN_TREE_CLONE, FY_OPEN_TREE_CLOEXEC = OPEN_TREE_CLOEXEC,
                   FY_AT_RECURSIVE = AT_RECURSIVE, FY_AT_EMPTY_PATH = AT_EMPTY_PATH,
                   FY_AT_SYMLINK_NOFOLLOW = AT_SYMLINK_NOFOLLOW;
const unsigned int FY_MOVE_MOUNT_F_EMPTY_PATH = MOVE_MOUNT_F_EMPTY_PATH,
                   FY_MOVE_MOUNT_T_EMPTY_PATH = MOVE_MOUNT_T_EMPTY_PATH,
                   FY_MOVE_MOUNT_SET_GROUP = MOVE_MOUNT_SET_GROUP;
const uint64_t FY_MOUNT_ATTR_RDONLY = MOUNT_ATTR_RDONLY, FY_MOUNT_ATTR_NOSUID = MOUNT_ATTR_NOSUID,
               FY_MOUNT_ATTR_NODEV = MOUNT_ATTR_NODEV, FY_MOUNT_ATTR_NOEXEC = MOUNT_ATTR_NOEXEC;
const unsigned int FY_FSOPEN_CLOEXEC = FSOPEN_CLOEXEC, FY_FSMOUNT_CLOEXEC = FSMOUNT_CLOEXEC;
const unsigned int FY_FSCONFIG_SET_FLAG = FSCONFIG_SET_FLAG,
                   FY_FSCONFIG_SET_STRING = FSCONFIG_SET_STRING,
                   FY_FSCONFIG_CMD_CREATE = FSCONFIG_CMD_CREATE;
const uint64_t FY_RESOLVE_NO_XDEV = RESOLVE_NO_XDEV, FY_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS,
               FY_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS, FY_RESOLVE_BENEATH = RESOLVE_BENEATH,
               FY_RESOLVE_IN_ROOT = RESOLVE_IN_ROOT;
const unsigned long FY_MS_BIND = MS_BIND, FY_MS_REC = MS_REC, FY_MS_PRIVATE = MS_PRIVATE,
                    FY_MS_SLAVE = MS_SLAVE, FY_MS_SHARED = MS_SHARED, FY_MS_RDONLY = MS_RDONLY,
                    FY_MS_NOSUID = MS_NOSUID, FY_MS_NODEV = MS_NODEV, FY_MS_NOEXEC = MS_NOEXEC,
                    FY_MS_REMOUNT = MS_REMOUNT;
const int FY_MNT_DETACH = 2; // MNT_DETACH, from <sys/mount.h>, which clashes with <linux/mount.h>

int fy_loop_get_free(int control_fd) { return ioctl(control_fd, LOOP_CTL_GET_FREE); }

int fy_loop_configure(int loop_fd, int backing_fd, int read_only) {
    struct loop_config config;
    memset(&config, 0, sizeof config);
    config.fd = (uint32_t)backing_fd;
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR | (read_only ? LO_FLAGS_READ_ONLY : 0);
    return ioctl(loop_fd, LOOP_CONFIGURE, &config);
}



int fy_interface_up(const char *name) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    int result = ioctl(fd, SIOCGIFFLAGS, &request);
    if (result == 0) {
        request.ifr_flags |= IFF_UP;
        result = ioctl(fd, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

// glibc reserves two real-time signals for itself, so SIGRTMIN is 34 on Linux.
const int FY_SIGRTMIN = 34;
const int FY_O_PATH = O_PATH;
const int FY_O_DIRECT = O_DIRECT;

int fy_userfaultfd_probe(void) {
    return (int)syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
}

int fy_pty_unlock(int master_fd) {
    int unlock = 0;
    return ioctl(master_fd, TIOCSPTLCK, &unlock);
}

int fy_pty_peer(int master_fd, int flags) {
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
    return ioctl(master_fd, TIOCGPTPEER, flags);
}

int fy_pty_unread_input(int master_fd) {
    int peer = fy_pty_peer(master_fd, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (peer < 0) return -1;
    int count = 0;
    int result = ioctl(peer, FIONREAD, &count);
    close(peer);
    return result == 0 ? count : -1;
}

int fy_become_root(void) {
    if (setgroups(0, NULL) != 0) return -1;
    if (setresgid(0, 0, 0) != 0) return -1;
    return setresuid(0, 0, 0);
}

static unsigned long fy_shift_offset;

// A POSIX ACL as the kernel stores it in its xattr: a version, then entries; those of a
// named user or group carry an id, which a shift must move with the owners.
enum { FY_ACL_HEADER = 4, FY_ACL_ENTRY = 8, FY_ACL_USER = 0x02, FY_ACL_GROUP = 0x08, FY_ACL_MAX = 4 + 8 * 1024 };

static int fy_shift_acl(const char *path, const char *name) {
    unsigned char acl[FY_ACL_MAX];
    ssize_t size = lgetxattr(path, name, acl, sizeof acl);
    if (size < 0) return (errno == ENODATA || errno == ENOTSUP) ? 0 : -1;
    if (size < FY_ACL_HEADER || (size - FY_ACL_HEADER) % FY_ACL_ENTRY != 0) { errno = EINVAL; return -1; }
    for (ssize_t at = FY_ACL_HEADER; at < size; at += FY_ACL_ENTRY) {
        uint16_t tag;
        uint32_t id;
        memcpy(&tag, acl + at, sizeof tag);
        memcpy(&id, acl + at + 4, sizeof id);
        if (le16toh(tag) != FY_ACL_USER && le16toh(tag) != FY_ACL_GROUP) continue;
        id = htole32(le32toh(id) + (uint32_t)fy_shift_offset);
        memcpy(acl + at + 4, &id, sizeof id);
    }
    return lsetxattr(path, name, acl, (size_t)size, XATTR_REPLACE);
}

static int fy_shift_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw) {
    (void)flag; (void)ftw;
    // chown drops a file's capabilities: keep them (as the host's root writes them, they
    // hold in every user namespace).
    unsigned char capability[64];
    ssize_t capabilitySize = S_ISREG(info->st_mode) ? lgetxattr(path, "security.capability", capability, sizeof capability) : -1;
    if (lchown(path, info->st_uid + fy_shift_offset, info->st_gid + fy_shift_offset) != 0) return -1;
    if (capabilitySize > 0 && lsetxattr(path, "security.capability", capability, (size_t)capabilitySize, 0) != 0) return -1;
    if (!S_ISLNK(info->st_mode) && fy_shift_acl(path, "system.posix_acl_access") != 0) return -1;
    if (S_ISDIR(info->st_mode) && fy_shift_acl(path, "system.posix_acl_default") != 0) return -1;
    // chown clears set-user-id and set-group-id on files: put the mode back.
    if (!S_ISLNK(info->st_mode) && (info->st_mode & (S_ISUID | S_ISGID)) != 0 && chmod(path, info->st_mode & 07777) != 0) return -1;
    return 0;
}

int fy_shift_ownership(const char *path, unsigned long offset) {
    fy_shift_offset = offset;
    return nftw(path, fy_shift_entry, 64, FTW_PHYS | FTW_MOUNT);
}

int fy_set_controlling_terminal(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

int fy_copy_window_size(int from, int to) {
    struct winsize size;
    if (ioctl(from, TIOCGWINSZ, &size) != 0) return -1;
    return ioctl(to, TIOCSWINSZ, &size);
}

// Tells a network where an address now lives, from inside the network namespace `netns_fd`
// (only the calling thread enters it, and it comes back before returning): an unsolicited
// neighbour advertisement with the override flag (IPv6) or a gratuitous ARP request (IPv4),
// sent out of `ifname` from `mac`. Switches learn the port, peers refresh their caches.
static int fy_send_announcement(const char *ifname, const unsigned char mac[6], const unsigned char *address, int family) {
    unsigned int index = if_nametoindex(ifname);
    if (index == 0) return -1;
    if (family == AF_INET6) {
        int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
        if (fd < 0) return -1;
        int hops = 255;  // RFC 4861: receivers drop neighbour discovery with any other hop limit
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof index);
        struct sockaddr_in6 source = {.sin6_family = AF_INET6};
        memcpy(&source.sin6_addr, address, 16);
        int result = bind(fd, (struct sockaddr *)&source, sizeof source);
        unsigned char packet[sizeof(struct nd_neighbor_advert) + 8];
        memset(packet, 0, sizeof packet);
        struct nd_neighbor_advert *advert = (struct nd_neighbor_advert *)packet;
        advert->nd_na_type = ND_NEIGHBOR_ADVERT;
        advert->nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
        memcpy(&advert->nd_na_target, address, 16);
        unsigned char *option = packet + sizeof *advert;
        option[0] = ND_OPT_TARGET_LINKADDR;
        option[1] = 1;  // in units of 8 bytes
        memcpy(option + 2, mac, 6);
        struct sockaddr_in6 all_nodes = {.sin6_family = AF_INET6, .sin6_scope_id = index};
        inet_pton(AF_INET6, "ff02::1", &all_nodes.sin6_addr);
        if (result == 0 && sendto(fd, packet, sizeof packet, 0, (struct sockaddr *)&all_nodes, sizeof all_nodes) < 0) result = -1;
        int saved = errno;
        close(fd);
        errno = saved;
        return result;
    }
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (fd < 0) return -1;
    unsigned char packet[28] = {0, 1, 8, 0, 6, 4, 0, 1};  // Ethernet, IPv4, request
    memcpy(packet + 8, mac, 6);
    memcpy(packet + 14, address, 4);
    memcpy(packet + 24, address, 4);  // target = sender: gratuitous
    struct sockaddr_ll broadcast = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP), .sll_ifindex = (int)index, .sll_halen = 6};
    memset(broadcast.sll_addr, 0xff, 6);
    int result = sendto(fd, packet, sizeof packet, 0, (struct sockaddr *)&broadcast, sizeof broadcast) < 0 ? -1 : 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

int fy_announce_address(int netns_fd, const char *ifname, const unsigned char mac[6], const unsigned char *address, int family) {
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) return -1;
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
        int saved = errno;
        close(home);
        errno = saved;
        return -1;
    }
    int result = fy_send_announcement(ifname, mac, address, family);
    int saved = errno;
    if (setns(home, CLONE_NEWNET) != 0) abort();  // this thread must never stay in a container's network
    close(home);
    errno = saved;
    return result;
}

// Makes an established TCP socket of another process (fd `fd` of the process behind
// `pidfd`) send a window probe at once: repair mode on and off again, as CRIU does at the
// end of a restore. The peer answers, and both sides retransmit what a closed network lost
// without waiting out their backed-off timers. 1: kicked; 0: not an established TCP socket.
int fy_tcp_kick(int pidfd, int fd) {
    int socket_fd = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    if (socket_fd < 0) return -1;
    int protocol = 0, result = 0;
    socklen_t length = sizeof protocol;
    struct tcp_info info;
    socklen_t info_length = sizeof info;
    if (getsockopt(socket_fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) == 0 && protocol == IPPROTO_TCP
        && getsockopt(socket_fd, IPPROTO_TCP, TCP_INFO, &info, &info_length) == 0 && info.tcpi_state == TCP_ESTABLISHED) {
        int on = 1, off = 0;
        result = setsockopt(socket_fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) == 0
            && setsockopt(socket_fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off) == 0 ? 1 : -1;
    }
    int saved = errno;
    close(socket_fd);
    errno = saved;
    return result;
}

// --- interruption ----------------------------------------------------------------------
//
// Ctrl-C, SIGTERM or SIGHUP during a migration must lead to its rollback, not to a ferry
// dead half-way. The handler records the first signal and, while ferry still may cancel,
// ends the helpers registered as cancellable (their process groups, SIGTERM): the step
// that waits on them fails at once and the rollback follows. Only async-signal-safe calls.

#define FY_HELPER_SLOTS 64
static volatile sig_atomic_t fy_interrupt_number;
static volatile sig_atomic_t fy_interrupt_cancelling = 1;
static volatile sig_atomic_t fy_helper_groups[FY_HELPER_SLOTS];

static void fy_end_helpers(void) {
    for (int i = 0; i < FY_HELPER_SLOTS; i++) {
        pid_t group = fy_helper_groups[i];
        if (group > 0) kill(-group, SIGTERM);
    }
}

static void fy_on_interrupt(int sig) {
    int saved = errno;
    if (fy_interrupt_number == 0) fy_interrupt_number = sig;
    if (fy_interrupt_cancelling) {
        fy_end_helpers();
    } else {
        static const char note[] = "ferry: finishing what must not be left half-done; wait for it\n";
        (void)!write(2, note, sizeof note - 1);
    }
    errno = saved;
}

int fy_interrupt_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = fy_on_interrupt;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    int signals[] = {SIGINT, SIGTERM, SIGHUP};
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        sigaddset(&action.sa_mask, signals[i]);
    }
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigaction(signals[i], &action, NULL) != 0) return -1;
    }
    return 0;
}

int fy_interrupt_signal(void) { return fy_interrupt_number; }

void fy_interrupt_set_cancelling(int cancelling) { fy_interrupt_cancelling = cancelling; }

void fy_interrupt_register_group(int group) {
    for (int i = 0; i < FY_HELPER_SLOTS; i++) {
        if (__sync_bool_compare_and_swap(&fy_helper_groups[i], 0, group)) break;
    }
    // Started after the signal came: it is ended as the others were.
    if (fy_interrupt_number != 0 && fy_interrupt_cancelling) kill(-group, SIGTERM);
}

void fy_interrupt_unregister_group(int group) {
    for (int i = 0; i < FY_HELPER_SLOTS; i++) {
        if (__sync_bool_compare_and_swap(&fy_helper_groups[i], group, 0)) break;
    }
}

const short FY_POSIX_SPAWN_SETPGROUP = POSIX_SPAWN_SETPGROUP;

// --- signals as bytes on a pipe --------------------------------------------------------
//
// `ferry exec` relays a command's stdio with poll(2); the signals it must pass on (SIGTERM,
// SIGHUP, SIGWINCH) reach that loop as bytes on a pipe. A handler, not a blocked signal
// read through signalfd: a blocked signal still kills through any thread that does not
// block it, and only the calling thread's mask can be set.

static volatile sig_atomic_t fy_signal_pipe_fd = -1;

static void fy_on_piped_signal(int sig) {
    int saved = errno;
    unsigned char number = (unsigned char)sig;
    if (fy_signal_pipe_fd >= 0) (void)!write(fy_signal_pipe_fd, &number, 1);
    errno = saved;
}

int fy_signal_pipe_catch(int write_fd, int sig) {
    fy_signal_pipe_fd = write_fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = fy_on_piped_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    return sigaction(sig, &action, NULL);
}

int fy_fanotify_init(unsigned int flags, unsigned int event_flags) {
    return fanotify_init(flags, event_flags);
}
int fy_fanotify_mark(int fd, unsigned int flags, uint64_t mask, int dirfd, const char *path) {
    return fanotify_mark(fd, flags, mask, dirfd, path);
}
int fy_open_by_handle_at(int mount_fd, const void *handle, int flags) {
    return open_by_handle_at(mount_fd, (struct file_handle *)handle, flags);
}
int fy_handle_of_descriptor(int fd, void *handle) {
    int mount_id;
    return name_to_handle_at(fd, "", (struct file_handle *)handle, &mount_id, AT_EMPTY_PATH);
}
const unsigned int FY_FAN_CLASS_NOTIF = FAN_CLASS_NOTIF, FY_FAN_CLOEXEC = FAN_CLOEXEC,
    FY_FAN_NONBLOCK = FAN_NONBLOCK, FY_FAN_UNLIMITED_QUEUE = FAN_UNLIMITED_QUEUE,
    FY_FAN_REPORT_FID = FAN_REPORT_FID, FY_FAN_REPORT_DFID_NAME = FAN_REPORT_DFID_NAME;
const unsigned int FY_FAN_MARK_ADD = FAN_MARK_ADD, FY_FAN_MARK_FILESYSTEM = FAN_MARK_FILESYSTEM;
_Static_assert(sizeof(struct fanotify_event_metadata) == 24, "fanotify_event_metadata layout");
_Static_assert(sizeof(struct fanotify_event_info_fid) == 12, "fanotify_event_info_fid layout");
