// tcpmitm's frame port: one AF_PACKET socket bound to one interface, read and
// written in batches. libpcap (npm `cap`) makes one send() per frame and one
// JavaScript callback per received frame; on a busy link those two costs are
// most of a forwarder's time. Here a readable socket is drained with
// recvmmsg(2) into a slab the JavaScript side owns, and JavaScript is called
// once per batch; frames go out with sendmmsg(2), many per system call.
//
// Like libpcap on Linux, the port is promiscuous (PACKET_MR_PROMISC), does
// not see the frames it or the host itself sends (PACKET_IGNORE_OUTGOING, and
// sll_pkttype for kernels before 4.20), and puts back an 802.1Q tag that the
// driver took out of the frame (PACKET_AUXDATA, as libpcap's pcap-linux.c does).
// Each frame comes with its age: how long ago the kernel received it
// (SO_TIMESTAMPNS), so that a delay counts from the frame's arrival, not from
// when the event loop got to it.
//
// It also has an alarm with microsecond resolution (a timerfd): Node's
// setTimeout counts whole milliseconds, so a segment delayed by 10 ms would
// leave up to a millisecond late, and the delays tcpmitm applies are meant to
// be precise.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "sockdiag.h"
#include "nfqueue.h"
#include "watched.h"

#define MAX_BATCH 256
// Read at most this many batches per wake-up, so one busy port cannot starve
// the other port or the timers that release delayed frames.
#define MAX_BATCHES_PER_WAKE 8
#define VLAN_TAG_LEN 4
#define CMSG_SPACE_ALL (CMSG_SPACE(sizeof(struct tpacket_auxdata)) + CMSG_SPACE(sizeof(struct timespec)))
#define META_PER_FRAME 3


typedef struct port {
  watched_t w;  // first: a port_t * is a watched_t *
  napi_ref slab_ref;
  napi_ref meta_ref;
  uint8_t *slab;
  size_t slot;  // bytes per frame slot, VLAN_TAG_LEN of them kept free at the start
  uint32_t batch;
  uint32_t *meta;  // [offset, length, age in µs] per frame of the batch
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iovs[MAX_BATCH];
  struct sockaddr_ll names[MAX_BATCH];
  uint8_t cmsgs[MAX_BATCH][CMSG_SPACE_ALL];
} port_t;

typedef struct alarm {
  watched_t w;
} alarm_t;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "afpacket: N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value text, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, NULL, text, &error);
  napi_value errno_value;
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

static void watched_maybe_free(watched_t *w) {
  if (w->uv_closed && w->collected) free(w);
}

static void watched_uv_closed(uv_handle_t *h) {
  watched_t *w = h->data;
  w->uv_closed = 1;
  watched_maybe_free(w);
}

static void watched_collected(napi_env env, void *data, void *hint) {
  watched_t *w = data;
  w->collected = 1;
  watched_maybe_free(w);
}

// Starts watching `fd` (owned from now on) for readability; returns the JavaScript handle.
napi_value watched_start(napi_env env, watched_t *w, int fd, napi_value callback, const char *name, uv_poll_cb on_ready) {
  w->env = env;
  w->fd = fd;
  napi_value resource_name, handle;
  uv_loop_t *loop;
  CHECK(napi_create_reference(env, callback, 1, &w->callback));
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &w->async));
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &w->poll, fd);
  w->poll.data = w;
  uv_poll_start(&w->poll, UV_READABLE, on_ready);
  CHECK(napi_create_external(env, w, watched_collected, NULL, &handle));
  return handle;
}

watched_t *watched_get(napi_env env, napi_value v, const char *what) {
  void *w = NULL;
  if (napi_get_value_external(env, v, &w) != napi_ok || !w || ((watched_t *)w)->closing) {
    char msg[64];
    snprintf(msg, sizeof msg, "afpacket: not an open %s", what);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  return w;
}

// Reads a call's arguments (at most 3), the first being an open handle of
// `what`; NULL (with an exception pending) when that is not so.
watched_t *handle_call(napi_env env, napi_callback_info info, napi_value argv[3], const char *what) {
  size_t argc = 3;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "afpacket: N-API call failed: napi_get_cb_info");
    return NULL;
  }
  return watched_get(env, argv[0], what);
}

void watched_close(napi_env env, watched_t *w) {
  w->closing = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, watched_uv_closed);
  close(w->fd);
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->async);
}

