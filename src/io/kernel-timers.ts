// The kernel's own timers of the sockets a terminal UI shows, as `ss -o`
// prints them (timer:(on|keepalive|timewait|persist,EXPIRES,COUNT)): what one
// sock_diag answer says (inet_diag_msg's idiag_timer, idiag_expires,
// idiag_retrans), which sockets are read, and when the next read is due.
// Pure: kernel-timers-worker.ts does the reading.
//
// What the kernel fills in (net/ipv4/inet_diag.c): a full socket reports its
// retransmit timer (1, also the tail loss probe and the reordering timeout,
// with icsk_retransmits), else its zero-window probe timer (4, with
// icsk_probes_out), else sk_timer (2: keepalive, or an orphan's FIN-WAIT-2
// timeout when tcp_fin_timeout exceeds TIME-WAIT's 60 s, with its probes); a
// TIME-WAIT mini-socket its end (3; an orphan's FIN-WAIT-2 mini-socket the
// same, under its own state); a request socket (SYN-RECV) its SYN-ACK timer
// (1, with num_retrans).

import type { Endpoint, TcpState } from '../tcp/state.js';

/** `ss -o`'s names of the kernel's timers (iproute2 misc/ss.c tmr_name). */
export type KernelTimerKind = 'on' | 'keepalive' | 'timewait' | 'persist';

const KIND_BY_CODE: Readonly<Record<number, KernelTimerKind>> = { 1: 'on', 2: 'keepalive', 3: 'timewait', 4: 'persist' };

export interface KernelTimer {
  readonly kind: KernelTimerKind;
  /** Until it fires, as of the read (ms). */
  readonly expiresMs: number;
  /** ss's third field: retransmissions so far (on), probes sent (keepalive, persist), 0 (timewait). */
  readonly count: number;
}

/** One socket's answer: its state, and its timer when one runs. */
export interface KernelSocketTimer {
  readonly conn: number;
  readonly endpoint: Endpoint;
  /** Undefined: no socket on the tuple any more. */
  readonly state: TcpState | undefined;
  readonly timer: KernelTimer | undefined;
}

/** A socket whose timers the UI shows: an endpoint's socket of a connection, its 4-tuple as the kernel probe names it. */
export interface WatchedSocket {
  readonly conn: number;
  readonly endpoint: Endpoint;
  /** "addr:port" of the socket in the endpoint's namespace (the client's socket: local = the client address). */
  readonly local: string;
  readonly remote: string;
}

/** At most this many sockets are read per read (a sock_diag lookup each, 3–20 µs). */
export const MAX_WATCHED = 32;
/** Reads are this far apart (ms) while nothing is about to change. */
export const READ_PERIOD_MS = 1000;
/** …and never closer than this (ms), however soon a timer fires. */
export const MIN_READ_GAP_MS = 200;
/** A timer that fires is read again this long (ms) after: the kernel has rearmed it (a doubled RTO) by then. */
const AFTER_FIRE_MS = 30;

/**
 * An expiry in ms from idiag_expires: kernels before 5.x computed it as
 * jiffies_to_msecs(timeout − jiffies) in unsigned arithmetic, so a timer
 * already overdue (its handler about to run) wraps to ~4·10⁹: that is 0.
 */
export function expiresOf(raw: number): number {
  return raw >= 0x8000_0000 ? 0 : raw;
}

/** The timer of one sock_diag row (idiag_timer code, idiag_expires, idiag_retrans); undefined for none (0) or one ss calls unknown. */
export function timerOf(code: number, expiresMs: number, retrans: number): KernelTimer | undefined {
  const kind = KIND_BY_CODE[code];
  return kind === undefined ? undefined : { kind, expiresMs: expiresOf(expiresMs), count: retrans };
}

/** The sockets to read: at most MAX_WATCHED, one per connection endpoint, in the order given (the UI puts the one it shows first). */
export function boundWatch(sockets: readonly WatchedSocket[]): WatchedSocket[] {
  const seen = new Set<string>();
  const out: WatchedSocket[] = [];
  for (const s of sockets) {
    const key = `${s.conn}|${s.endpoint}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(s);
    if (out.length === MAX_WATCHED) break;
  }
  return out;
}

/**
 * How long (ms) after a read the next one is due: READ_PERIOD_MS, or just
 * after the soonest timer fires (a retransmit, probe or keepalive timer is
 * rearmed then, its count and expiry changed; a TIME-WAIT's socket is gone),
 * never sooner than MIN_READ_GAP_MS. Between reads the UI counts down.
 */
export function nextReadInMs(read: readonly KernelSocketTimer[]): number {
  let next = READ_PERIOD_MS;
  for (const s of read) if (s.timer !== undefined) next = Math.min(next, s.timer.expiresMs + AFTER_FIRE_MS);
  return Math.max(MIN_READ_GAP_MS, next);
}
