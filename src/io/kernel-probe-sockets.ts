// Pure part of the kernel probe's tracepoint source: turns sock:inet_sock_set_state
// transitions, and what the kernel says of the mini-sockets no tracepoint
// follows, into each lab socket's life as observations — a new socket on a
// tuple ends the old one first; connect()'s port-less first event is matched
// to its socket; orphans are recognised.
//
// Cost. The sockets no tracepoint follows (TIME-WAIT and an orphan's
// FIN-WAIT-2 mini-sockets; a half-closed FIN-WAIT-2 that may become an
// orphan) are looked up one 4-tuple at a time (sock_diag), never by reading
// a whole table: a socket is looked at when a transition needs it, when it is
// due (a TIME-WAIT at its timer's expiry, others at waits that double up to
// MAX_WAIT_S while nothing changes), and when the two views disagree on it
// (`focus`, oldest look first). At most MAX_LOOKUPS_PER_READ lookups and MAX_TRANSITIONS_PER_READ
// transitions per read: a burst of thousands of closes is spread over reads,
// the watermark held back meanwhile,
// so the event loop (and forwarding) is never blocked for long. Work grows with
// the number of changes, not with the number of sockets × reads.

import type { FocusSocket, KernelObservation } from '../engine/kernel-join.js';
import type { TcpState } from '../tcp/state.js';
import { DeadlineQueue } from '../engine/deadline-queue.js';
import { LAB_ENDS, endOfSocket, isMiniSocketRow, isOrphanRow, isTrackedConnection, portOf, type EndsBy } from './kernel-probe-diff.js';
import type { ProcTcpRow } from './proc-net-tcp.js';

export type ProbeNs = 'client' | 'server';

/** One tracepoint transition, its time already on the caller's clock (s). */
export interface Transition {
  readonly t: number;
  readonly local: string;
  readonly remote: string;
  readonly from: TcpState;
  readonly to: TcpState;
}

/** What a lookup of one 4-tuple finds (sock_diag); `expiresMs`: until the socket's timer fires, when known. */
export type LookupRow = Pick<ProcTcpRow, 'local' | 'remote' | 'state' | 'inode'> & { readonly expiresMs?: number };

/** The socket of one namespace on exactly that 4-tuple, or undefined (no listener). */
export type Lookup = (ns: ProbeNs, local: string, remote: string) => LookupRow | undefined;

export type { FocusSocket } from '../engine/kernel-join.js';

/** Lookups per read at most: each is a netlink round trip (3–20 µs), so ~1 ms a read. */
export const MAX_LOOKUPS_PER_READ = 128;
/** Transitions applied per read at most (~1–2 µs each, and what the listeners do with them). */
export const MAX_TRANSITIONS_PER_READ = 1000;
/** A followed socket's first wait (s) before it is looked at again, doubled up to MAX_WAIT_S while nothing changes. */
const FIRST_WAIT_S = 0.005;
const FIRST_WAIT_FW2_S = 0.01;
const MAX_WAIT_S = 1;
/** A socket in focus is looked at again after this long (s) at the soonest. */
const FOCUS_GAP_S = 0.004;



function hostOf(hostPort: string): string {
  return hostPort.slice(0, hostPort.lastIndexOf(':'));
}

interface Socket {
  readonly id: string;
  readonly ns: ProbeNs;
  readonly local: string;
  readonly remote: string;
  state: TcpState;
  /** A timewait mini-socket now (TIME-WAIT or an orphan's FIN-WAIT-2): followed by lookups. */
  mini: boolean;
  orphan: boolean;
  /** When (s) the kernel was last asked about it: a change found at the next look happened after. */
  checkedAt: number;
  /** The wait (s) before the next look, while nothing changes. */
  wait: number;
}

interface PendingConnect {
  readonly ns: ProbeNs;
  readonly host: string;
  readonly remote: string;
  readonly t: number;
}

/** connect()s waiting for their port: bounded, and none older than Linux's SYN retry budget (~127 s). */
const MAX_CONNECTS = 256;
const CONNECT_TTL_S = 180;

export class TraceSockets {
  /** `ends`: which end a socket belongs to (the tracepoint carries no namespace): by the lab's addresses, or the server's port. */
  constructor(private readonly ends: EndsBy = LAB_ENDS) {}

