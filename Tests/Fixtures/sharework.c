/* sharework SHARE OTHER — a workload that lives on network shares, for the share tests.
 *
 * Its working directory is SHARE. It keeps open there: "log" for appending (one
 * sequence number per line), "data" for reading and mapped into memory, "posix" under
 * a POSIX write lock, "flocked" under a flock; and "log2" on the second share OTHER. Every
 * 20 ms it appends the next number to both logs and checks that the reads, the mapping,
 * the cwd and both locks are still what they were. /tmp/sharework (the container's own
 * rootfs) says "i=N ok" or "i=N FAIL why", replaced atomically, so a test reads its state
 * while it runs; the logs on the file server say whether a number was lost.
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

static void report(long i) {
    FILE *f = fopen("/tmp/sharework.tmp", "w");
    if (!f) return;
    if (failure[0]) fprintf(f, "i=%ld FAIL %s\n", i, failure);
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

    for (long i = 1;; i++) {
        char line[32];
        int length = snprintf(line, sizeof line, "%08ld\n", i);
        if (write(log, line, length) != length) fail("write log: %s", strerror(errno));
        if (write(log2, line, length) != length) fail("write log2: %s", strerror(errno));
        size_t offset = (size_t)(i * 4093) % (DATA_SIZE - 512);
        unsigned char chunk[512];
        if (pread(data, chunk, sizeof chunk, offset) != sizeof chunk) fail("read data: %s", strerror(errno));
        for (size_t k = 0; k < sizeof chunk; k++)
            if (chunk[k] != pattern(offset + k) || map[offset + k] != pattern(offset + k)) { fail("data differs at %zu", offset + k); break; }
        struct stat here;
        if (stat(".", &here) != 0 || here.st_ino != share.st_ino) fail("cwd is no longer the share's root");
        if (!holds_lock(posix, "POSIX")) fail("POSIX lock lost");
        if (!holds_lock(flocked, "FLOCK")) fail("flock lost");
        report(i);
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}
