// Intercept mode's packet source: netfilter's queue (nfnetlink_queue), spoken
// directly over a NETLINK_NETFILTER socket — no libnetfilter_queue, whose
// whole use here would be a dozen lines of message building. One socket binds
// the run's queues (one per direction), asks for whole packets
// (NFQNL_COPY_PACKET), bounds each queue (NFQA_CFG_QUEUE_MAXLEN) and sets
// NFQA_CFG_F_FAIL_OPEN: a packet that finds the queue full passes instead of
// being dropped (net/netfilter/nfnetlink_queue.c, __nfqnl_enqueue_packet).
//
// Packets are read in batches (recvmmsg, one message per packet) into a slab
// the JavaScript side owns, and JavaScript is called once per batch with
// [offset, length, packet id, queue] per packet. Each packet is an IP packet;
// a 14-byte Ethernet header with zero MACs and the IP version's EtherType is
// written just in front of it, over netlink headers already read, so the
// engine decodes it as the frames of the other modes with no copy (and the
// pcapng stays one link type).
//
// The kernel copies at most NFQNL_MAX_COPY_RANGE (0xffff - NLA_HDRLEN =
// 65 531) bytes of a packet: the payload attribute's length is 16 bits. On
// loopback (MTU 65 536) TCP sends segments of up to 65 535 bytes (IPv4: the
// total length field's bound) or 65 536 (IPv6), so a bulk transfer's segments
// come cut by 4 or 5 bytes, with NFQA_CAP_LEN saying how long the packet
// really is. A verdict without NFQA_PAYLOAD applies to the kernel's own
// packet, so the data passes intact whatever the copy holds. Such a packet is
// given to the engine at its real length, the missing tail zero-filled and
// said (meta[4]: bytes missing), so that its headers, sequence numbers and
// length are tracked exactly; the engine never copies its bytes onto the
// wire (duplicate, replay) and the pcapng records it cut short. The checksums are real: without
// NFQA_CFG_F_GSO the kernel segments GSO packets and completes a
// CHECKSUM_PARTIAL checksum before it copies a packet out.
//
// Verdicts go back by packet id, many netlink messages in one send(): the
// kernel walks them in order (netlink_rcv_skb). A verdict the kernel refuses
// (an unknown id) comes back as an NLMSG_ERROR, counted.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nfqueue.h"
#include "watched.h"

#define NFQ_MAX_BATCH 64
#define NFQ_MAX_QUEUES 2
// [offset, length, packet id, queue number, bytes missing at the end] per packet.
#define NFQ_META 5
#define FAKE_ETH_LEN 14
// Verdicts per send() at most (each message is 36 bytes).
#define NFQ_MAX_VERDICTS 1024
#define NFQ_VERDICT_MSG_LEN (NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)) + NLA_HDRLEN + NLA_ALIGN(sizeof(struct nfqnl_msg_verdict_hdr)))
// Read at most this many batches per wake-up, so timers that release delayed packets are not starved.
#define MAX_BATCHES_PER_WAKE 8

typedef struct nfq {
  watched_t w;  // first: an nfq_t * is a watched_t *
  napi_ref slab_ref;
  napi_ref meta_ref;
  uint8_t *slab;
  size_t slot;
  uint32_t batch;
  uint32_t *meta;
  uint32_t seq;
  // Messages the kernel could not put in the socket's buffer (ENOBUFS); with
  // fail-open they passed unseen. Verdicts the kernel refused.
  uint32_t lost;
  uint32_t refused;
  struct mmsghdr msgs[NFQ_MAX_BATCH];
  struct iovec iovs[NFQ_MAX_BATCH];
  uint8_t verdicts[NFQ_MAX_VERDICTS * NFQ_VERDICT_MSG_LEN] __attribute__((aligned(NLMSG_ALIGNTO)));
} nfq_t;