  private readonly sockets = new Map<string, Socket>();
  /** The followed sockets, by when each is next looked at. */
  private readonly due = new DeadlineQueue<Socket>();
  /** Transitions read but not yet applied (the lookup budget ran out), in order, from `head` on. */
  private pending: Transition[] = [];
  private head = 0;
  private connects: PendingConnect[] = [];
  /** Ids ("ns|local|remote") of the sockets in focus: the views disagree on them (see focus()). */
  private readonly focused = new Set<string>();
  /**
   * The followed sockets in focus, by when each was last looked at: the
   * oldest is looked at first, and bounds the watermark. A burst of closes
   * puts thousands in focus for a while; walking them all at every read cost
   * the probe's thread more than everything else it does.
   */
  private readonly focusDue = new DeadlineQueue<Socket>();
  /** Lookups made so far (the probe's work, for measurements). */
  lookups = 0;
  /** Per tuple id: throwaway children of a stale request socket whose SYN-RECV → CLOSE is still to come (see transition()). */
  private readonly throwaway = new Map<string, number>();

  /** Sockets whose state must be kept fresh from now on (`add`: the views disagree on them), or no longer (`remove`). */
  focus(add: readonly FocusSocket[], remove: readonly FocusSocket[]): void {
    for (const f of remove) {
      const id = `${f.ns}|${f.key}`;
      this.focused.delete(id);
      const s = this.sockets.get(id);
      if (s !== undefined) this.focusDue.delete(s);
    }
    for (const f of add) {
      const id = `${f.ns}|${f.key}`;
      this.focused.add(id);
      const s = this.sockets.get(id);
      if (s !== undefined) this.refocus(s);
    }
  }