// Puts back the 802.1Q tag the driver moved into the aux data. The frame was
// read VLAN_TAG_LEN bytes into its slot, so the tag fits in front of it.
static uint32_t restore_vlan(port_t *p, uint32_t i, uint32_t *len) {
  uint8_t *slot = p->slab + (size_t)i * p->slot;
  struct msghdr *m = &p->msgs[i].msg_hdr;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
    struct tpacket_auxdata aux;
    memcpy(&aux, CMSG_DATA(c), sizeof aux);
    if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || *len < 2 * ETH_ALEN) break;
    uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q;
    memmove(slot, slot + VLAN_TAG_LEN, 2 * ETH_ALEN);
    uint16_t tag[2] = {htons(tpid), htons(aux.tp_vlan_tci)};
    memcpy(slot + 2 * ETH_ALEN, tag, sizeof tag);
    *len += VLAN_TAG_LEN;
    return 0;
  }
  return VLAN_TAG_LEN;
}

// Calls the watched fd's function with int32 arguments. make_callback, not call_function:
// microtasks (the batched send) run when it returns, as after any I/O callback.
void call_js(watched_t *w, int argc, const int32_t *ints) {
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, args[2], result;
  napi_get_reference_value(env, w->callback, &fn);
  napi_get_global(env, &recv);  // make_callback wants an object as the receiver
  for (int i = 0; i < argc; i++) napi_create_int32(env, ints[i], &args[i]);
  if (napi_make_callback(env, w->async, recv, fn, (size_t)argc, args, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static void call_batch(port_t *p, int32_t count, int32_t err) {
  int32_t args[2] = {count, err};
  call_js(&p->w, 2, args);
}

// Microseconds since the kernel received the frame (SO_TIMESTAMPNS is
// CLOCK_REALTIME: a clock step between arrival and now is clamped to 0..1 s).
static uint32_t frame_age_us(struct msghdr *m, const struct timespec *now) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    struct timespec ts;
    memcpy(&ts, CMSG_DATA(c), sizeof ts);
    int64_t ns = (int64_t)(now->tv_sec - ts.tv_sec) * 1000000000 + (now->tv_nsec - ts.tv_nsec);
    if (ns <= 0) return 0;
    return ns > 1000000000 ? 0 : (uint32_t)(ns / 1000);
  }
  return 0;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  port_t *p = h->data;
  if (status < 0) {
    // libuv says EBADF for any POLLERR; the socket knows the real cause
    // (ENETDOWN once the interface is gone).
    int err = -status;
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(p->w.fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error != 0) err = so_error;
    uv_poll_stop(&p->w.poll);
    call_batch(p, -1, err);
    return;
  }
  for (int round = 0; round < MAX_BATCHES_PER_WAKE && !p->w.closing; round++) {
    for (uint32_t i = 0; i < p->batch; i++) {
      p->iovs[i].iov_base = p->slab + (size_t)i * p->slot + VLAN_TAG_LEN;
      p->iovs[i].iov_len = p->slot - VLAN_TAG_LEN;
      struct msghdr *m = &p->msgs[i].msg_hdr;
      m->msg_name = &p->names[i];
      m->msg_namelen = sizeof p->names[i];
      m->msg_iov = &p->iovs[i];
      m->msg_iovlen = 1;
      m->msg_control = p->cmsgs[i];
      m->msg_controllen = sizeof p->cmsgs[i];
      m->msg_flags = 0;
    }
    int n = recvmmsg(p->w.fd, p->msgs, p->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      // E.g. ENETDOWN once the interface is gone: report once and stop reading.
      int err = errno;
      uv_poll_stop(&p->w.poll);
      call_batch(p, -1, err);
      return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint32_t kept = 0;
    for (int i = 0; i < n; i++) {
      if (p->names[i].sll_pkttype == PACKET_OUTGOING) continue;
      uint32_t len = p->msgs[i].msg_len;
      uint32_t off = restore_vlan(p, i, &len);
      uint32_t *m = p->meta + META_PER_FRAME * kept;
      m[0] = (uint32_t)i * p->slot + off;
      m[1] = len;
      m[2] = frame_age_us(&p->msgs[i].msg_hdr, &now);
      kept++;
    }
    if (kept) call_batch(p, (int32_t)kept, 0);
    if ((uint32_t)n < p->batch) return;
  }
}

static int set_opt(int fd, int level, int name, const void *v, socklen_t len) {
  return setsockopt(fd, level, name, v, len);
}

// open(ifname, slab: Buffer, meta: Uint32Array, slot: number, onBatch(count, errno)) -> handle
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "open(ifname, slab, meta, slot, onBatch)");
    return NULL;
  }
  char ifname[IF_NAMESIZE + 1];
  size_t ifl;
  CHECK(napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &ifl));
  void *slab;
  size_t slab_len;
  CHECK(napi_get_buffer_info(env, argv[1], &slab, &slab_len));
  napi_typedarray_type tt;
  size_t meta_len;
  void *meta;
  CHECK(napi_get_typedarray_info(env, argv[2], &tt, &meta_len, &meta, NULL, NULL));
  uint32_t slot;
  CHECK(napi_get_value_uint32(env, argv[3], &slot));
  if (tt != napi_uint32_array || slot <= VLAN_TAG_LEN + ETH_HLEN || slab_len / slot == 0 || meta_len < META_PER_FRAME * (slab_len / slot)) {
    napi_throw_range_error(env, NULL, "afpacket: slab, meta and slot do not fit together");
    return NULL;
  }
  unsigned ifindex = if_nametoindex(ifname);
  if (!ifindex) return throw_errno(env, ifname, errno);

  // Protocol 0 until bound: a socket made with ETH_P_ALL would queue frames
  // from every interface until bind() narrows it to one.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_PACKET)", errno);
  int one = 1;
  // Room for ~30 ms of a saturated veth while the event loop is busy elsewhere
  // (truesize: a 1514-byte frame takes ~2.3 KiB of it). Drops are counted (js_drops).
  int rcvbuf = 32 * 1024 * 1024;
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = (int)ifindex};
  struct packet_mreq mr = {.mr_ifindex = (int)ifindex, .mr_type = PACKET_MR_PROMISC};
  const char *failed = NULL;
  if (set_opt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one)) failed = "PACKET_AUXDATA";
  else if (set_opt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one)) failed = "SO_TIMESTAMPNS";
  else if (set_opt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) && set_opt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf)) failed = "SO_RCVBUF";
  else if (bind(fd, (struct sockaddr *)&sll, sizeof sll)) failed = "bind";
  else if (set_opt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr)) failed = "PACKET_MR_PROMISC";
  if (failed) {
    int err = errno;
    close(fd);
    return throw_errno(env, failed, err);
  }
  set_opt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);  // Linux >= 4.20; sll_pkttype covers older kernels
  // Only Ethernet links: the bound address says which kind this one is.
  struct sockaddr_ll bound;
  socklen_t bound_len = sizeof bound;
  if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0 && bound.sll_hatype != ARPHRD_ETHER) {
    close(fd);
    char msg[96];
    snprintf(msg, sizeof msg, "%s: not an Ethernet link (ARPHRD type %u)", ifname, bound.sll_hatype);
    napi_value text, error, hatype;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, NULL, text, &error);
    napi_create_uint32(env, bound.sll_hatype, &hatype);
    napi_set_named_property(env, error, "hatype", hatype);
    napi_throw(env, error);
    return NULL;
  }

  port_t *p = calloc(1, sizeof *p);
  if (!p) {
    close(fd);
    return throw_errno(env, "afpacket", ENOMEM);
  }
  p->slab = slab;
  p->slot = slot;
  p->batch = (uint32_t)(slab_len / slot) < MAX_BATCH ? (uint32_t)(slab_len / slot) : MAX_BATCH;
  p->meta = meta;
  CHECK(napi_create_reference(env, argv[1], 1, &p->slab_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &p->meta_ref));
  return watched_start(env, &p->w, fd, argv[4], "tcpmitm:afpacket", on_readable);
}

