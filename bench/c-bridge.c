// Reference forwarder for the bench: the packet addon's method (AF_PACKET,
// recvmmsg in batches of 64, sendmmsg out) in plain C, with no Node.js at
// all: what any user-space forwarder can reach on this machine. Compiled by
// bench/run.js into its temp dir; runs inside the middle namespace:
//   c-bridge m0 m1
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 2048

static int open_port(const char *dev) {
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)if_nametoindex(dev)};
  int one = 1, rcvbuf = 8 << 20;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof sll)) {
    perror(dev);
    exit(1);
  }
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  return fd;
}

static char bufs[BATCH][SLOT];
static struct mmsghdr msgs[BATCH];
static struct iovec iovs[BATCH];

static void forward(int in, int out) {
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iovs[i] = (struct iovec){bufs[i], SLOT};
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(in, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    for (int i = 0; i < n; i++) iovs[i].iov_len = msgs[i].msg_len;
    for (int done = 0; done < n;) {
      int r = sendmmsg(out, msgs + done, (unsigned)(n - done), 0);
      done += r > 0 ? r : 1;  // a refused frame is skipped, as the addon does
    }
    if (n < BATCH) return;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: c-bridge DEV_A DEV_B\n");
    return 2;
  }
  int a = open_port(argv[1]), b = open_port(argv[2]);
  struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
  for (;;) {
    if (poll(p, 2, -1) < 0) continue;
    if (p[0].revents) forward(a, b);
    if (p[1].revents) forward(b, a);
  }
}