#define CHECKQ(call)                                                    \
  do {                                                                  \
    if ((call) != napi_ok) {                                            \
      napi_throw_error(env, NULL, "nfqueue: N-API call failed: " #call); \
      return NULL;                                                      \
    }                                                                   \
  } while (0)

static const struct sockaddr_nl KERNEL = {.nl_family = AF_NETLINK};

static size_t begin_msg(uint8_t *buf, size_t off, uint16_t type, uint16_t flags, uint32_t seq, uint16_t queue) {
  struct nlmsghdr *n = (struct nlmsghdr *)(buf + off);
  n->nlmsg_len = 0;
  n->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
  n->nlmsg_flags = NLM_F_REQUEST | flags;
  n->nlmsg_seq = seq;
  n->nlmsg_pid = 0;
  struct nfgenmsg *g = (struct nfgenmsg *)(buf + off + NLMSG_HDRLEN);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(queue);
  return off + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof *g);
}

static size_t put_attr(uint8_t *buf, size_t off, uint16_t type, const void *data, uint16_t len) {
  struct nlattr *a = (struct nlattr *)(buf + off);
  a->nla_type = type;
  a->nla_len = NLA_HDRLEN + len;
  memcpy(buf + off + NLA_HDRLEN, data, len);
  size_t end = off + NLA_ALIGN(a->nla_len);
  memset(buf + off + NLA_HDRLEN + len, 0, end - (off + NLA_HDRLEN + len));
  return end;
}

static void end_msg(uint8_t *buf, size_t start, size_t end) {
  ((struct nlmsghdr *)(buf + start))->nlmsg_len = (uint32_t)(end - start);
}

// Sends one configuration request and waits (at most 2 s) for its ACK: 0, or the kernel's errno.
static int config_request(int fd, uint8_t *buf, size_t len, uint32_t seq) {
  if (sendto(fd, buf, len, 0, (const struct sockaddr *)&KERNEL, sizeof KERNEL) < 0) return errno;
  uint8_t reply[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, 2000);
    if (r == 0) return ETIMEDOUT;
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    ssize_t n = recv(fd, reply, sizeof reply, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return errno;
    }
    int left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq != seq) continue;
      struct nlmsgerr *e = NLMSG_DATA(h);
      return -e->error;
    }
  }
}

// Binds `queue` to this socket and sets it up; 0 or an errno, `step` naming what failed.
static int config_queue(nfq_t *q, uint16_t queue, uint32_t maxlen, const char **step) {
  uint8_t buf[256] __attribute__((aligned(NLMSG_ALIGNTO)));
  // Bind. (The per-family PF_BIND of kernels before 3.8 is a no-op since.)
  struct nfqnl_msg_config_cmd cmd = {.command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_UNSPEC)};
  uint32_t seq = ++q->seq;
  size_t end = put_attr(buf, begin_msg(buf, 0, NFQNL_MSG_CONFIG, NLM_F_ACK, seq, queue), NFQA_CFG_CMD, &cmd, sizeof cmd);
  end_msg(buf, 0, end);
  *step = "bind";
  int err = config_request(q->w.fd, buf, end, seq);
  if (err) return err;
  // Whole packets, the queue's bound, fail-open.
  struct nfqnl_msg_config_params params = {.copy_range = htonl(0xffff), .copy_mode = NFQNL_COPY_PACKET};
  uint32_t be_maxlen = htonl(maxlen);
  uint32_t flags = htonl(NFQA_CFG_F_FAIL_OPEN);
  seq = ++q->seq;
  end = begin_msg(buf, 0, NFQNL_MSG_CONFIG, NLM_F_ACK, seq, queue);
  end = put_attr(buf, end, NFQA_CFG_PARAMS, &params, sizeof params);
  end = put_attr(buf, end, NFQA_CFG_QUEUE_MAXLEN, &be_maxlen, sizeof be_maxlen);
  end = put_attr(buf, end, NFQA_CFG_MASK, &flags, sizeof flags);
  end = put_attr(buf, end, NFQA_CFG_FLAGS, &flags, sizeof flags);
  end_msg(buf, 0, end);
  *step = "configure (copy mode, max length, fail-open)";
  return config_request(q->w.fd, buf, end, seq);
}

