// Ferry's guard: an LSM program (BPF) that keeps root in a hardened container off the
// host's kernel settings. See Sources/FerryContainers/ContainerGuard.swift for why.
// Built by scripts/generate-guard into Sources/CGuard/guard_object.c; CO-RE
// (preserve_access_index) lets libbpf fit the field offsets to the running kernel.

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define EPERM 1

// Only the fields read here; libbpf relocates each by name against the kernel's BTF.
struct ns_common { unsigned int inum; } __attribute__((preserve_access_index));
struct pid_namespace { struct pid_namespace *parent; struct ns_common ns; } __attribute__((preserve_access_index));
struct nsproxy { struct pid_namespace *pid_ns_for_children; } __attribute__((preserve_access_index));
struct task_struct { struct nsproxy *nsproxy; } __attribute__((preserve_access_index));
struct super_block { unsigned long s_magic; unsigned long s_flags; } __attribute__((preserve_access_index));
struct qstr { const unsigned char *name; } __attribute__((preserve_access_index));
struct dentry { struct dentry *d_parent; struct qstr d_name; struct super_block *d_sb; } __attribute__((preserve_access_index));
struct vfsmount { struct super_block *mnt_sb; int mnt_flags; } __attribute__((preserve_access_index));
struct path { struct vfsmount *mnt; struct dentry *dentry; } __attribute__((preserve_access_index));
struct inode { struct super_block *i_sb; } __attribute__((preserve_access_index));
struct file { struct path f_path; struct inode *f_inode; unsigned int f_mode; } __attribute__((preserve_access_index));

// Helpers by number (linux/bpf.h's enum bpf_func_id).
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_probe_read_kernel_str)(void *dst, u32 size, const void *unsafe) = (void *)115;
static struct task_struct *(*bpf_get_current_task_btf)(void) = (void *)158;

// The pid namespaces of the armed containers: a task is guarded when its pid namespace,
// or one of its ancestors, is here (a namespace it makes inside is guarded too).
#define BPF_MAP_TYPE_HASH 1
struct {
    int (*type)[BPF_MAP_TYPE_HASH];
    int (*max_entries)[4096];
    u32 *key;
    u8 *value;
} ferry_armed SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572
#define FMODE_WRITE 0x2
#define MNT_READONLY 0x40
#define SB_RDONLY 0x1
#define MS_RDONLY 0x1
#define MS_REMOUNT 0x20
#define MS_BIND 0x1000
#define MS_MOVE 0x2000
#define MS_PROPAGATION (0x20000 | 0x40000 | 0x80000 | 0x100000)

/// The pid namespace nesting limit (MAX_PID_NS_LEVEL).
#define LEVELS 33

static int guarded(void) {
    struct task_struct *task = bpf_get_current_task_btf();
    struct nsproxy *proxy = task->nsproxy;
    if (!proxy) return 0;
    struct pid_namespace *ns = proxy->pid_ns_for_children;
    for (int i = 0; i < LEVELS && ns; i++) {
        u32 inum = ns->ns.inum;
        if (bpf_map_lookup_elem(&ferry_armed, &inum)) return 1;
        ns = ns->parent;
    }
    return 0;
}

/// Filesystems that are one instance for the whole host (or show the host's kernel):
/// nothing in them is the container's.
static int hostWide(unsigned long magic) {
    switch (magic) {
    case 0x64626720: // debugfs
    case 0x74726163: // tracefs
    case 0x73636673: // securityfs
    case 0xcafe4a11: // bpf
    case 0x62656570: // configfs
    case 0x6165676c: // pstore
    case 0xde5e81e4: // efivarfs
    case 0x65735543: // fusectl
    case 0x42494e4d: // binfmt_misc
        return 1;
    }
    return 0;
}

#define NAME 16

static int same(const char *a, const char *b) {
    for (int i = 0; i < NAME; i++) {
        if (a[i] != b[i]) return 0;
        if (!a[i]) return 1;
    }
    return 1;
}

/// A /proc entry outside the processes' own directories that the container may read or
/// write as any file: SecurityProfile's rules, checked on the file itself, so they hold
/// however /proc is reached (a fresh proc, a bind of it, a mask unmounted).
static int procDenied(struct file *file) {
    // The names of the entry's first two components below the root of its proc.
    struct dentry *d = file->f_path.dentry;
    struct dentry *first = 0, *second = 0;
    for (int i = 0; i < 16; i++) {
        struct dentry *parent = d->d_parent;
        if (!parent || parent == d) break;
        second = first;
        first = d;
        d = parent;
    }
    if (!first) return 0;
    char top[NAME] = {}, below[NAME] = {};
    bpf_probe_read_kernel_str(top, NAME, first->d_name.name);
    int write = file->f_mode & FMODE_WRITE;
    if (same(top, "kcore") || same(top, "keys") || same(top, "timer_list") || same(top, "sched_debug"))
        return 1;
    if (!write) return 0;
    if (same(top, "sysrq-trigger") || same(top, "irq") || same(top, "bus")) return 1;
    if (!same(top, "sys")) return 0;
    if (!second) return 1;
    bpf_probe_read_kernel_str(below, NAME, second->d_name.name);
    return !same(below, "net");
}

SEC("lsm/file_open")
int ferry_file_open(u64 *ctx) {
    struct file *file = (struct file *)ctx[0];
    int previous = (int)ctx[1];
    if (previous) return previous;
    if (!guarded()) return 0;
    unsigned long magic = file->f_inode->i_sb->s_magic;
    if (hostWide(magic)) return -EPERM;
    if (magic == SYSFS_MAGIC && (file->f_mode & FMODE_WRITE)) return -EPERM;
    if (magic == PROC_SUPER_MAGIC && procDenied(file)) return -EPERM;
    return 0;
}

static int hostWideType(const char *type) {
    char name[NAME] = {};
    if (!type || bpf_probe_read_kernel_str(name, NAME, type) < 0) return 0;
    return same(name, "debugfs") || same(name, "tracefs") || same(name, "securityfs") || same(name, "bpf")
        || same(name, "configfs") || same(name, "pstore") || same(name, "efivarfs") || same(name, "fusectl")
        || same(name, "binfmt_misc");
}

SEC("lsm/sb_mount")
int ferry_sb_mount(u64 *ctx) {
    struct path *path = (struct path *)ctx[1];
    const char *type = (const char *)ctx[2];
    unsigned long flags = ctx[3];
    int previous = (int)ctx[5];
    if (previous) return previous;
    if (!guarded()) return 0;
    if (flags & MS_REMOUNT) {
        // A read-only /sys or /proc/sys made writable again.
        if (flags & MS_RDONLY) return 0;
        unsigned long magic = path->dentry->d_sb->s_magic;
        if (magic != PROC_SUPER_MAGIC && magic != SYSFS_MAGIC) return 0;
        int readOnly = (path->mnt->mnt_flags & MNT_READONLY) || (path->dentry->d_sb->s_flags & SB_RDONLY);
        return readOnly ? -EPERM : 0;
    }
    if (flags & (MS_BIND | MS_MOVE | MS_PROPAGATION)) return 0;
    return hostWideType(type) ? -EPERM : 0;
}

SEC("lsm/move_mount")
int ferry_move_mount(u64 *ctx) {
    struct path *from = (struct path *)ctx[0];
    int previous = (int)ctx[2];
    if (previous) return previous;
    if (!guarded()) return 0;
    return hostWide(from->dentry->d_sb->s_magic) ? -EPERM : 0;
}
