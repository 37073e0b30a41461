/* A container init for checkpoint/restore tests: fills N MiB with random (incompressible)
 * bytes once, then forever counts upward, writing the count to /counter and a checksum
 * of the whole buffer (recomputed from memory each round) to /memsum. After a restore the
 * count must go on from where it was and the checksum must not change. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void write_file(const char *path, const char *text) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
    rename(tmp, path);
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 64;
    size_t size = mib << 20;
    unsigned char *buffer = malloc(size);
    int random = open("/dev/urandom", O_RDONLY);
    if (!buffer || random < 0) return 1;
    for (size_t done = 0; done < size;) {
        ssize_t n = read(random, buffer + done, size - done);
        if (n <= 0) return 1;
        done += (size_t)n;
    }
    close(random);
    char text[64];
    snprintf(text, sizeof text, "%d\n", getpid());
    write_file("/memhog.pid", text);
    for (uint64_t count = 1;; count++) {
        uint64_t hash = 1469598103934665603ULL;
        for (size_t i = 0; i < size; i += 8) hash = (hash ^ *(uint64_t *)(buffer + i)) * 1099511628211ULL;
        snprintf(text, sizeof text, "%016llx\n", (unsigned long long)hash);
        write_file("/memsum", text);
        snprintf(text, sizeof text, "%llu\n", (unsigned long long)count);
        write_file("/counter", text);
        usleep(100000);
    }
}