static void call_batch(nfq_t *q, int32_t count, int32_t err) {
  int32_t args[2] = {count, err};
  call_js(&q->w, 2, args);
}

// One netlink message of a received batch (its datagram ends at dgram_end): a
// queued packet goes into meta (returns 1), anything else is skipped.
static int take_packet(nfq_t *q, struct nlmsghdr *h, const uint8_t *dgram_end, uint32_t *meta) {
  if (h->nlmsg_type == NLMSG_ERROR) {
    struct nlmsgerr *e = NLMSG_DATA(h);
    if (e->error != 0) q->refused++;
    return 0;
  }
  if (h->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) return 0;
  struct nfgenmsg *g = NLMSG_DATA(h);
  uint8_t *at = (uint8_t *)g + NLMSG_ALIGN(sizeof *g);
  uint8_t *end = (uint8_t *)h + h->nlmsg_len;
  int have_id = 0;
  uint32_t id = 0;
  uint8_t *payload = NULL;
  uint32_t plen = 0;
  uint32_t cap_len = 0;
  while (at + NLA_HDRLEN <= end) {
    struct nlattr *a = (struct nlattr *)at;
    if (a->nla_len < NLA_HDRLEN || at + a->nla_len > end) break;
    uint16_t type = a->nla_type & NLA_TYPE_MASK;
    uint8_t *data = at + NLA_HDRLEN;
    uint32_t dlen = a->nla_len - NLA_HDRLEN;
    if (type == NFQA_PACKET_HDR && dlen >= sizeof(struct nfqnl_msg_packet_hdr)) {
      struct nfqnl_msg_packet_hdr ph;
      memcpy(&ph, data, sizeof ph);
      id = ntohl(ph.packet_id);
      have_id = 1;
    } else if (type == NFQA_PAYLOAD) {
      payload = data;
      plen = dlen;
    } else if (type == NFQA_CAP_LEN && dlen >= 4) {
      uint32_t v;
      memcpy(&v, data, 4);
      cap_len = ntohl(v);
    }
    at += NLA_ALIGN(a->nla_len);
  }
  // Every attribute is read: the bytes in front of the payload may now be overwritten.
  if (!have_id || !payload || plen == 0 || payload - FAKE_ETH_LEN < q->slab) return 0;
  uint8_t *eth = payload - FAKE_ETH_LEN;
  memset(eth, 0, 12);
  uint16_t type = (payload[0] >> 4) == 6 ? 0x86dd : 0x0800;
  eth[12] = (uint8_t)(type >> 8);
  eth[13] = (uint8_t)(type & 0xff);
  // A copy cut short (see the top): the packet at its real length, its tail
  // zero-filled, if it fits in this message's slot; else it stays short (the
  // engine counts it malformed and passes it).
  uint32_t missing = 0;
  // Only past the datagram's last message: nothing that is still to be read is overwritten.
  uint8_t *slot_end = q->slab + (size_t)((payload - q->slab) / q->slot + 1) * q->slot;
  if (cap_len > plen && (uint8_t *)h + NLMSG_ALIGN(h->nlmsg_len) >= dgram_end && payload + cap_len <= slot_end) {
    missing = cap_len - plen;
    memset(payload + plen, 0, missing);
  }
  meta[0] = (uint32_t)(eth - q->slab);
  meta[1] = plen + missing + FAKE_ETH_LEN;
  meta[2] = id;
  meta[3] = ntohs(g->res_id);
  meta[4] = missing;
  return 1;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  nfq_t *q = handle->data;
  if (status < 0) {
    uv_poll_stop(&q->w.poll);
    call_batch(q, -1, -status);
    return;
  }
  for (int round = 0; round < MAX_BATCHES_PER_WAKE && !q->w.closing; round++) {
    for (uint32_t i = 0; i < q->batch; i++) {
      q->iovs[i].iov_base = q->slab + (size_t)i * q->slot;
      q->iovs[i].iov_len = q->slot;
      struct msghdr *m = &q->msgs[i].msg_hdr;
      memset(m, 0, sizeof *m);
      m->msg_iov = &q->iovs[i];
      m->msg_iovlen = 1;
    }
    int n = recvmmsg(q->w.fd, q->msgs, q->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      // The kernel could not queue messages to us (the socket's buffer was
      // full): they are gone (passed, fail-open). Counted; reading goes on.
      if (errno == ENOBUFS) {
        q->lost++;
        continue;
      }
      int err = errno;
      uv_poll_stop(&q->w.poll);
      call_batch(q, -1, err);
      return;
    }
    uint32_t kept = 0;
    for (int i = 0; i < n; i++) {
      int left = (int)q->msgs[i].msg_len;
      const uint8_t *dgram_end = q->slab + (size_t)i * q->slot + q->msgs[i].msg_len;
      for (struct nlmsghdr *h = (struct nlmsghdr *)(q->slab + (size_t)i * q->slot); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (kept < q->batch && take_packet(q, h, dgram_end, q->meta + NFQ_META * kept)) kept++;
      }
    }
    if (kept) call_batch(q, (int32_t)kept, 0);
    if ((uint32_t)n < q->batch) return;
  }
}

