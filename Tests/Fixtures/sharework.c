/* sharework SHARE OTHER — a workload that lives on network shares, for the share tests.
 *
 * Its working directory is SHARE. It keeps open there: "log" for appending (one
 * sequence number per line), "data" for reading and mapped into memory, "posix" under
 * a POSIX write lock, "flocked" under a flock; and "log2" on the second share OTHER. Every
 * 20 ms it appends the next number to both logs and checks that the reads, the mapping,
 * the cwd and both locks are still what they were. /tmp/sharework (the container's own
 * rootfs) says "i=N ok" or "i=N FAIL why", replaced atomically, so a test reads its state
 * while it runs; the logs on the file server say whether a number was lost.
 *
 * A share that is away fails I/O with EIO (sshfs) or ENOTCONN, or interrupts it (EINTR):
 * the workload then says "i=N waiting why" (N: the last number written to both logs) and
 * tries the same number again 20 ms later, as an application that must not lose a
 * record would. Any other failure is a FAIL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DATA_SIZE 65536

static char failure[256];

static void fail(const char *format, ...) {
    if (failure[0]) return;
    va_list args;
    va_start(args, format);
    vsnprintf(failure, sizeof failure, format, args);
    va_end(args);
}

static unsigned char pattern(size_t offset) { return (unsigned char)(offset * 7 + offset / 251); }

static int open_or_die(const char *path, int flags) {
    int fd = open(path, flags, 0644);
    if (fd < 0) { perror(path); exit(1); }
    return fd;
}

static int transient(int error) { return error == EIO || error == ENOTCONN || error == EINTR || error == ESTALE; }

static char waiting[256];

/* Writes the whole line, or says why not: 1 written, 0 to try again. */
static int write_line(int fd, const char *name, const char *line, int length) {
    ssize_t written = write(fd, line, length);
    if (written == length) return 1;
    if (written < 0 && transient(errno)) {
        snprintf(waiting, sizeof waiting, "write %s: %s", name, strerror(errno));
        return 0;
    }
    fail("write %s: %s", name, written < 0 ? strerror(errno) : "short write");
    return 1;
}

static void report(long i) {
    FILE *f = fopen("/tmp/sharework.tmp", "w");
    if (!f) return;
    if (failure[0]) fprintf(f, "i=%ld FAIL %s\n", i, failure);
    else if (waiting[0]) fprintf(f, "i=%ld waiting %s\n", i, waiting);
    else fprintf(f, "i=%ld ok\n", i);
    fclose(f);
    rename("/tmp/sharework.tmp", "/tmp/sharework");
}

/* Whether /proc/self/fdinfo/FD lists a lock of the given kind ("POSIX", "FLOCK"). */
static int holds_lock(int fd, const char *kind) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "lock:", 5) == 0 && strstr(line, kind) && strstr(line, "WRITE")) found = 1;
    fclose(f);
    return found;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: sharework SHARE OTHER\n"); return 2; }
    if (chdir(argv[1]) != 0) { perror(argv[1]); return 1; }
    struct stat share;
    if (stat(argv[1], &share) != 0) { perror(argv[1]); return 1; }

    /* The data file is written once; a restart finds it in place. */
    if (access("data", F_OK) != 0) {
        int fd = open_or_die("data.new", O_WRONLY | O_CREAT | O_TRUNC);
        static unsigned char buffer[DATA_SIZE];
        for (size_t k = 0; k < DATA_SIZE; k++) buffer[k] = pattern(k);
        if (write(fd, buffer, DATA_SIZE) != DATA_SIZE) { perror("data"); return 1; }
        close(fd);
        rename("data.new", "data");
    }
    int data = open_or_die("data", O_RDONLY);
    unsigned char *map = mmap(NULL, DATA_SIZE, PROT_READ, MAP_SHARED, data, 0);
    if (map == MAP_FAILED) { perror("mmap"); return 1; }
    int log = open_or_die("log", O_WRONLY | O_CREAT | O_APPEND);
    char other[4096];
    snprintf(other, sizeof other, "%s/log2", argv[2]);
    int log2 = open_or_die(other, O_WRONLY | O_CREAT | O_APPEND);
    int posix = open_or_die("posix", O_RDWR | O_CREAT);
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(posix, F_SETLK, &lock) != 0) { perror("F_SETLK"); return 1; }
    int flocked = open_or_die("flocked", O_RDWR | O_CREAT);
    if (flock(flocked, LOCK_EX | LOCK_NB) != 0) { perror("flock"); return 1; }

    int logged = 0, logged2 = 0;
    for (long i = 1;;) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        char line[32];
        int length = snprintf(line, sizeof line, "%08ld\n", i);
        waiting[0] = 0;
        if (!logged) logged = write_line(log, "log", line, length);
        if (!logged2) logged2 = write_line(log2, "log2", line, length);
        if (!logged || !logged2) {
            report(i - 1);
            nanosleep(&pause, NULL);
            continue;
        }
        size_t offset = (size_t)(i * 4093) % (DATA_SIZE - 512);
        unsigned char chunk[512];
        ssize_t got = pread(data, chunk, sizeof chunk, offset);
        if (got < 0 && transient(errno)) snprintf(waiting, sizeof waiting, "read data: %s", strerror(errno));
        else if (got != sizeof chunk) fail("read data: %s", got < 0 ? strerror(errno) : "short read");
        else
            for (size_t k = 0; k < sizeof chunk; k++)
                if (chunk[k] != pattern(offset + k) || map[offset + k] != pattern(offset + k)) { fail("data differs at %zu", offset + k); break; }
        struct stat here;
        if (stat(".", &here) != 0) {
            if (transient(errno)) snprintf(waiting, sizeof waiting, "stat cwd: %s", strerror(errno));
            else fail("stat cwd: %s", strerror(errno));
        } else if (here.st_ino != share.st_ino) fail("cwd is no longer the share's root");
        if (!holds_lock(posix, "POSIX")) fail("POSIX lock lost");
        if (!holds_lock(flocked, "FLOCK")) fail("flock lost");
        report(i);
        i++;
        logged = logged2 = 0;
        nanosleep(&pause, NULL);
    }
}
