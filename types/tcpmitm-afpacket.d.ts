// The surface of tcpmitm's own native addon (native/afpacket/afpacket.c).
declare module 'tcpmitm-afpacket' {
  /** An open AF_PACKET socket; only the functions below may touch it. */
  export type PortHandle = { readonly __afpacket: unique symbol };
  /**
   * Binds a promiscuous packet socket to `ifname` and starts reading. Throws
   * an Error with `errno` when the system refuses, or with `hatype` when the
   * interface is not Ethernet. Each
   * wake-up calls `onBatch(count, 0)` with `meta` holding [offset, length, age in µs since
   * the kernel received it] of
   * `count` frames in `slab` (valid until `onBatch` returns), or
   * `onBatch(-1, errno)` once if reading fails (the port then stops reading).
   */
  export function open(
    ifname: string,
    slab: Buffer,
    meta: Uint32Array,
    slot: number,
    onBatch: (count: number, errno: number) => void,
  ): PortHandle;
  /** Sends `frames[0..count)` with sendmmsg; returns [index, errno, …] for frames the kernel refused. */
  export function send(port: PortHandle, frames: readonly Buffer[], count: number): number[] | undefined;
  export function close(port: PortHandle): void;
  /** Frames the kernel dropped on this socket (receive buffer full) since the last call. */
  export function drops(port: PortHandle): number;
  export function strerror(errno: number): string;

  /** A timerfd on the event loop: microsecond resolution where setTimeout has milliseconds. */
  export type AlarmHandle = { readonly __alarm: unique symbol };
  /** Opens a disarmed alarm; `onFire` runs each time an arming expires. An armed alarm keeps the loop alive, as a timeout does. */
  export function alarmOpen(onFire: () => void): AlarmHandle;
  /** Arms for `us` microseconds from now, replacing any earlier arming (<= 0: at once). */
  export function alarmArm(alarm: AlarmHandle, us: number): void;
  export function alarmCancel(alarm: AlarmHandle): void;
  export function alarmClose(alarm: AlarmHandle): void;

  /** One TCP socket as the kernel's socket diagnostics (inet_diag) report it. */
  export interface DiagSocket {
    /** "198.18.0.1:40000" or "[2001:2::1]:40000"; a v4-mapped address prints as IPv4. */
    readonly local: string;
    readonly remote: string;
    /** The kernel's TCP_* state code (include/net/tcp_states.h). */
    readonly state: number;
    /** 0 for mini-sockets and orphans (no struct socket any more). */
    readonly inode: number;
    /** Milliseconds until the socket's timer fires (TIME-WAIT: its end). */
    readonly expiresMs: number;
    /** Which timer (idiag_timer, as `ss -o` names them): 0 none, 1 retransmit ("on"), 2 keepalive, 3 TIME-WAIT ("timewait"), 4 zero-window probe ("persist"). */
    readonly timer: number;
    /** idiag_retrans: retransmissions so far for timer 1, probes sent for 2 and 4, 0 for 3. */
    readonly retrans: number;
  }
  /** A NETLINK_SOCK_DIAG socket of the namespace at `netnsPath` (/proc/<pid>/ns/net); its fd. Throws with `errno`. */
  export function diagOpen(netnsPath: string): number;
  export function diagClose(fd: number): void;
  /** The socket on that exact 4-tuple, or undefined (a listener is no answer). */
  export function diagLookup(fd: number, local: string, remote: string): DiagSocket | undefined;

  /** An open nfnetlink_queue socket (nfqueue.c); only the functions below may touch it. */
  export type QueueHandle = { readonly __nfqueue: unique symbol };
  /**
   * Binds a NETLINK_NETFILTER socket to `queues` (one or two queue numbers),
   * whole packets, each queue at most `maxLen` packets long, fail-open. Throws
   * an Error with `errno` when the kernel refuses (EBUSY: another process has
   * that queue; EPERM: no CAP_NET_ADMIN). Each wake-up calls `onBatch(count,
   * 0)` with `meta` holding [offset, length, packet id, queue] of `count`
   * packets in `slab` (valid until `onBatch` returns), each an IP packet behind
   * a 14-byte Ethernet header with zero MACs; or `onBatch(-1, errno)` once if
   * reading fails.
   */
  export function nfqOpen(
    queues: readonly number[],
    slab: Buffer,
    meta: Uint32Array,
    slot: number,
    maxLen: number,
    onBatch: (count: number, errno: number) => void,
  ): QueueHandle;
  /** Sends `count` verdicts, `triples` holding [queue, packet id, verdict (NF_DROP 0, NF_ACCEPT 1)] each; 0 or send()'s errno. */
  export function nfqVerdicts(queue: QueueHandle, triples: Uint32Array, count: number): number;
  /** [messages lost to a full socket buffer (ENOBUFS), verdicts the kernel refused] since the last call. */
  export function nfqCounts(queue: QueueHandle): [number, number];
  /** Closes the socket: the kernel drops what is still queued, so give every verdict first. */
  export function nfqClose(queue: QueueHandle): void;
}
