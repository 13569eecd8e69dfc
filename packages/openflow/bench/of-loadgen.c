/*
 * A cbench-style OpenFlow load generator for the controller benchmark (cbench.bench.ts compiles
 * it with gcc into a temporary folder). Each emulated switch connects to the controller, does the
 * HELLO / FEATURES handshake, announces one destination MAC on port 2 (an unbuffered gratuitous
 * ARP reply PACKET_IN), then sends PACKET_INs from port 1 to that destination with source MACs
 * cycling through `macs` addresses and buffer ids cycling like a switch's packet buffers.
 * FLOW_MODs (ADD / MODIFY_STRICT) and PACKET_OUTs received while measuring count as responses.
 *
 *   throughput mode: every switch keeps up to 64 KiB of PACKET_INs queued on its socket;
 *   latency mode:    every switch has one PACKET_IN outstanding and sends the next on its answer.
 *
 * Usage: of-loadgen PORT SWITCHES MACS MODE(throughput|latency) LOOP_MS LOOPS WARMUP_LOOPS VERSION(1|4)
 * Prints one line per loop ("loop N: R responses/s") and then "average: R responses/s" over the
 * loops after the warm-up ones. One thread, epoll, non-blocking sockets: it must not be the
 * bottleneck of what it measures.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP (1 << 20)
#define OUT_CAP (256 * 1024)
#define QUEUE_TARGET 65536
#define BUFFER_IDS 65536

enum phase { HANDSHAKE, READY };

struct sw {
  int fd;
  int id;
  enum phase phase;
  uint8_t *in;
  size_t in_len;
  uint8_t *out;
  size_t out_off, out_len;
  long outstanding;
  unsigned long count;
  uint32_t mac;
  uint32_t buffer_id;
  uint32_t xid;
  int want_out;
};

static int ep;

static int version;
static uint32_t macs;
static int latency;
static int measuring;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = (v >> 16) & 0xff; p[2] = (v >> 8) & 0xff; p[3] = v & 0xff; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Room for `n` more bytes in the output queue (compacting what was written). */
static uint8_t *reserve(struct sw *s, size_t n) {
  if (s->out_len + n > OUT_CAP) {
    memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
    s->out_len -= s->out_off;
    s->out_off = 0;
    if (s->out_len + n > OUT_CAP) { fprintf(stderr, "output queue overflow\n"); exit(1); }
  }
  uint8_t *p = s->out + s->out_len;
  s->out_len += n;
  return p;
}

static void header(uint8_t *p, uint8_t type, uint16_t length, uint32_t xid) {
  p[0] = (uint8_t)version;
  p[1] = type;
  put16(p + 2, length);
  put32(p + 4, xid);
}

/* A 64-byte Ethernet frame from `src` to `dst`: IPv4 when `arp` is 0, else a gratuitous ARP reply. */
static void frame(uint8_t *p, const uint8_t *dst, const uint8_t *src, int arp) {
  memset(p, 0, 64);
  memcpy(p, dst, 6);
  memcpy(p + 6, src, 6);
  if (arp) {
    static const uint8_t body[] = { 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02 };
    memcpy(p + 12, body, sizeof body);
    memcpy(p + 22, src, 6);
    memcpy(p + 32, src, 6);
  } else {
    static const uint8_t body[] = { 0x08, 0x00, 0x45, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x40, 0xff, 0xf7, 0x2c,
                                    0xc0, 0xa8, 0x00, 0x28, 0xc0, 0xa8, 0x01, 0x28 };
    memcpy(p + 12, body, sizeof body);
  }
}

/* Appends a PACKET_IN carrying a 64-byte frame, in the negotiated version's layout. */
static void packet_in(struct sw *s, uint32_t buffer_id, uint16_t in_port, const uint8_t *dst, const uint8_t *src, int arp) {
  if (version == 1) {
    uint8_t *p = reserve(s, 18 + 64);
    header(p, 10, 18 + 64, s->xid++);
    put32(p + 8, buffer_id);
    put16(p + 12, 64);
    put16(p + 14, in_port);
    p[16] = 0; /* OFPR_NO_MATCH */
    p[17] = 0;
    frame(p + 18, dst, src, arp);
  } else {
    /* ofp_packet_in (1.3 §7.4.1): 24 bytes to the match, the match with the IN_PORT OXM (12
       bytes padded to 16), 2 pad bytes, the frame at 42. */
    uint8_t *p = reserve(s, 42 + 64);
    memset(p, 0, 42);
    header(p, 10, 42 + 64, s->xid++);
    put32(p + 8, buffer_id);
    put16(p + 12, 64);
    put16(p + 24, 1);      /* OFPMT_OXM */
    put16(p + 26, 12);     /* match length without padding */
    put16(p + 28, 0x8000); /* OFPXMC_OPENFLOW_BASIC */
    p[30] = 0;             /* OFPXMT_OFB_IN_PORT, no mask */
    p[31] = 4;
    put32(p + 32, in_port);
    frame(p + 42, dst, src, arp);
  }
}