// nfqOpen(queues: number[], slab: Buffer, meta: Uint32Array, slot, maxLen, onBatch(count, errno)) -> handle.
// Throws an Error with `errno` and `step` ("socket", "bind", …) when the kernel refuses.
static napi_value js_nfq_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECKQ(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "nfqOpen(queues, slab, meta, slot, maxLen, onBatch)");
    return NULL;
  }
  uint32_t nqueues;
  CHECKQ(napi_get_array_length(env, argv[0], &nqueues));
  if (nqueues == 0 || nqueues > NFQ_MAX_QUEUES) {
    napi_throw_range_error(env, NULL, "nfqOpen: one or two queues");
    return NULL;
  }
  uint16_t queues[NFQ_MAX_QUEUES];
  for (uint32_t i = 0; i < nqueues; i++) {
    napi_value v;
    uint32_t num;
    CHECKQ(napi_get_element(env, argv[0], i, &v));
    CHECKQ(napi_get_value_uint32(env, v, &num));
    if (num > 65535) {
      napi_throw_range_error(env, NULL, "nfqOpen: a queue number is 0..65535");
      return NULL;
    }
    queues[i] = (uint16_t)num;
  }
  void *slab;
  size_t slab_len;
  CHECKQ(napi_get_buffer_info(env, argv[1], &slab, &slab_len));
  napi_typedarray_type tt;
  size_t meta_len;
  void *meta;
  CHECKQ(napi_get_typedarray_info(env, argv[2], &tt, &meta_len, &meta, NULL, NULL));
  uint32_t slot, maxlen;
  CHECKQ(napi_get_value_uint32(env, argv[3], &slot));
  CHECKQ(napi_get_value_uint32(env, argv[4], &maxlen));
  uint32_t batch = slot ? (uint32_t)(slab_len / slot) : 0;
  if (batch > NFQ_MAX_BATCH) batch = NFQ_MAX_BATCH;
  if (tt != napi_uint32_array || slot < 256 || batch == 0 || meta_len < NFQ_META * batch) {
    napi_throw_range_error(env, NULL, "nfqueue: slab, meta and slot do not fit together");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    napi_value e = throw_errno(env, "socket(AF_NETLINK, NETLINK_NETFILTER)", errno);
    return e;
  }
  struct sockaddr_nl self = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&self, sizeof self) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind(AF_NETLINK)", err);
  }
  // Room for bursts: what does not fit is lost to us (ENOBUFS) and passes
  // (fail-open). FORCE goes past net.core.rmem_max (we have CAP_NET_ADMIN).
  int rcvbuf = 16 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  nfq_t *q = calloc(1, sizeof *q);
  if (!q) {
    close(fd);
    return throw_errno(env, "nfqueue", ENOMEM);
  }
  q->w.fd = fd;
  q->slab = slab;
  q->slot = slot;
  q->batch = batch;
  q->meta = meta;
  for (uint32_t i = 0; i < nqueues; i++) {
    const char *step = "";
    int err = config_queue(q, queues[i], maxlen, &step);
    if (err) {
      close(fd);
      free(q);
      char what[96];
      snprintf(what, sizeof what, "nfnetlink_queue %s of queue %u", step, queues[i]);
      throw_errno(env, what, err);
      return NULL;
    }
  }
  napi_value handle = watched_start(env, &q->w, fd, argv[5], "tcpmitm:nfqueue", on_readable);
  if (!handle) return NULL;
  CHECKQ(napi_create_reference(env, argv[1], 1, &q->slab_ref));
  CHECKQ(napi_create_reference(env, argv[2], 1, &q->meta_ref));
  return handle;
}