  /**
   * One read: the transitions read since the last (in order), then the
   * followed sockets in focus or due. `lookup` asks the kernel about one
   * 4-tuple (at most MAX_LOOKUPS_PER_READ times); `now` is when.
   */
  apply(batch: readonly Transition[], lookup: Lookup, now: number): KernelObservation[] {
    let budget = MAX_LOOKUPS_PER_READ;
    const find: Lookup = (ns, local, remote) => {
      budget--;
      this.lookups++;
      return lookup(ns, local, remote);
    };
    const out: KernelObservation[] = [];
    if (this.head === this.pending.length) {
      this.pending = batch.slice();
      this.head = 0;
    } else for (const tr of batch) this.pending.push(tr);
    const last = Math.min(this.pending.length, this.head + MAX_TRANSITIONS_PER_READ);
    for (; this.head < last; this.head++) {
      const tr = this.pending[this.head]!;
      if (budget <= 0 && needsLookup(tr)) break;
      this.transition(tr, find, now, out);
    }
    // What is left is kept from `head`: compacted once the applied part is most of it, not copied at every read.
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head > this.pending.length / 2) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    // The sockets the views disagree on are judged as of the watermark: what the kernel shows of them must be that recent.
    // Those looked at less than FOCUS_GAP_S ago wait (the queue orders them by their last look).
    while (budget > 0) {
      const s = this.focusDue.popDue(now - FOCUS_GAP_S);
      if (s === undefined) break;
      this.check(s, find, now, out);
    }
    while (budget > 0) {
      const s = this.due.popDue(now);
      if (s === undefined) break;
      this.check(s, find, now, out);
    }
    return out;
  }

  /**
   * Up to when (s) the last apply() delivered every change it follows: before
   * the first transition still pending, and no later than the oldest look at
   * a socket in focus. Undefined: as far as the transitions read.
   */
  known(): number | undefined {
    const first = this.pending[this.head];
    const pendingAt = first === undefined ? undefined : first.t - 1e-6;
    const heldBack = this.focusDue.peekDue();
    if (pendingAt === undefined) return heldBack;
    return heldBack === undefined ? pendingAt : Math.min(pendingAt, heldBack);
  }

  /** How many sockets are followed by lookups now. */
  get followedCount(): number {
    return this.due.size;
  }

  private transition(tr: Transition, find: Lookup, now: number, out: KernelObservation[]): void {
    const ns = endOfSocket(tr.local, tr.remote, this.ends);
    if (ns === undefined) return;
    // connect() moves CLOSE → SYN_SENT before it binds a port (sport=0, the
    // addresses already set): kept until the socket's next transition names it.
    if (portOf(tr.local) === 0) {
      if (tr.from === 'CLOSED' && tr.to === 'SYN-SENT') this.noteConnect({ ns, host: hostOf(tr.local), remote: tr.remote, t: tr.t });
      return;
    }
    if (!isTrackedConnection({ local: tr.local, remote: tr.remote, state: tr.to }, this.ends)) return;
    const id = `${ns}|${tr.local}|${tr.remote}`;
    let cur = this.sockets.get(id);
    // A child made from a listener while a full socket lives on the tuple is
    // no new connection: a segment that early demux had tied to the request
    // socket before it reached the child (held in an INPUT queue meanwhile:
    // intercept) makes tcp_check_req() clone another child, which loses the
    // hash dance and is closed at once; tcp_v4_rcv() then looks the segment up
    // again and gives it to the real socket (req_stolen). Ignored, with its close.
    if (tr.from === 'LISTEN' && tr.to === 'SYN-RECV' && cur !== undefined && !cur.mini) {
      this.throwaway.set(id, (this.throwaway.get(id) ?? 0) + 1);
      return;
    }
    const stolen = this.throwaway.get(id);
    if (stolen !== undefined && tr.from === 'SYN-RECV' && tr.to === 'CLOSED') {
      if (stolen > 1) this.throwaway.set(id, stolen - 1);
      else this.throwaway.delete(id);
      return;
    }
    if (tr.from === 'CLOSED' || tr.from === 'LISTEN') {
      // A new socket on the tuple (connect() with a bound port; a child
      // accepted from a listener, which the tracepoint shows leaving LISTEN):
      // the socket held there (a TIME-WAIT a SYN reused) is gone, by now.
      if (cur !== undefined) {
        out.push({ ns, local: tr.local, remote: tr.remote, from: cur.state, to: 'CLOSED', since: Math.min(cur.checkedAt, tr.t), t: tr.t });
        this.drop(cur);
      }
      cur = undefined;
    } else if (cur === undefined) {
      // A socket whose start was not read: connect()'s port-less event, or one older than the probe.
      const started = tr.from === 'SYN-SENT' ? this.takeConnect(ns, tr) : undefined;
      out.push({ ns, local: tr.local, remote: tr.remote, from: 'CLOSED', to: tr.from, t: started?.t ?? tr.t });
    }
    const from = cur?.state ?? tr.from;
    let to = tr.to;
    let mini = false;
    let orphan = cur?.orphan ?? false;
    let newOrphan = false;
    let row: LookupRow | undefined;
    if (needsLookup(tr)) {
      // tcp_time_wait() hashes a mini-socket, then sets the full socket to
      // TCP_CLOSE: the tracepoint says CLOSE, the kernel lists TIME-WAIT — or
      // FIN-WAIT-2 for an orphan whose tcp_fin_timeout now runs. No socket
      // found: none was left (a RST reached it), or its TIME-WAIT already
      // ended — a RST kills a TIME-WAIT at once under tcp_rfc1337=0 (a peer
      // answering a duplicate last ACK sends one within a millisecond), and
      // a look this late cannot tell the two apart: → CLOSED either way.
      row = find(ns, tr.local, tr.remote);
      if (row !== undefined && isMiniSocketRow(row)) {
        to = row.state;
        mini = true;
        newOrphan = to === 'FIN-WAIT-2' && !orphan;
        orphan ||= newOrphan;
      } else row = undefined;
    }
    // Objects built whole, not spread: this runs for every transition of every socket.
    if (newOrphan) out.push({ ns, local: tr.local, remote: tr.remote, from, to, t: tr.t, orphan: true });
    else if (from !== to) out.push({ ns, local: tr.local, remote: tr.remote, from, to, t: tr.t });
    if (cur !== undefined) this.drop(cur);
    if (to === 'CLOSED') {
      this.throwaway.delete(id);
      return;
    }
    const s: Socket = { id, ns, local: tr.local, remote: tr.remote, state: to, mini, orphan, checkedAt: row === undefined ? tr.t : now, wait: 0 };
    this.sockets.set(id, s);
    this.reschedule(s, row, now);
    this.refocus(s);
  }

  /**
   * Mini-sockets change (an orphan's FIN-WAIT-2 gets its FIN: TIME-WAIT) and
   * end without a tracepoint; a half-closed FIN-WAIT-2 socket becomes an
   * orphan when its application closes it (no tracepoint if tcp_fin_timeout
   * exceeds 60 s and it stays a full socket). Each is seen at a look: it
   * happened after the previous one.
   */
  private check(s: Socket, find: Lookup, now: number, out: KernelObservation[]): void {
    const row = find(s.ns, s.local, s.remote);
    const base = { ns: s.ns, local: s.local, remote: s.remote, since: s.checkedAt, t: now };
    s.checkedAt = now;
    if (s.mini) {
      // Anything but a mini-socket on the tuple (a new socket a SYN made of it) means this one ended.
      if (row === undefined || !isMiniSocketRow(row)) {
        out.push({ ...base, from: s.state, to: 'CLOSED' });
        this.drop(s);
        return;
      }
      if (row.state !== s.state) {
        out.push({ ...base, from: s.state, to: row.state });
        s.state = row.state;
        s.wait = 0;
      }
    } else if (row !== undefined && row.state === 'FIN-WAIT-2' && isOrphanRow(row)) {
      s.orphan = true;
      out.push({ ...base, from: s.state, to: s.state, orphan: true });
    }
    this.reschedule(s, row, now);
    this.refocus(s);
  }

  /** Queues a socket in focus by its last look, while lookups follow it; otherwise takes it out. */
  private refocus(s: Socket): void {
    if (this.focused.has(s.id) && followed(s) && this.sockets.get(s.id) === s) this.focusDue.schedule(s, s.checkedAt);
    else this.focusDue.delete(s);
  }

  /** When to look at a socket next (or never: its changes are all tracepoints). */
  private reschedule(s: Socket, row: LookupRow | undefined, now: number): void {
    if (!followed(s)) {
      this.due.delete(s);
      return;
    }
    s.wait = s.wait === 0 ? (s.mini ? FIRST_WAIT_S : FIRST_WAIT_FW2_S) : Math.min(MAX_WAIT_S, s.wait * 2);
    let next = now + s.wait;
    // A TIME-WAIT lasts until its timer (inet_twsk_schedule, TCP_TIMEWAIT_LEN) fires — never earlier,
    // except by a SYN reusing it (a tracepoint) or an RST (tcp_rfc1337=0), which the views' disagreement brings into focus.
    if (s.mini && s.state === 'TIME-WAIT' && row?.expiresMs !== undefined && row.expiresMs > 0) {
      next = Math.max(next, now + row.expiresMs / 1000);
      s.wait = 0;
    }
    this.due.schedule(s, next);
  }

  private drop(s: Socket): void {
    if (this.sockets.get(s.id) === s) this.sockets.delete(s.id);
    this.due.delete(s);
    this.focusDue.delete(s);
  }

  private noteConnect(c: PendingConnect): void {
    this.connects = this.connects.filter((p) => c.t - p.t < CONNECT_TTL_S);
    if (this.connects.length >= MAX_CONNECTS) this.connects.shift();
    this.connects.push(c);
  }

  /** The oldest connect() from the same address to the same peer: connects complete in the order they began, nearly always. */
  private takeConnect(ns: ProbeNs, tr: Transition): PendingConnect | undefined {
    const host = hostOf(tr.local);
    const i = this.connects.findIndex((p) => p.ns === ns && p.host === host && p.remote === tr.remote);
    return i < 0 ? undefined : this.connects.splice(i, 1)[0];
  }
}

/**
 * Whether a "→ CLOSE" may leave a mini-socket behind: tcp_time_wait() is
 * reached only from FIN-WAIT-1 (an orphan's FIN acked, tcp_rcv_state_process),
 * FIN-WAIT-2 (its FIN; close() of a half-closed socket) and CLOSING; every
 * other way to CLOSE is tcp_done() with nothing left.
 */
function needsLookup(tr: Transition): boolean {
  return tr.to === 'CLOSED' && (tr.from === 'FIN-WAIT-1' || tr.from === 'FIN-WAIT-2' || tr.from === 'CLOSING');
}

/** Whether a socket changes without tracepoints, so lookups must follow it. */
function followed(s: Socket): boolean {
  return s.mini || (s.state === 'FIN-WAIT-2' && !s.orphan);
}