// send(handle, frames: Buffer[], count) -> undefined, or [index, errno, ...] for frames the kernel refused
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  port_t *p = (port_t *)handle_call(env, info, argv, "port");
  if (!p) return NULL;
  uint32_t count;
  CHECK(napi_get_value_uint32(env, argv[2], &count));
  struct mmsghdr msgs[64];
  struct iovec iovs[64];
  napi_value failures = NULL;
  uint32_t nfail = 0;
  for (uint32_t base = 0; base < count;) {
    uint32_t n = count - base < 64 ? count - base : 64;
    for (uint32_t i = 0; i < n; i++) {
      napi_value el;
      CHECK(napi_get_element(env, argv[1], base + i, &el));
      void *data;
      size_t len;
      CHECK(napi_get_buffer_info(env, el, &data, &len));
      iovs[i].iov_base = data;
      iovs[i].iov_len = len;
      memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint32_t done = 0;
    while (done < n) {
      int r = sendmmsg(p->w.fd, msgs + done, n - done, 0);
      if (r > 0) {
        done += (uint32_t)r;
        continue;
      }
      if (errno == EINTR) continue;
      // sendmmsg reports an error only for the first frame of a call: skip that frame and go on.
      if (!failures) CHECK(napi_create_array(env, &failures));
      napi_value idx, code;
      CHECK(napi_create_uint32(env, base + done, &idx));
      CHECK(napi_create_int32(env, errno, &code));
      CHECK(napi_set_element(env, failures, nfail++, idx));
      CHECK(napi_set_element(env, failures, nfail++, code));
      done++;
    }
    base += n;
  }
  if (failures) return failures;
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

// drops(handle) -> frames the kernel dropped because the receive buffer was full, since the last call
static napi_value js_drops(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  port_t *p = (port_t *)handle_call(env, info, argv, "port");
  if (!p) return NULL;
  struct tpacket_stats st;  // reading it resets it (net/packet/af_packet.c)
  socklen_t len = sizeof st;
  if (getsockopt(p->w.fd, SOL_PACKET, PACKET_STATISTICS, &st, &len)) return throw_errno(env, "PACKET_STATISTICS", errno);
  napi_value n;
  CHECK(napi_create_uint32(env, st.tp_drops, &n));
  return n;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  port_t *p = (port_t *)handle_call(env, info, argv, "port");
  if (!p) return NULL;
  napi_delete_reference(env, p->slab_ref);
  napi_delete_reference(env, p->meta_ref);
  watched_close(env, &p->w);
  return NULL;
}

// ── alarm: a timerfd read through the event loop ─────────────────────────

static void alarm_fired(uv_poll_t *h, int status, int events) {
  watched_t *w = h->data;
  uint64_t expirations;
  if (read(w->fd, &expirations, sizeof expirations) != sizeof expirations) return;  // EAGAIN: disarmed meanwhile
  // Like an expired setTimeout, a fired alarm no longer keeps the loop alive.
  uv_unref((uv_handle_t *)&w->poll);
  call_js(w, 0, NULL);
}

// alarmOpen(onFire) -> handle; the alarm starts disarmed
static napi_value js_alarm_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, "timerfd_create", errno);
  alarm_t *a = calloc(1, sizeof *a);
  if (!a) {
    close(fd);
    return throw_errno(env, "afpacket", ENOMEM);
  }
  napi_value handle = watched_start(env, &a->w, fd, argv[0], "tcpmitm:alarm", alarm_fired);
  if (handle) uv_unref((uv_handle_t *)&a->w.poll);
  return handle;
}

