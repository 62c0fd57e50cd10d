// The kernel's socket diagnostics (NETLINK_SOCK_DIAG, inet_diag: what `ss`
// uses) for the kernel probe: the TCP sockets of another network namespace,
// looked up one 4-tuple at a time (a hash lookup in the kernel, ~3–20 µs),
// with no text to parse. (No dump: it walks the host's whole established
// hash, shared by every namespace — milliseconds even for an empty one.) The kernel probe's tracepoint source uses it to follow the
// mini-sockets no tracepoint reports on (TIME-WAIT, an orphan's FIN-WAIT-2),
// so its cost grows with what changes, not with every socket of the lab.
//
// Namespace. A netlink socket answers for the namespace it was created in,
// for its whole life. diagOpen() therefore setns()es the *calling* thread
// into /proc/<pid>/ns/net, creates the socket, and setns()es back at once:
// setns affects only that thread, the JavaScript thread is inside this call
// (nothing else runs on it meanwhile), and libuv's pool threads never see the
// change. A helper process in the namespace would be just as correct but cost
// a round trip through a pipe per question; the socket does not. If the way
// back fails the thread would keep running in the wrong namespace, so the
// process aborts rather than go on.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <node_api.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "sockdiag.h"

#define CHECKD(call)                                                   \
  do {                                                                 \
    if ((call) != napi_ok) {                                           \
      napi_throw_error(env, NULL, "sockdiag: N-API call failed: " #call); \
      return NULL;                                                     \
    }                                                                  \
  } while (0)

// One answer: an inet_diag_msg (no attributes asked for) or an error.
#define RECV_BUF 8192
static char recv_buf[RECV_BUF] __attribute__((aligned(NLMSG_ALIGNTO)));
static unsigned int seq_counter = 1;

static napi_value diag_throw(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value text, error, errno_value;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

// diagOpen(netnsPath) -> fd of a NETLINK_SOCK_DIAG socket of that namespace
static napi_value js_diag_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECKD(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[256];
  size_t len;
  CHECKD(napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len));
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return diag_throw(env, "open /proc/thread-self/ns/net", errno);
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(self);
    return diag_throw(env, path, err);
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(self);
    close(target);
    return diag_throw(env, "setns", err);
  }
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  int err = errno;
  if (setns(self, CLONE_NEWNET) != 0) {
    perror("sockdiag: setns back to the original network namespace");
    abort();
  }
  close(self);
  close(target);
  if (fd < 0) return diag_throw(env, "socket(NETLINK_SOCK_DIAG)", err);
  // Answers come at once; a kernel that never answers must not hang the loop.
  struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  napi_value out;
  CHECKD(napi_create_int32(env, fd, &out));
  return out;
}

static napi_value js_diag_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECKD(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECKD(napi_get_value_int32(env, argv[0], &fd));
  if (fd >= 0) close(fd);
  return NULL;
}

// "198.18.0.1:40000" or "[2001:2::1]:40000" -> family, address (network order), port
static int parse_endpoint(const char *s, int *family, uint32_t addr[4], uint16_t *port) {
  const char *colon = strrchr(s, ':');
  if (!colon) return -1;
  char host[64];
  size_t hl = (size_t)(colon - s);
  if (s[0] == '[') {
    if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof host) return -1;
    memcpy(host, s + 1, hl - 2);
    host[hl - 2] = 0;
    *family = AF_INET6;
  } else {
    if (hl >= sizeof host) return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    *family = AF_INET;
  }
  memset(addr, 0, 16);
  if (inet_pton(*family, host, addr) != 1) return -1;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || p < 0 || p > 65535) return -1;
  *port = htons((uint16_t)p);
  return 0;
}

// The kernel's text for an endpoint, as /proc-based code prints it (a v4-mapped address as IPv4).
static void format_endpoint(char *out, size_t n, int family, const uint32_t addr[4], uint16_t port_be) {
  char host[INET6_ADDRSTRLEN];
  unsigned port = ntohs(port_be);
  const unsigned char *b = (const unsigned char *)addr;
  if (family == AF_INET) {
    inet_ntop(AF_INET, addr, host, sizeof host);
    snprintf(out, n, "%s:%u", host, port);
  } else if (addr[0] == 0 && addr[1] == 0 && b[8] == 0 && b[9] == 0 && b[10] == 0xff && b[11] == 0xff) {
    inet_ntop(AF_INET, &addr[3], host, sizeof host);
    snprintf(out, n, "%s:%u", host, port);
  } else {
    inet_ntop(AF_INET6, addr, host, sizeof host);
    snprintf(out, n, "[%s]:%u", host, port);
  }
}