// nfqVerdicts(handle, triples: Uint32Array [queue, id, verdict]…, count) -> 0 or the errno of send()
static napi_value js_nfq_verdicts(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  nfq_t *q = (nfq_t *)handle_call(env, info, argv, "nfqueue");
  if (!q) return NULL;
  napi_typedarray_type tt;
  size_t len;
  void *data;
  CHECKQ(napi_get_typedarray_info(env, argv[1], &tt, &len, &data, NULL, NULL));
  uint32_t count;
  CHECKQ(napi_get_value_uint32(env, argv[2], &count));
  if (tt != napi_uint32_array || (size_t)count * 3 > len) {
    napi_throw_range_error(env, NULL, "nfqVerdicts: triples shorter than count");
    return NULL;
  }
  const uint32_t *t = data;
  int err = 0;
  for (uint32_t done = 0; done < count && !err;) {
    uint32_t n = count - done > NFQ_MAX_VERDICTS ? NFQ_MAX_VERDICTS : count - done;
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
      const uint32_t *v = t + 3 * (done + i);
      size_t start = off;
      struct nfqnl_msg_verdict_hdr vh = {.verdict = htonl(v[2]), .id = htonl(v[1])};
      off = put_attr(q->verdicts, begin_msg(q->verdicts, off, NFQNL_MSG_VERDICT, 0, ++q->seq, (uint16_t)v[0]), NFQA_VERDICT_HDR, &vh, sizeof vh);
      end_msg(q->verdicts, start, off);
    }
    if (sendto(q->w.fd, q->verdicts, off, 0, (const struct sockaddr *)&KERNEL, sizeof KERNEL) < 0) err = errno;
    done += n;
  }
  napi_value r;
  CHECKQ(napi_create_int32(env, err, &r));
  return r;
}

// nfqCounts(handle) -> [lost, refused] since the last call
static napi_value js_nfq_counts(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  nfq_t *q = (nfq_t *)handle_call(env, info, argv, "nfqueue");
  if (!q) return NULL;
  napi_value arr, lost, refused;
  CHECKQ(napi_create_array_with_length(env, 2, &arr));
  CHECKQ(napi_create_uint32(env, q->lost, &lost));
  CHECKQ(napi_create_uint32(env, q->refused, &refused));
  CHECKQ(napi_set_element(env, arr, 0, lost));
  CHECKQ(napi_set_element(env, arr, 1, refused));
  q->lost = 0;
  q->refused = 0;
  return arr;
}

// nfqClose(handle): the kernel drops what is still queued (instance_destroy): give verdicts first.
static napi_value js_nfq_close(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  nfq_t *q = (nfq_t *)handle_call(env, info, argv, "nfqueue");
  if (!q) return NULL;
  napi_delete_reference(env, q->slab_ref);
  napi_delete_reference(env, q->meta_ref);
  watched_close(env, &q->w);
  return NULL;
}

void nfqueue_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"nfqOpen", NULL, js_nfq_open, NULL, NULL, NULL, napi_default, NULL},
      {"nfqVerdicts", NULL, js_nfq_verdicts, NULL, NULL, NULL, napi_default, NULL},
      {"nfqCounts", NULL, js_nfq_counts, NULL, NULL, NULL, napi_default, NULL},
      {"nfqClose", NULL, js_nfq_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
