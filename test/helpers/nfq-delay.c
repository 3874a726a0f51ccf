/*
 * Link delay for the multi-host fault suite (test/helpers/netns.ts), for kernels without
 * sch_netem: an nftables rule in a host's namespace hands every outgoing packet to NFQUEUE
 * queue 0, and this program, running in that namespace, gives each one back (NF_ACCEPT) after
 * its delay: base ± uniform jitter, in microseconds. Packets leave in the order they came (a
 * packet never overtakes an earlier one), so the link delays without reordering.
 *
 *   nfq-delay DELAY_US JITTER_US SEED
 *
 * Runs until killed. Build: cc -O2 -o nfq-delay nfq-delay.c -lnetfilter_queue -lnfnetlink
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RING 65536

static uint32_t ids[RING];
static uint64_t due[RING];
static unsigned head, tail; /* packets [head, tail) wait, in arrival order */
static uint64_t last_due;
static long delay_us, jitter_us;
static uint64_t rng;
static struct nfq_q_handle *qh;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static int on_packet(struct nfq_q_handle *q, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (tail - head >= RING) return nfq_set_verdict(q, id, NF_ACCEPT, 0, NULL); /* full: no delay */
  long d = delay_us;
  if (jitter_us > 0) d += (long)(next_rand() % (uint64_t)(2 * jitter_us + 1)) - jitter_us;
  if (d < 0) d = 0;
  uint64_t t = now_ns() + (uint64_t)d * 1000u;
  if (t < last_due) t = last_due; /* keep arrival order */
  last_due = t;
  ids[tail % RING] = id;
  due[tail % RING] = t;
  tail++;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: nfq-delay DELAY_US JITTER_US SEED\n");
    return 2;
  }
  delay_us = atol(argv[1]);
  jitter_us = atol(argv[2]);
  rng = (uint64_t)atoll(argv[3]) * 2654435761u + 1;
  signal(SIGPIPE, SIG_IGN);
  struct nfq_handle *h = nfq_open();
  if (!h) {
    perror("nfq_open");
    return 1;
  }
  qh = nfq_create_queue(h, 0, on_packet, NULL);
  if (!qh) {
    perror("nfq_create_queue");
    return 1;
  }
  /* Only the packet id is needed: copy no payload. */
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(qh, RING) < 0) {
    perror("nfq_set_mode");
    return 1;
  }
  int fd = nfq_fd(h);
  /* A full socket buffer would drop queued packets' notifications: the kernel then fails open. */
  nfnl_rcvbufsiz(nfq_nfnlh(h), 8 << 20);
  printf("ready\n");
  fflush(stdout);
  static char buf[65536] __attribute__((aligned));
  for (;;) {
    uint64_t now = now_ns();
    while (head != tail && due[head % RING] <= now) {
      nfq_set_verdict(qh, ids[head % RING], NF_ACCEPT, 0, NULL);
      head++;
    }
    struct timespec ts, *tsp = NULL;
    if (head != tail) {
      uint64_t wait = due[head % RING] - now;
      ts.tv_sec = (time_t)(wait / 1000000000u);
      ts.tv_nsec = (long)(wait % 1000000000u);
      tsp = &ts;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = ppoll(&p, 1, tsp, NULL);
    if (n < 0 && errno != EINTR) {
      perror("ppoll");
      return 1;
    }
    if (n > 0) {
      for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (len < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
          if (errno == ENOBUFS) continue; /* notifications lost; those packets were accepted */
          perror("recv");
          return 1;
        }
        nfq_handle_packet(h, buf, (int)len);
      }
    }
  }
}
