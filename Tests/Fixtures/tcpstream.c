// A TCP stream whose every byte is checked, for the network tests.
//
//   tcpstream serve PORT                 echo server on [::]:PORT, one connection at a time
//   tcpstream stream ADDR PORT STATUS    client: sends a counting byte sequence, checks the
//                                        echo byte by byte, rewrites STATUS (received bytes)
//                                        every 50 ms; on SIGTERM drains what is in flight and
//                                        prints "sent N received N longest-pause MS"
//   tcpstream ping ADDR                  one ICMPv6 echo, exit 0 when answered within 2 s
//   tcpstream na ADDR SECONDS            waits for a neighbour advertisement of ADDR, prints
//                                        "na ADDR lladdr MAC override|no-override"; exit 1
//                                        when none came in time
//
// Any reset, mismatch or early end prints what happened and exits 1.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 65536  // bytes in flight at most

static volatile sig_atomic_t stopping;
static void on_term(int sig) { (void)sig; stopping = 1; }

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

static int serve(int port) {
    int listener = socket(AF_INET6, SOCK_STREAM, 0);
    int on = 1, off = 0;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    struct sockaddr_in6 address = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 4)) { perror("listen"); return 1; }
    for (;;) {
        int connection = accept(listener, NULL, NULL);
        if (connection < 0) continue;
        char buffer[65536];
        ssize_t n;
        while ((n = read(connection, buffer, sizeof buffer)) > 0) {
            for (ssize_t done = 0; done < n;) {
                ssize_t w = write(connection, buffer + done, n - done);
                if (w <= 0) break;
                done += w;
            }
        }
        close(connection);
    }
}

static void write_status(const char *path, unsigned long long received) {
    char temporary[4096];
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *f = fopen(temporary, "w");
    if (!f) return;
    fprintf(f, "%llu\n", received);
    fclose(f);
    rename(temporary, path);
}

static int stream(const char *host, int port, const char *status) {
    struct sockaddr_in6 address = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    if (inet_pton(AF_INET6, host, &address.sin6_addr) != 1) { fprintf(stderr, "bad address %s\n", host); return 1; }
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&address, sizeof address)) { perror("connect"); return 1; }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    unsigned long long sent = 0, received = 0;
    double last_byte = now_ms(), last_status = 0, longest = 0, drain_until = 0;
    unsigned char buffer[16384];
    for (;;) {
        double t = now_ms();
        if (stopping && drain_until == 0) drain_until = t + 10000;
        if (stopping && received == sent) break;
        if (drain_until && t > drain_until) { printf("lost: sent %llu received %llu\n", sent, received); return 1; }
        struct pollfd p = {.fd = fd, .events = POLLIN | (!stopping && sent - received < WINDOW ? POLLOUT : 0)};
        poll(&p, 1, 50);
        if (p.revents & POLLOUT) {
            size_t room = WINDOW - (sent - received);
            if (room > sizeof buffer) room = sizeof buffer;
            for (size_t i = 0; i < room; i++) buffer[i] = (unsigned char)((sent + i) % 251);
            ssize_t w = write(fd, buffer, room);
            if (w < 0 && errno != EAGAIN) { printf("write failed after %llu bytes: %s\n", sent, strerror(errno)); return 1; }
            if (w > 0) sent += w;
        }
        if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t n = read(fd, buffer, sizeof buffer);
            if (n == 0) { printf("connection closed after %llu bytes\n", received); return 1; }
            if (n < 0 && errno != EAGAIN) { printf("read failed after %llu bytes: %s\n", received, strerror(errno)); return 1; }
            for (ssize_t i = 0; i < n; i++, received++) {
                if (buffer[i] != (unsigned char)(received % 251)) { printf("mismatch at byte %llu\n", received); return 1; }
            }
            if (n > 0) {
                t = now_ms();
                if (t - last_byte > longest) longest = t - last_byte;
                last_byte = t;
            }
        }
        if (now_ms() - last_status >= 50) {
            write_status(status, received);
            last_status = now_ms();
        }
    }
    write_status(status, received);
    printf("sent %llu received %llu longest-pause %.0f\n", sent, received, longest);
    return 0;
}

static int ping(const char *host) {
    struct sockaddr_in6 address = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET6, host, &address.sin6_addr) != 1) { fprintf(stderr, "bad address %s\n", host); return 1; }
    int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    if (fd < 0) { perror("socket"); return 1; }
    struct icmp6_hdr request = {.icmp6_type = ICMP6_ECHO_REQUEST};
    request.icmp6_id = htons(getpid() & 0xffff);
    request.icmp6_seq = htons(1);
    if (sendto(fd, &request, sizeof request, 0, (struct sockaddr *)&address, sizeof address) < 0) { perror("sendto"); return 1; }
    double deadline = now_ms() + 2000;
    while (now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        unsigned char reply[1500];
        struct sockaddr_in6 from;
        socklen_t length = sizeof from;
        ssize_t n = recvfrom(fd, reply, sizeof reply, 0, (struct sockaddr *)&from, &length);
        struct icmp6_hdr *header = (struct icmp6_hdr *)reply;
        if (n >= (ssize_t)sizeof *header && header->icmp6_type == ICMP6_ECHO_REPLY && header->icmp6_id == request.icmp6_id
            && memcmp(&from.sin6_addr, &address.sin6_addr, 16) == 0) {
            printf("reply from %s\n", host);
            return 0;
        }
    }
    printf("no reply from %s\n", host);
    return 1;
}

static int await_advertisement(const char *host, int seconds) {
    struct in6_addr target;
    if (inet_pton(AF_INET6, host, &target) != 1) { fprintf(stderr, "bad address %s\n", host); return 1; }
    int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    if (fd < 0) { perror("socket"); return 1; }
    struct icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ND_NEIGHBOR_ADVERT, &filter);
    setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    printf("listening\n");
    fflush(stdout);
    double deadline = now_ms() + seconds * 1000.0;
    while (now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        unsigned char packet[1500];
        ssize_t n = recv(fd, packet, sizeof packet, 0);
        struct nd_neighbor_advert *advert = (struct nd_neighbor_advert *)packet;
        if (n < (ssize_t)sizeof *advert + 8 || advert->nd_na_type != ND_NEIGHBOR_ADVERT) continue;
        if (memcmp(&advert->nd_na_target, &target, 16) != 0) continue;
        unsigned char *option = packet + sizeof *advert;
        if (option[0] != ND_OPT_TARGET_LINKADDR) continue;
        printf("na %s lladdr %02x:%02x:%02x:%02x:%02x:%02x %s\n", host, option[2], option[3], option[4], option[5], option[6], option[7],
               (advert->nd_na_flags_reserved & ND_NA_FLAG_OVERRIDE) ? "override" : "no-override");
        return 0;
    }
    printf("no advertisement of %s\n", host);
    return 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "serve")) return serve(atoi(argv[2]));
    if (argc == 5 && !strcmp(argv[1], "stream")) return stream(argv[2], atoi(argv[3]), argv[4]);
    if (argc == 3 && !strcmp(argv[1], "ping")) return ping(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "na")) return await_advertisement(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: tcpstream serve PORT | stream ADDR PORT STATUS | ping ADDR | na ADDR SECONDS\n");
    return 2;
}