// alarmArm(handle, microseconds from now): replaces any earlier arming; <= 0 fires at once
static napi_value js_alarm_arm(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  alarm_t *a = (alarm_t *)handle_call(env, info, argv, "alarm");
  if (!a) return NULL;
  double us;
  CHECK(napi_get_value_double(env, argv[1], &us));
  // it_value of zero would disarm: the earliest expiry is one nanosecond.
  uint64_t ns = us > 0 ? (uint64_t)(us * 1000.0) : 1;
  if (ns == 0) ns = 1;
  struct itimerspec its = {.it_value = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)}};
  if (timerfd_settime(a->w.fd, 0, &its, NULL)) return throw_errno(env, "timerfd_settime", errno);
  uv_ref((uv_handle_t *)&a->w.poll);
  return NULL;
}

static napi_value js_alarm_cancel(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  alarm_t *a = (alarm_t *)handle_call(env, info, argv, "alarm");
  if (!a) return NULL;
  struct itimerspec off = {0};
  timerfd_settime(a->w.fd, 0, &off, NULL);
  uv_unref((uv_handle_t *)&a->w.poll);
  return NULL;
}

static napi_value js_alarm_close(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  alarm_t *a = (alarm_t *)handle_call(env, info, argv, "alarm");
  if (!a) return NULL;
  watched_close(env, &a->w);
  return NULL;
}

static napi_value js_strerror(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t err;
  CHECK(napi_get_value_int32(env, argv[0], &err));
  napi_value s;
  CHECK(napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &s));
  return s;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"drops", NULL, js_drops, NULL, NULL, NULL, napi_default, NULL},
      {"strerror", NULL, js_strerror, NULL, NULL, NULL, napi_default, NULL},
      {"alarmOpen", NULL, js_alarm_open, NULL, NULL, NULL, napi_default, NULL},
      {"alarmArm", NULL, js_alarm_arm, NULL, NULL, NULL, napi_default, NULL},
      {"alarmCancel", NULL, js_alarm_cancel, NULL, NULL, NULL, napi_default, NULL},
      {"alarmClose", NULL, js_alarm_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  sockdiag_register(env, exports);
  nfqueue_register(env, exports);
  return exports;
}