static const uint8_t learned_template[6] = { 0x80, 0, 0, 0, 0, 0 };

static void probe(struct sw *s) {
  uint8_t dst[6], src[6];
  memcpy(dst, learned_template, 6);
  dst[5] = (uint8_t)s->id;
  src[0] = 0;
  put32(src + 1, s->mac);
  src[5] = (uint8_t)s->id;
  s->mac = (s->mac + 1) % macs;
  s->buffer_id = s->buffer_id % BUFFER_IDS + 1;
  packet_in(s, s->buffer_id, 1, dst, src, 0);
  s->outstanding++;
}

static void fill(struct sw *s) {
  if (s->phase != READY || !measuring) return;
  if (latency) {
    if (s->outstanding <= 0) probe(s);
  } else {
    while (s->out_len - s->out_off < QUEUE_TARGET) probe(s);
  }
}

static void flush(struct sw *s) {
  while (s->out_off < s->out_len) {
    ssize_t n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      perror("send");
      exit(1);
    }
    s->out_off += (size_t)n;
  }
  s->out_off = s->out_len = 0;
}

/* Writes what is queued and asks epoll for writability only while some of it is left. */
static void pump(struct sw *s) {
  flush(s);
  int want = s->out_off < s->out_len;
  if (want != s->want_out) {
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = s };
    epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
    s->want_out = want;
  }
}

static void handle(struct sw *s, const uint8_t *m, uint16_t length) {
  uint8_t type = m[1];
  uint8_t *p;
  switch (type) {
    case 2: /* ECHO_REQUEST → ECHO_REPLY with the same xid and data */
      p = reserve(s, length);
      memcpy(p, m, length);
      p[1] = 3;
      break;
    case 5: { /* FEATURES_REQUEST → FEATURES_REPLY (no ports) */
      p = reserve(s, 32);
      memset(p, 0, 32);
      memcpy(p, m, 8);
      p[1] = 6;
      put16(p + 2, 32);
      put32(p + 12, (uint32_t)s->id); /* datapath id, low half */
      put32(p + 16, 256);             /* n_buffers */
      p[20] = 1;                      /* n_tables */
      if (s->phase == HANDSHAKE) {
        /* Announce the destination MAC on port 2 so the controller knows where it lives. */
        uint8_t mac[6], broadcast[6];
        memcpy(mac, learned_template, 6);
        mac[5] = (uint8_t)s->id;
        memset(broadcast, 0xff, 6);
        packet_in(s, 0xffffffffu, 2, broadcast, mac, 1);
        s->phase = READY;
      }
      break;
    }
    case 7: /* GET_CONFIG_REQUEST → GET_CONFIG_REPLY */
      p = reserve(s, 12);
      memcpy(p, m, 8);
      p[1] = 8;
      put16(p + 2, 12);
      put16(p + 8, 0);
      put16(p + 10, 0xffff);
      break;
    case 4: /* VENDOR / EXPERIMENTER → OFPET_BAD_REQUEST / OFPBRC_BAD_VENDOR (BAD_EXPERIMENTER) */
      p = reserve(s, 12 + 8);
      memcpy(p, m, 8);
      p[0] = (uint8_t)version;
      p[1] = 1;
      put16(p + 2, 20);
      put16(p + 8, 1);
      put16(p + 10, 3);
      memcpy(p + 12, m, 8);
      break;
    case 13: /* PACKET_OUT */
      if (measuring) { s->count++; s->outstanding--; }
      break;
    case 14: { /* FLOW_MOD: ADD (0) or MODIFY_STRICT (2) answers a PACKET_IN */
      uint8_t command = version == 1 ? m[57] : m[25];
      if (version == 1 && m[56] != 0) break;
      if ((command == 0 || command == 2) && measuring) { s->count++; s->outstanding--; }
      break;
    }
    default:
      if (version == 1 && type == 18) { /* BARRIER_REQUEST (1.0) */
        p = reserve(s, 8);
        memcpy(p, m, 8);
        p[1] = 19;
      } else if (version == 4 && type == 20) { /* BARRIER_REQUEST (1.3) */
        p = reserve(s, 8);
        memcpy(p, m, 8);
        p[1] = 21;
      }
      break;
  }
  if (s->outstanding < 0) s->outstanding = 0;
}

