// Thin wrappers for Linux system calls that Glibc's Swift module map does not expose.
// Each returns what the raw syscall returns (-1 and errno on failure); Swift code wraps
// them in FerrySystem with typed flags and errors. Every symbol is prefixed `fy_`.
#ifndef FERRY_CLINUX_H
#define FERRY_CLINUX_H

// Only compiler headers here: a libc type (pid_t, mode_t) declared through this module
// would belong to it, and FerrySystem, which imports it internally, could not use that
// type in its public API. Process ids are plain ints, as pid_t is on Linux.
#include <stddef.h>
#include <stdint.h>

// --- process creation ---------------------------------------------------------------

/// fork(2) with namespace flags: the raw clone(2) syscall with a NULL stack, so the child
/// continues like a forked one. Only async-signal-safe work may follow in the child.
int fy_clone_fork(uint64_t flags);

int fy_setns(int fd, int nstype);
int fy_pidfd_open(int pid, unsigned int flags);
int fy_pidfd_send_signal(int pidfd, int sig, unsigned int flags);
int fy_close_range(unsigned int first, unsigned int last, unsigned int flags);
int fy_set_child_subreaper(void);
int fy_capbset_drop(int capability);
/// bpf(BPF_PROG_LOAD) of a GPL program of `type` given as four parallel arrays (struct
/// bpf_insn's fields, the registers packed dst | src << 4), the verifier's log into `log`.
int fy_bpf_prog_load(uint32_t type, uint32_t expected_attach_type, const uint8_t *code, const uint8_t *registers,
                     const int16_t *offset, const int32_t *immediate, uint32_t count, char *log, uint32_t log_size);
/// bpf(BPF_PROG_ATTACH) of a loaded program to a cgroup directory open as `target_fd`.
int fy_bpf_prog_attach(int prog_fd, int target_fd, uint32_t attach_type, uint32_t flags);
/// seccomp(SECCOMP_SET_MODE_FILTER) with a classic-BPF program given as four parallel
/// arrays (struct sock_filter's fields), so no kernel type crosses into Swift. Without
/// no_new_privs: the caller holds CAP_SYS_ADMIN in its user namespace.
int fy_seccomp_filter(const uint16_t *code, const uint8_t *jt, const uint8_t *jf, const uint32_t *k, unsigned short count);

// --- GNU extensions (Swift imports Glibc without _GNU_SOURCE) ---------------------------

int fy_pipe2_cloexec(int fds[2]);
int fy_execvpe(const char *file, char *const argv[], char *const envp[]);
struct __posix_spawn_file_actions;
/// posix_spawn_file_actions_addclosefrom_np on an opaque posix_spawn_file_actions_t.
int fy_spawn_actions_closefrom(void *actions, int from);
extern const short FY_POSIX_SPAWN_SETSID;
extern const int FY_SIGRTMIN;
extern const int FY_O_PATH;
extern const int FY_O_DIRECT;
/// userfaultfd(2) in user-mode-only, the flavour any caller may open.
int fy_userfaultfd_probe(void);
int fy_sethostname(const char *name, size_t length);

// --- mounts --------------------------------------------------------------------------

int fy_pivot_root(const char *new_root, const char *put_old);
int fy_open_tree(int dirfd, const char *path, unsigned int flags);
int fy_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                  unsigned int flags);
/// Makes the detached mount `mount_fd` idmapped through user namespace `userns_fd`
/// (mount_setattr with MOUNT_ATTR_IDMAP).
int fy_mount_set_idmap(int mount_fd, int userns_fd);
/// A user namespace with `0 base count` as uid and gid map, as an open /proc/PID/ns/user
/// descriptor (its short-lived process is gone on return), or -1 with errno. Safe to call
/// from a process with threads (the child calls only async-signal-safe functions).
int fy_mapped_userns(unsigned int base, unsigned int count);
int fy_mount_setattr(int dirfd, const char *path, unsigned int flags, uint64_t attr_set,
                     uint64_t attr_clr, uint64_t propagation);
int fy_fsopen(const char *fsname, unsigned int flags);
int fy_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
int fy_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
int fy_mount(const char *source, const char *target, const char *fstype,
             unsigned long flags, const char *data);
int fy_umount2(const char *target, int flags);

/// renameat2(2), which glibc declares only under _GNU_SOURCE.
int fy_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

/// The file type bits (S_IFMT) of `fd` from statx(2) with AT_STATX_DONT_SYNC: what the
/// kernel already knows, with no trip to a network filesystem's server. -1 on failure.
int fy_cached_file_type(int fd);

/// openat2(2) with the `how` fields spelled out.
int fy_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

// --- constants (named here so Swift need not import the conflicting kernel headers) -----

extern const uint64_t FY_CLONE_NEWNS, FY_CLONE_NEWPID, FY_CLONE_NEWUTS, FY_CLONE_NEWIPC,
    FY_CLONE_NEWNET, FY_CLONE_NEWCGROUP, FY_CLONE_NEWUSER, FY_CLONE_NEWTIME;

extern const unsigned int FY_OPEN_TREE_CLONE, FY_OPEN_TREE_CLOEXEC, FY_AT_RECURSIVE,
    FY_AT_EMPTY_PATH, FY_AT_SYMLINK_NOFOLLOW;
extern const unsigned int FY_MOVE_MOUNT_F_EMPTY_PATH, FY_MOVE_MOUNT_T_EMPTY_PATH,
    FY_MOVE_MOUNT_SET_GROUP;
