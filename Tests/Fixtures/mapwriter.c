/* Writes a counter into a file through a shared writable mapping, never through write(2):
 * its changes raise no fanotify event, so the frozen-phase sync must copy the whole area.
 * Usage: mapwriter FILE. Touches FILE.ready once the mapping is live. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0) return 1;
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (page == MAP_FAILED) return 1;
    close(fd);
    char ready[4096];
    snprintf(ready, sizeof ready, "%s.ready", argv[1]);
    close(open(ready, O_WRONLY | O_CREAT, 0644));
    struct timespec pause = {0, 5 * 1000 * 1000};
    for (unsigned long count = 1;; count++) {
        snprintf(page, 64, "%lu\n", count);
        nanosleep(&pause, NULL);
    }
}