static void readable(struct sw *s) {
  for (;;) {
    if (s->in_len == IN_CAP) { fprintf(stderr, "input overflow\n"); exit(1); }
    ssize_t n = recv(s->fd, s->in + s->in_len, IN_CAP - s->in_len, 0);
    if (n == 0) { fprintf(stderr, "switch %d: controller closed the connection\n", s->id); exit(1); }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      perror("recv");
      exit(1);
    }
    s->in_len += (size_t)n;
    size_t off = 0;
    while (s->in_len - off >= 8) {
      uint16_t length = get16(s->in + off + 2);
      if (length < 8) { fprintf(stderr, "bad message length %u\n", length); exit(1); }
      if (s->in_len - off < length) break;
      handle(s, s->in + off, length);
      off += length;
    }
    memmove(s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
    if ((size_t)n < 65536) break;
  }
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s PORT SWITCHES MACS throughput|latency LOOP_MS LOOPS WARMUP_LOOPS VERSION\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int count = atoi(argv[2]);
  macs = (uint32_t)strtoul(argv[3], NULL, 10);
  latency = strcmp(argv[4], "latency") == 0;
  int loop_ms = atoi(argv[5]);
  int loops = atoi(argv[6]);
  int warmup = atoi(argv[7]);
  version = atoi(argv[8]) == 4 ? 4 : 1;
  if (count < 1 || count > 255 || macs < 1) { fprintf(stderr, "1..255 switches and at least one MAC\n"); return 2; }

  ep = epoll_create1(0);
  struct sw *sws = calloc((size_t)count, sizeof *sws);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Switches connect one after another, each once the one before finished its handshake, as
     cbench does: a burst of handshakes can outlast a controller's handshake timeout on a busy host. */
  struct epoll_event events[256];
  for (int i = 0; i < count; i++) {
    struct sw *s = &sws[i];
    s->id = i + 1;
    s->xid = 1;
    s->in = malloc(IN_CAP);
    s->out = malloc(OUT_CAP);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = s };
    s->want_out = 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    /* HELLO: a bare one of our version. */
    uint8_t *p = reserve(s, 8);
    header(p, 0, 8, 0);
    pump(s);
    double deadline = now_s() + 10;
    while (s->phase != READY) {
      if (now_s() > deadline) { fprintf(stderr, "switch %d did not finish the handshake\n", s->id); return 1; }
      int n = epoll_wait(ep, events, 256, 10);
      for (int e = 0; e < n; e++) {
        struct sw *t = events[e].data.ptr;
        if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(t);
        pump(t);
      }
    }
  }

  double settle = now_s() + 0.2;
  while (now_s() < settle) {
    int n = epoll_wait(ep, events, 256, 10);
    for (int e = 0; e < n; e++) {
      struct sw *s = events[e].data.ptr;
      if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(s);
      pump(s);
    }
  }

  double sum = 0;
  int measured = 0;
  struct rusage usage_start;
  getrusage(RUSAGE_SELF, &usage_start);
  double wall_start = now_s();
  measuring = 1;
  for (int loop = 0; loop < loops + warmup; loop++) {
    for (int i = 0; i < count; i++) {
      sws[i].count = 0;
      /* Like cbench, a loop starts with nothing outstanding, so a lost answer stalls no one. */
      sws[i].outstanding = 0;
      fill(&sws[i]);
      pump(&sws[i]);
    }
    double start = now_s();
    double end = start + loop_ms / 1000.0;
    double t;
    while ((t = now_s()) < end) {
      int timeout = (int)((end - t) * 1000) + 1;
      int n = epoll_wait(ep, events, 256, timeout);
      for (int e = 0; e < n; e++) {
        struct sw *s = events[e].data.ptr;
        if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(s);
        fill(s);
        pump(s);
      }
    }
    double elapsed = now_s() - start;
    unsigned long total = 0;
    for (int i = 0; i < count; i++) total += sws[i].count;
    double rate = total / elapsed;
    printf("loop %d%s: %.0f responses/s\n", loop + 1, loop < warmup ? " (warm-up)" : "", rate);
    fflush(stdout);
    if (loop >= warmup) { sum += rate; measured++; }
  }
  struct rusage usage_end;
  getrusage(RUSAGE_SELF, &usage_end);
  double cpu = (usage_end.ru_utime.tv_sec - usage_start.ru_utime.tv_sec) + (usage_end.ru_utime.tv_usec - usage_start.ru_utime.tv_usec) / 1e6
    + (usage_end.ru_stime.tv_sec - usage_start.ru_stime.tv_sec) + (usage_end.ru_stime.tv_usec - usage_start.ru_stime.tv_usec) / 1e6;
  /* Near 100 % means the generator itself may be what limits the figure. */
  printf("generator cpu: %.0f%%\n", 100 * cpu / (now_s() - wall_start));
  printf("average: %.0f responses/s\n", measured > 0 ? sum / measured : 0);
  for (int i = 0; i < count; i++) close(sws[i].fd);
  return 0;
}