extern const uint64_t FY_MOUNT_ATTR_RDONLY, FY_MOUNT_ATTR_NOSUID, FY_MOUNT_ATTR_NODEV,
    FY_MOUNT_ATTR_NOEXEC;
extern const unsigned int FY_FSOPEN_CLOEXEC, FY_FSMOUNT_CLOEXEC;
extern const unsigned int FY_FSCONFIG_SET_FLAG, FY_FSCONFIG_SET_STRING, FY_FSCONFIG_CMD_CREATE;
extern const uint64_t FY_RESOLVE_NO_XDEV, FY_RESOLVE_NO_MAGICLINKS, FY_RESOLVE_NO_SYMLINKS,
    FY_RESOLVE_BENEATH, FY_RESOLVE_IN_ROOT;
extern const unsigned long FY_MS_BIND, FY_MS_REC, FY_MS_PRIVATE, FY_MS_SLAVE, FY_MS_SHARED,
    FY_MS_RDONLY, FY_MS_NOSUID, FY_MS_NODEV, FY_MS_NOEXEC, FY_MS_REMOUNT;
extern const int FY_MNT_DETACH;

// --- loop devices --------------------------------------------------------------------

/// Asks /dev/loop-control for a free loop device number.
int fy_loop_get_free(int control_fd);
/// Attaches `backing_fd` to the loop device `loop_fd` in one LOOP_CONFIGURE call, with
/// autoclear so the device detaches itself once the last user (the mount) is gone.
int fy_loop_configure(int loop_fd, int backing_fd, int read_only);

// --- pseudo-terminals -----------------------------------------------------------------

/// Unlocks the slave of a pty master (TIOCSPTLK 0).
int fy_pty_unlock(int master_fd);
/// Opens the slave of `master_fd` without a path lookup (TIOCGPTPEER): the peer of *this*
/// master on *its* devpts instance, whatever the container did to /dev/pts.
int fy_pty_peer(int master_fd, int flags);
/// How many bytes written to `master_fd` its reader has not read yet (FIONREAD on a peer
/// opened for the question and closed again), or -1.
int fy_pty_unread_input(int master_fd);
/// In a user namespace whose map the parent wrote: become its root (no supplementary
/// groups, gid 0, uid 0), so that files and processes belong to the mapped range.
int fy_become_root(void);
/// Adds `offset` to the owner and group of every entry under `path` (not following
/// symlinks, not crossing mounts) and to the ids named in its POSIX ACLs, keeping set-id
/// bits and file capabilities. Not thread-safe (nftw callback).
int fy_shift_ownership(const char *path, unsigned long offset);
/// Makes `fd` (a terminal) the caller's controlling terminal (TIOCSCTTY).
int fy_set_controlling_terminal(int fd);
/// Copies the window size of terminal `from` to terminal `to` (TIOCGWINSZ, TIOCSWINSZ).
int fy_copy_window_size(int from, int to);

// --- networking ----------------------------------------------------------------------

/// Sets IFF_UP on the named interface in the caller's network namespace.
int fy_interface_up(const char *name);
int fy_tcp_kick(int pidfd, int fd);
int fy_announce_address(int netns_fd, const char *ifname, const unsigned char mac[6], const unsigned char *address, int family);

// --- change tracking -------------------------------------------------------------------

int fy_fanotify_init(unsigned int flags, unsigned int event_flags);
int fy_fanotify_mark(int fd, unsigned int flags, uint64_t mask, int dirfd, const char *path);
/// open_by_handle_at(2) on a `struct file_handle` laid out by the caller (handle_bytes,
/// handle_type, then the bytes), as fanotify's info records carry it.
int fy_open_by_handle_at(int mount_fd, const void *handle, int flags);
/// name_to_handle_at(2) of the file `fd` is open on (AT_EMPTY_PATH), into `handle`
/// (a `struct file_handle` whose handle_bytes the caller set to the room after it).
int fy_handle_of_descriptor(int fd, void *handle);
extern const unsigned int FY_FAN_CLASS_NOTIF, FY_FAN_CLOEXEC, FY_FAN_NONBLOCK,
    FY_FAN_UNLIMITED_QUEUE, FY_FAN_REPORT_FID, FY_FAN_REPORT_DFID_NAME;
extern const unsigned int FY_FAN_MARK_ADD, FY_FAN_MARK_FILESYSTEM;

// --- interruption ----------------------------------------------------------------------

/// Installs the handler of SIGINT, SIGTERM and SIGHUP (SA_RESTART): it records the first
/// signal and, while cancelling, sends SIGTERM to every registered helper process group.
int fy_interrupt_install(void);
/// The first interrupting signal received, 0 for none.
int fy_interrupt_signal(void);
/// Whether an interruption still ends the registered helpers (off past the point of no
/// return and during a rollback, whose helpers must finish).
void fy_interrupt_set_cancelling(int cancelling);
void fy_interrupt_register_group(int group);
void fy_interrupt_unregister_group(int group);
extern const short FY_POSIX_SPAWN_SETPGROUP;

// --- signals as bytes on a pipe --------------------------------------------------------

/// Catches `sig` (SA_RESTART) with a handler that writes its number as one byte to
/// `write_fd` (non-blocking; a full pipe drops the byte), for a poll loop to read.
int fy_signal_pipe_catch(int write_fd, int sig);

#endif