static napi_value make_row(napi_env env, const struct inet_diag_msg *m) {
  char local[80], remote[80];
  format_endpoint(local, sizeof local, m->idiag_family, m->id.idiag_src, m->id.idiag_sport);
  format_endpoint(remote, sizeof remote, m->idiag_family, m->id.idiag_dst, m->id.idiag_dport);
  napi_value row, v;
  if (napi_create_object(env, &row) != napi_ok) return NULL;
  napi_create_string_latin1(env, local, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, row, "local", v);
  napi_create_string_latin1(env, remote, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, row, "remote", v);
  napi_create_uint32(env, m->idiag_state, &v);
  napi_set_named_property(env, row, "state", v);
  napi_create_uint32(env, m->idiag_inode, &v);
  napi_set_named_property(env, row, "inode", v);
  // Milliseconds until the socket's timer fires (TIME-WAIT: its end).
  napi_create_uint32(env, m->idiag_expires, &v);
  napi_set_named_property(env, row, "expiresMs", v);
  // Which timer that is, as `ss -o` names them (inet_diag.c): 0 none, 1 retransmit (also the loss probe
  // and the reordering timeout; a request socket's SYN-ACK), 2 keepalive (sk_timer: keepalive, or an
  // orphan's FIN-WAIT-2 timeout), 3 TIME-WAIT (also an orphan's FIN-WAIT-2 mini-socket), 4 zero-window
  // probe; and its count: retransmissions so far (icsk_retransmits; a request's num_retrans), probes for 2 and 4.
  napi_create_uint32(env, m->idiag_timer, &v);
  napi_set_named_property(env, row, "timer", v);
  napi_create_uint32(env, m->idiag_retrans, &v);
  napi_set_named_property(env, row, "retrans", v);
  return row;
}

// diagLookup(fd, local, remote) -> the socket on that exact 4-tuple ({local, remote, state, inode, expiresMs, timer, retrans}) or undefined.
// inet_diag_find_one_icsk() looks the tuple up as an arriving segment would (established hash, time-wait
// sockets included) and falls back to a listener on the local port: that is no answer here.
static napi_value js_diag_lookup(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECKD(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  CHECKD(napi_get_value_int32(env, argv[0], &fd));
  char local[80], remote[80];
  size_t len;
  CHECKD(napi_get_value_string_utf8(env, argv[1], local, sizeof local, &len));
  CHECKD(napi_get_value_string_utf8(env, argv[2], remote, sizeof remote, &len));
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  int fl, fr;
  if (parse_endpoint(local, &fl, msg.req.id.idiag_src, &msg.req.id.idiag_sport) || parse_endpoint(remote, &fr, msg.req.id.idiag_dst, &msg.req.id.idiag_dport) || fl != fr) {
    napi_throw_error(env, NULL, "sockdiag: not an addr:port pair of one family");
    return NULL;
  }
  unsigned int seq = seq_counter++;
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.nlh.nlmsg_seq = seq;
  msg.req.sdiag_family = (unsigned char)fl;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) != (ssize_t)sizeof msg) return diag_throw(env, "sock_diag lookup", errno);
  for (;;) {
    ssize_t n = recv(fd, recv_buf, sizeof recv_buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return diag_throw(env, "sock_diag lookup", errno);
    if (n == 0) return diag_throw(env, "sock_diag lookup", EIO);
    for (struct nlmsghdr *h = (struct nlmsghdr *)recv_buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq) continue;  // a late answer to an earlier, timed-out question
      if (h->nlmsg_type == NLMSG_ERROR) {
        int err = -((const struct nlmsgerr *)NLMSG_DATA(h))->error;
        if (err == ENOENT || err == 0) return NULL;
        return diag_throw(env, "sock_diag lookup", err);
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      const struct inet_diag_msg *m = (const struct inet_diag_msg *)NLMSG_DATA(h);
      if (m->idiag_state == 10 /* TCP_LISTEN */) return NULL;
      return make_row(env, m);
    }
  }
}

void sockdiag_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"diagOpen", NULL, js_diag_open, NULL, NULL, NULL, napi_default, NULL},
      {"diagClose", NULL, js_diag_close, NULL, NULL, NULL, napi_default, NULL},
      {"diagLookup", NULL, js_diag_lookup, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
