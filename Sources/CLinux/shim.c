#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int fy_set_controlling_terminal(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

int fy_copy_window_size(int from, int to) {
    struct winsize size;
    if (ioctl(from, TIOCGWINSZ, &size) != 0) return -1;
    return ioctl(to, TIOCSWINSZ, &size);
}
