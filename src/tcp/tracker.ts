// The connection tracker: per 4-tuple, both endpoints' state machines, driven
// by what each endpoint *sent* and what it was *delivered* (only the inline box
// knows the second). One function per observation decides, as a switch over
// the endpoint's state, citing RFC 9293 and where Linux differs. Pure: time
// comes in as `now` (ms, monotonic).

import type { Seq } from '../packet/seq.js';
import { seq as toSeq, seqAdd, seqGt } from '../packet/seq.js';
import { classify } from './classify.js';
import { REFUSED_CAUSE, SegmentCause, type Cause } from './cause.js';
import { EndpointMachine, type EndpointView } from './endpoint.js';
import type { Role } from './role.js';
import { judgeRst, type RstJudgement } from './rst.js';
import { TcpFlag, type SegmentInfo } from './segment.js';
import { peerOf, type Endpoint, type TcpState } from './state.js';
import { TimerHeap, type TimerEntry } from './timers.js';

export type { EndpointView, EndpointTimer } from './endpoint.js';
export type { RstJudgement, RstVerdict } from './rst.js';

export interface TrackerOptions {
  /** TIME-WAIT length (2MSL). Linux: TCP_TIMEWAIT_LEN, a fixed 60 s. */
  timeWaitMs?: number;
  /**
   * How long an *orphaned* FIN-WAIT-2 lasts before the kernel drops it
   * (net.ipv4.tcp_fin_timeout, 60 s). Linux applies it only to a socket its
   * application has closed (tcp_close() hands it to tcp_time_wait() with this
   * timeout; tcp_keepalive_timer only for SOCK_DEAD): one merely shut down for
   * writing and still held waits for the peer's FIN for ever. The wire cannot
   * tell the two apart, so the timeout runs only once orphaned() says so — a
   * kernel probe saw it; without one it never runs.
   */
  finTimeoutMs?: PerEnd<number>;
  /** A finished record (both endpoints CLOSED) is kept this long after its last segment so late retransmissions and RST replies still find it. Default 10 s. */
  lingerMs?: number;
  /**
   * A record that cannot progress without packets — one endpoint CLOSED or
   * still in the handshake, and no timer running — or that was only ever
   * seen one way (picked up from a lone segment) is forgotten after this
   * long without a segment (bounds memory for refused, abandoned or
   * half-reset connections and floods of random tuples). Default 180 s,
   * above Linux's SYN retry budget (~127 s).
   */
  staleMs?: number;
  /**
   * How long a synchronized record (ESTAB, CLOSE-WAIT, a FIN-WAIT-2 not known
   * to be orphaned) is kept without a segment. Such sockets may rightly stay
   * silent for ever (keepalive is off by default), so this is long: 5 days,
   * conntrack's nf_conntrack_tcp_timeout_established. Only a bound on memory.
   */
  establishedMs?: number;
  /**
   * How long a record is kept without a segment while an endpoint waits for
   * its FIN to be acknowledged (FIN-WAIT-1, CLOSING, LAST-ACK): that endpoint
   * retransmits its FIN, so silence this long means it gave up. Default
   * 1000 s, beyond Linux's tcp_retries2 budget (15 retries, ~924.6 s).
   */
  closingMs?: number;
  /**
   * The most records held at once (conntrack's nf_conntrack_max). A new
   * connection that finds the table full evicts the least recently seen
   * evictable record (see Tracker.isEvictable); when none is, it is not
   * tracked: sent() returns undefined. Default DEFAULT_MAX_CONNECTIONS.
   */
  maxConnections?: number;
  /** net.ipv4.tcp_rfc1337: when true, a RST does not end TIME-WAIT. Linux default false. */
  rfc1337?: PerEnd<boolean>;
}

/** One value for both ends, or one each (the ends' namespaces may be set apart: a lab's sysctls). */
export type PerEnd<T> = T | Readonly<Record<Endpoint, T>>;

function perEnd<T extends number | boolean>(v: PerEnd<T> | undefined, dflt: T): Readonly<Record<Endpoint, T>> {
  if (v === undefined) return { client: dflt, server: dflt };
  return typeof v === 'object' ? v : { client: v, server: v };
}

/**
 * Default maximum of records. A record costs ~1.2 KiB in the tracker, ~1.8
 * KiB with the engine's state; with the rest of the session and V8's slack,
 * a lab session under a 1 M-tuple SYN or ACK flood peaked at 235 / 197 MB
 * of RSS with a full table of 32 768 (bench/flood.js, docs/bench.md): within 256 MB.
 * conntrack's nf_conntrack_max is of the same order on small machines.
 */
export const DEFAULT_MAX_CONNECTIONS = 32_768;

/** Default idle timeouts (ms), see TrackerOptions. */
export const DEFAULT_STALE_MS = 180_000;
export const DEFAULT_CLOSING_MS = 1_000_000;
export const DEFAULT_ESTABLISHED_MS = 5 * 86_400_000;

/** The table's bound and idle timeouts as the command line gives them (--max-connections, --established-timeout, --half-open-timeout). */
export interface TableLimits {
  readonly maxConnections: number;
  /** TrackerOptions.establishedMs, in seconds. */
  readonly establishedTimeoutS: number;
  /** TrackerOptions.staleMs, in seconds. */
  readonly halfOpenTimeoutS: number;
}

export function trackerLimits(l: TableLimits): Pick<TrackerOptions, 'maxConnections' | 'establishedMs' | 'staleMs'> {
  return { maxConnections: l.maxConnections, establishedMs: l.establishedTimeoutS * 1000, staleMs: l.halfOpenTimeoutS * 1000 };
}

/** Why a record was evicted to make room: it is counted by kind. */
export type EvictionKind = 'half-open' | 'picked-up' | 'closed';

/** What bounding the table did so far (counters only grow). */
export interface TrackerBounds {
  /** Records evicted for room: half-open (handshake not done), picked up mid-stream, or finished (CLOSED/TIME-WAIT). */
  evictedHalfOpen: number;
  evictedPickedUp: number;
  evictedClosed: number;
  /** Records forgotten after their idle timeout (not finished ones lingering, which are counted nowhere). */
  expired: number;
  /** Segments that would have started a record while the table was full of records that may not be evicted. */
  untracked: number;
}

export interface StateChange {
  readonly conn: number;
  readonly endpoint: Endpoint;
  readonly from: TcpState;
  readonly to: TcpState;
  /** "sent FIN+ACK seq=101 ack=1", "delivered ACK seq=1 ack=102", "timer 2MSL" (seq/ack relative to ISNs, see cause.ts). */
  readonly cause: string;
  readonly t: number;
}

export interface ConnectionView {
  readonly id: number;
  readonly family: 4 | 6;
  readonly client: { readonly addr: string; readonly port: number };
  readonly server: { readonly addr: string; readonly port: number };
  /** First seen mid-stream (no SYN): states before that are unknown, not invented. */
  readonly pickedUp: boolean;
  readonly clientEnd: EndpointView;
  readonly serverEnd: EndpointView;
  readonly createdAt: number;
  /** Time of the last segment sent or delivered on it. */
  readonly lastSeen: number;
  /** True once a new SYN on the same 4-tuple started a newer record; lookup() no longer finds it. */
  readonly superseded: boolean;
  /**
   * True when the server answered the SYN with a RST from LISTEN: nothing
   * listened on its port, so the server endpoint never existed. Its state
   * stays LISTEN (it never had a socket of its own) and no state change is
   * ever reported for it; the client goes CLOSED with ECONNREFUSED.
   */
  readonly refused: boolean;
}

export interface SentResult {
  readonly conn: ConnectionView;
  readonly from: Endpoint;
  readonly role: Role;
  /** True when this segment created the record (a SYN, or a picked-up connection). */
  readonly isNew: boolean;
  /** May include changes of a superseded record (its TIME-WAIT reused by this SYN). */
  readonly changes: readonly StateChange[];
}

export interface DeliveryResult {
  /** Undefined when no record matches the segment's 4-tuple. */
  readonly conn?: ConnectionView;
  readonly to?: Endpoint;
  readonly changes: StateChange[];
  /** Only for a RST: what the receiver did with it. */
  readonly rst?: RstJudgement;
}

const CLIENT = 0;
const SERVER = 1;
const GC = 2;

const NO_CHANGES: readonly StateChange[] = Object.freeze([]);
const NO_RST: readonly { readonly to: Endpoint; readonly rst: undefined }[] = [Object.freeze({ to: 'client', rst: undefined }), Object.freeze({ to: 'server', rst: undefined })];

class Connection implements ConnectionView {
  readonly c: EndpointMachine;
  readonly s: EndpointMachine;
  lastSeen: number;
  superseded = false;
  refused = false;
  /** Dropped from the tracker's maps (finished, stale or superseded). */
  forgotten = false;
  /** The record this one superseded, while that one still has a TIME-WAIT endpoint. */
  predecessor?: number;
  /** Per endpoint (CLIENT, SERVER): when the kernel made its socket an orphan, and when it entered FIN-WAIT-2. */
  readonly orphanedAt: [number | undefined, number | undefined] = [undefined, undefined];
  readonly finWait2At: [number | undefined, number | undefined] = [undefined, undefined];
  gcGen = 0;
  gcAt = Infinity;
  /** Which endpoints have sent a segment (bit 1 client, bit 2 server). */
  sentBy = 0;
  /**
   * conntrack's IPS_ASSURED: both endpoints have sent and the handshake is
   * done. Never evicted for room unless picked up (see Tracker.isEvictable).
   */
  assured = false;

  constructor(
    readonly id: number,
    readonly family: 4 | 6,
    readonly key: string,
    readonly client: { readonly addr: string; readonly port: number },
    readonly server: { readonly addr: string; readonly port: number },
    readonly pickedUp: boolean,
    readonly createdAt: number,
    clientState: TcpState,
    serverState: TcpState,
  ) {
    this.c = new EndpointMachine('client', client.addr, client.port, clientState);
    this.s = new EndpointMachine('server', server.addr, server.port, serverState);
    this.lastSeen = createdAt;
  }

  get clientEnd(): EndpointView {
    return this.c;
  }

  get serverEnd(): EndpointView {
    return this.s;
  }

  end(e: Endpoint): EndpointMachine {
    return e === 'client' ? this.c : this.s;
  }

  /** Which endpoint owns (addr, port); the server when it is not the client. */
  which(addr: string, port: number): Endpoint {
    return addr === this.client.addr && port === this.client.port ? 'client' : 'server';
  }
}

/** The segment with its numbers typed as sequence numbers. */
interface Seg {
  readonly seq: Seq;
  readonly ack: Seq;
  readonly flags: number;
  readonly payloadLength: number;
  readonly window: number;
  readonly windowScale?: number;
}

/** The segment itself when its numbers are already unsigned 32-bit (a decoded frame's always are): no copy per segment. */
function asSeg(s: SegmentInfo): Seg {
  if (s.seq >>> 0 === s.seq && s.ack >>> 0 === s.ack) return s as unknown as Seg;
  return {
    seq: toSeq(s.seq),
    ack: toSeq(s.ack),
    flags: s.flags,
    payloadLength: s.payloadLength,
    window: s.window,
    ...(s.windowScale !== undefined ? { windowScale: s.windowScale } : {}),
  };
}

/** The same key from both directions: the end with the lower (port, address) first. */
function tupleKey(family: 4 | 6, aAddr: string, aPort: number, bAddr: string, bPort: number): string {
  const aFirst = aPort < bPort || (aPort === bPort && aAddr < bAddr);
  return aFirst ? family + '|' + aAddr + '|' + aPort + '|' + bAddr + '|' + bPort : family + '|' + bAddr + '|' + bPort + '|' + aAddr + '|' + aPort;
}

function keyOf(s: SegmentInfo): string {
  return tupleKey(s.family, s.srcAddr, s.srcPort, s.dstAddr, s.dstPort);
}

/** Whether `s` travels on `c`'s 4-tuple, either way (no key string needed). */
function onTuple(c: Connection, s: SegmentInfo): boolean {
  if (c.family !== s.family) return false;
  const cl = c.client;
  const sv = c.server;
  return (
    (s.srcPort === cl.port && s.dstPort === sv.port && s.srcAddr === cl.addr && s.dstAddr === sv.addr) ||
    (s.srcPort === sv.port && s.dstPort === cl.port && s.srcAddr === sv.addr && s.dstAddr === cl.addr)
  );
}

const has = (flags: number, f: number): boolean => (flags & f) !== 0;

/**
 * A state change's cause, made where a state changes: a cause object built
 * for every segment, though most change nothing, cost the tracker per frame.
 */
function sentCause(seg: Seg, sender: EndpointMachine, peer: EndpointMachine): SegmentCause {
  return new SegmentCause('sent', seg, sender.isn, peer.isn);
}

function deliveredCause(seg: Seg, receiver: EndpointMachine, peer: EndpointMachine): SegmentCause {
  return new SegmentCause('delivered', seg, peer.isn, receiver.isn);
}

/** Endpoint states in which it cannot progress without segments or has none to progress. */
function isIdleState(s: TcpState): boolean {
  return s === 'CLOSED' || s === 'LISTEN' || s === 'SYN-SENT' || s === 'SYN-RECV';
}

function isGone(s: TcpState): boolean {
  return s === 'CLOSED' || s === 'LISTEN';
}

function isHandshake(s: TcpState): boolean {
  return s === 'SYN-SENT' || s === 'SYN-RECV';
}

/** States whose endpoint retransmits its FIN until it is acknowledged. */
function isFinRetransmitting(s: TcpState): boolean {
  return s === 'FIN-WAIT-1' || s === 'CLOSING' || s === 'LAST-ACK';
}

/** No endpoint has a live socket that matters: both gone, or TIME-WAIT beside a gone one. */
function isFinished(conn: Connection): boolean {
  const c = conn.c.state;
  const s = conn.s.state;
  return (isGone(c) || c === 'TIME-WAIT') && (isGone(s) || s === 'TIME-WAIT');
}

export class Tracker {
  private readonly timeWaitMs: number;
  private readonly finTimeoutMs: Readonly<Record<Endpoint, number>>;
  private readonly lingerMs: number;
  private readonly staleMs: number;
  private readonly closingMs: number;
  private readonly establishedMs: number;
  readonly maxConnections: number;
  private readonly rfc1337: Readonly<Record<Endpoint, boolean>>;
  private readonly byKey = new Map<string, Connection>();
  /** The state changes of the segment being handled (see takeScratch). */
  private readonly scratch: StateChange[] = [];
  private readonly byId = new Map<number, Connection>();
  /** Timer keys are id * 4 + CLIENT | SERVER | GC. */
  private readonly heap = new TimerHeap<TimerEntry<number>>();
  private nextId = 1;
  private lastFound: Connection | undefined;
  private forgottenIds: number[] = [];
  /**
   * Records that may be evicted for room, least recently seen first (a Map
   * keeps insertion order: a record seen again is moved to the end).
   */
  private readonly evictable = new Map<number, Connection>();
  readonly bounds: TrackerBounds = { evictedHalfOpen: 0, evictedPickedUp: 0, evictedClosed: 0, expired: 0, untracked: 0 };

  constructor(opts: TrackerOptions = {}) {
    this.timeWaitMs = opts.timeWaitMs ?? 60_000;
    this.finTimeoutMs = perEnd(opts.finTimeoutMs, 60_000);
    this.lingerMs = opts.lingerMs ?? 10_000;
    this.staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
    this.closingMs = opts.closingMs ?? DEFAULT_CLOSING_MS;
    this.establishedMs = opts.establishedMs ?? DEFAULT_ESTABLISHED_MS;
    this.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!(this.maxConnections >= 1)) throw new RangeError(`maxConnections must be at least 1, not ${this.maxConnections}`);
    this.rfc1337 = perEnd(opts.rfc1337, false);
  }

  /** Number of records held (superseded ones with a TIME-WAIT endpoint included). */
  get size(): number {
    return this.byId.size;
  }

  /** Ids of the records forgotten since the last call (so owners of per-connection state can free it). */
  drainForgotten(): number[] {
    const ids = this.forgottenIds;
    if (ids.length === 0) return ids;
    this.forgottenIds = [];
    return ids;
  }

  /** Whether drainForgotten() has ids to give (cheap: for a check per segment). */
  get hasForgotten(): boolean {
    return this.forgottenIds.length > 0;
  }

  lookup(seg: SegmentInfo): ConnectionView | undefined {
    return this.find(seg);
  }

  /**
   * The current record of a segment's 4-tuple. Consecutive segments mostly
   * belong to the same connection: checking the last one found first spares
   * building a key string for nearly every segment of a bulk transfer.
   */
  private find(info: SegmentInfo): Connection | undefined {
    const last = this.lastFound;
    if (last !== undefined && !last.superseded && !last.forgotten && onTuple(last, info)) return last;
    const conn = this.byKey.get(keyOf(info));
    if (conn !== undefined) this.lastFound = conn;
    return conn;
  }

  get(id: number): ConnectionView | undefined {
    return this.byId.get(id);
  }

  connections(): IterableIterator<ConnectionView> {
    return this.byId.values();
  }

  /**
   * A segment captured from its sender: it has left the sender. Assigns the
   * role (from the bookkeeping before this segment), then updates the sender.
   * Undefined when it would start a record and the table is full of records
   * that may not be evicted: the segment is not tracked (counted in
   * bounds.untracked); the caller passes it on untouched.
   */
  sent(info: SegmentInfo, now: number): SentResult | undefined {
    const seg = asSeg(info);
    const changes = this.scratch;
    let conn = this.find(info);
    let isNew = false;
    const pureSyn = has(seg.flags, TcpFlag.SYN) && !has(seg.flags, TcpFlag.ACK) && !has(seg.flags, TcpFlag.RST);
    if (pureSyn && (conn === undefined || !this.isSynRetransmission(conn, info, seg))) {
      if (!this.makeRoom()) return this.untracked(changes);
      conn = this.open(info, now, changes);
      isNew = true;
    } else if (conn === undefined) {
      if (!this.makeRoom()) return this.untracked(changes);
      conn = this.pickUp(info, seg, now);
      isNew = true;
    }
    const from = conn.which(info.srcAddr, info.srcPort);
    const role = classify(seg, conn.end(from), conn.end(peerOf(from)));
    this.applySent(conn, from, seg, now, changes);
    conn.sentBy |= from === 'client' ? 1 : 2;
    conn.lastSeen = now;
    this.scheduleGc(conn, now);
    this.touch(conn);
    return { conn, from, role, isNew, changes: this.takeScratch() };
  }

  /** A segment delivered to its receiver (re-sent unchanged or forged by tcpmitm). Returns the state changes. */
  delivered(info: SegmentInfo, now: number): readonly StateChange[] {
    const conn = this.find(info);
    if (conn === undefined) return NO_CHANGES;
    this.applyDelivery(conn, info, now);
    return this.takeScratch();
  }

  /** As delivered(), also saying which record and endpoint it reached and what a RST did. */
  deliver(info: SegmentInfo, now: number): DeliveryResult {
    const conn = this.find(info);
    if (conn === undefined) return { changes: [] };
    const { to, rst } = this.applyDelivery(conn, info, now);
    const changes = [...this.takeScratch()];
    return rst === undefined ? { conn, to, changes } : { conn, to, changes, rst };
  }

  /** delivered()'s work on `conn`; the changes are left in the scratch list. */
  private applyDelivery(conn: Connection, info: SegmentInfo, now: number): { to: Endpoint; rst: RstJudgement | undefined } {
    const seg = asSeg(info);
    const changes = this.scratch;
    const to = conn.which(info.dstAddr, info.dstPort);
    if (has(seg.flags, TcpFlag.SYN) && !has(seg.flags, TcpFlag.ACK) && conn.predecessor !== undefined) {
      this.reuseTimeWait(conn, info, now, changes);
    }
    const rst = this.applyDelivered(conn, to, seg, now, changes);
    conn.lastSeen = now;
    this.scheduleGc(conn, now);
    this.touch(conn);
    return rst === undefined ? NO_RST[to === 'client' ? 0 : 1]! : { to, rst };
  }

  /**
   * The changes gathered in the scratch list, which is emptied: most segments
   * change nothing, and they share one empty list instead of a new one each.
   */
  private takeScratch(): readonly StateChange[] {
    const ch = this.scratch;
    if (ch.length === 0) return NO_CHANGES;
    return ch.splice(0);
  }

  /** Fires timers due at `now` (2MSL, tcp_fin_timeout) and forgets finished records. */
  advance(now: number): StateChange[] {
    const changes: StateChange[] = [];
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined || top.at > now) break;
      this.heap.pop();
      const conn = this.byId.get(Math.floor(top.key / 4));
      if (conn === undefined) continue;
      const what = top.key % 4;
      if (what === GC) {
        if (top.gen !== conn.gcGen) continue;
        conn.gcAt = Infinity;
        this.collect(conn, now);
        continue;
      }
      const which: Endpoint = what === CLIENT ? 'client' : 'server';
      const ep = conn.end(which);
      if (ep.timer === undefined || top.gen !== ep.timerGen) continue;
      // Linux: TIME-WAIT's tw sock and an orphaned FIN-WAIT-2 die silently (no RST).
      const cause = ep.timer.kind === '2MSL' ? 'timer 2MSL' : 'timer tcp_fin_timeout (orphaned: its application closed it)';
      this.setState(conn, which, 'CLOSED', cause, top.at, changes);
      this.scheduleGc(conn, now);
      if (!conn.forgotten) this.touch(conn, false);
    }
    return changes;
  }

  /**
   * The kernel made `endpoint`'s socket an orphan at `at` (its application
   * closed it; a kernel probe saw it): tcp_fin_timeout then runs from that
   * moment or from entering FIN-WAIT-2, whichever is later (tcp_close() and
   * tcp_rcv_state_process() start it at either), unless the FIN comes first.
   */
  orphaned(id: number, endpoint: Endpoint, at: number): void {
    const conn = this.byId.get(id);
    const i = endpoint === 'client' ? CLIENT : SERVER;
    if (conn === undefined || conn.orphanedAt[i] !== undefined) return;
    conn.orphanedAt[i] = at;
    if (conn.end(endpoint).state === 'FIN-WAIT-2') this.startFinTimeout(conn, endpoint);
  }

  /** The earliest time advance() has work to do, if any. */
  nextDeadline(): number | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined) return undefined;
      if (this.isLive(top.key, top.gen)) return top.at;
      this.heap.pop();
    }
  }

  /**
   * The (seq, ack) a forged RST must carry to be accepted by `to`: seq = its
   * rcv_nxt (Linux accepts only an exact match, RFC 5961 §3.2), ack = its
   * snd_nxt (needed in SYN-SENT, harmless elsewhere). Undefined when `to` has
   * no socket to reset or its numbers are not known.
   */
  rstFor(id: number, to: Endpoint): { seq: Seq; ack: Seq } | undefined {
    const conn = this.byId.get(id);
    if (conn === undefined) return undefined;
    const ep = conn.end(to);
    if (isGone(ep.state) || ep.sndNxt === undefined) return undefined;
    // SYN-SENT checks only the ACK (RFC 9293 §3.10.7.3); its rcv_nxt is not known yet.
    if (ep.state === 'SYN-SENT') return { seq: ep.rcvNxt ?? toSeq(0), ack: ep.sndNxt };
    if (ep.rcvNxt === undefined) return undefined;
    return { seq: ep.rcvNxt, ack: ep.sndNxt };
  }

  /** What a RST with this seq (and ack) would do if delivered to `to` now; changes nothing. */
  judgeRst(id: number, to: Endpoint, seqNo: number, ackNo = 0): RstJudgement | undefined {
    const conn = this.byId.get(id);
    if (conn === undefined) return undefined;
    return judgeRst(conn.end(to), { seq: toSeq(seqNo), ack: toSeq(ackNo), flags: TcpFlag.RST | TcpFlag.ACK }, { rfc1337: this.rfc1337[to] });
  }

  // ---- record lifecycle -------------------------------------------------

  private isSynRetransmission(conn: Connection, info: SegmentInfo, seg: Seg): boolean {
    return (
      conn.which(info.srcAddr, info.srcPort) === 'client' &&
      conn.c.state === 'SYN-SENT' &&
      conn.c.isn === seg.seq
    );
  }

  /**
   * A SYN that is not a retransmission starts a new record (new id). A record
   * already on the 4-tuple is superseded: if the SYN's sender holds it in
   * TIME-WAIT, Linux reuses that TIME-WAIT (tcp_tw_reuse / tcp_twsk_unique)
   * and it ends now; a TIME-WAIT on the other side ends when the SYN is
   * delivered to it (reuseTimeWait). A superseded record with no TIME-WAIT is
   * forgotten at once.
   */
  private open(info: SegmentInfo, now: number, changes: StateChange[]): Connection {
    const key = keyOf(info);
    const id = this.nextId++;
    const old = this.byKey.get(key);
    const conn = new Connection(
      id,
      info.family,
      key,
      { addr: info.srcAddr, port: info.srcPort },
      { addr: info.dstAddr, port: info.dstPort },
      false,
      now,
      'CLOSED',
      // The server's side of a new connection is its listener (or nothing)
      // until it answers the SYN: with a SYN-ACK (SYN-RECV) or a RST (refused).
      'LISTEN',
    );
    if (old !== undefined) {
      old.superseded = true;
      const sender = old.which(info.srcAddr, info.srcPort);
      if (old.end(sender).state === 'TIME-WAIT') {
        this.setState(old, sender, 'CLOSED', `sent SYN seq=0 on its 4-tuple (TIME-WAIT reused by conn ${id})`, now, changes);
      }
      if (old.c.state === 'TIME-WAIT' || old.s.state === 'TIME-WAIT') conn.predecessor = old.id;
      else this.forget(old);
    }
    this.byKey.set(key, conn);
    this.byId.set(id, conn);
    return conn;
  }

  /**
   * A connection first seen mid-stream: both endpoints are taken as ESTAB (or
   * SYN-SENT/SYN-RECV when the first segment is a SYN-ACK), no history is
   * invented. Which side is the server is a guess: the lower port (a service
   * port is usually below the ephemeral range), the destination on a tie.
   */
  private pickUp(info: SegmentInfo, seg: Seg, now: number): Connection {
    const synAck = has(seg.flags, TcpFlag.SYN) && has(seg.flags, TcpFlag.ACK);
    const srcIsServer = synAck || info.srcPort < info.dstPort;
    const src = { addr: info.srcAddr, port: info.srcPort };
    const dst = { addr: info.dstAddr, port: info.dstPort };
    const conn = new Connection(
      this.nextId++,
      info.family,
      keyOf(info),
      srcIsServer ? dst : src,
      srcIsServer ? src : dst,
      true,
      now,
      synAck ? 'SYN-SENT' : 'ESTAB',
      synAck ? 'SYN-RECV' : 'ESTAB',
    );
    // The sender's ACK proves the peer has sent at least up to it.
    if (has(seg.flags, TcpFlag.ACK)) conn.end(srcIsServer ? 'client' : 'server').noteSent(seg.ack);
    this.byKey.set(conn.key, conn);
    this.byId.set(conn.id, conn);
    return conn;
  }

  /** tcp_timewait_state_process(): a new SYN delivered to a TIME-WAIT socket of the superseded record ends it (TCP_TW_SYN) and goes to the listener. */
  private reuseTimeWait(conn: Connection, info: SegmentInfo, now: number, changes: StateChange[]): void {
    const old = this.byId.get(conn.predecessor!);
    if (old === undefined) return;
    const to = old.which(info.dstAddr, info.dstPort);
    if (old.end(to).state !== 'TIME-WAIT') return;
    // Linux accepts it when seq is after rcv_nxt or (timestamps, on by default) newer; the tracker assumes so.
    this.setState(old, to, 'CLOSED', `delivered SYN seq=0 of new connection ${conn.id} on its 4-tuple`, now, changes);
    this.scheduleGc(old, now);
  }

  private forget(conn: Connection): void {
    conn.forgotten = true;
    this.forgottenIds.push(conn.id);
    this.byId.delete(conn.id);
    this.evictable.delete(conn.id);
    if (this.byKey.get(conn.key) === conn) this.byKey.delete(conn.key);
    if (this.lastFound === conn) this.lastFound = undefined;
  }

  // ---- the bound (conntrack's nf_conntrack_max and early_drop) -----------

  /**
   * Which records may be evicted for room, as conntrack's early_drop takes
   * only records not IPS_ASSURED: a handshake not (yet) completed — a SYN
   * flood's records —, a record that has seen one direction only, a finished
   * one (CLOSED or TIME-WAIT: nothing left but a linger). A record picked up
   * mid-stream is evictable even once both ways were seen: its next segment
   * picks it up again, so little is lost (a record seen from its SYN would
   * lose its ISNs and history for good).
   */
  private isEvictable(conn: Connection): boolean {
    return !conn.assured || conn.pickedUp || isFinished(conn);
  }

  /** After a segment or timer: updates `assured` and the record's place among the evictable (moved to the end when `seen`). */
  private touch(conn: Connection, seen = true): void {
    if (conn.forgotten) return;
    if (!conn.assured && conn.sentBy === 3 && !isHandshake(conn.c.state) && !isHandshake(conn.s.state) && conn.s.state !== 'LISTEN') conn.assured = true;
    if (this.isEvictable(conn)) {
      if (seen) this.evictable.delete(conn.id);
      else if (this.evictable.has(conn.id)) return;
      this.evictable.set(conn.id, conn);
    } else {
      this.evictable.delete(conn.id);
    }
  }

  /**
   * Room for one more record: evicts the least recently seen evictable one
   * while the table is full. False when nothing may be evicted.
   */
  private makeRoom(): boolean {
    while (this.byId.size >= this.maxConnections) {
      const victim = this.evictable.values().next();
      if (victim.done === true) return false;
      this.evict(victim.value);
    }
    return true;
  }

  private evict(conn: Connection): void {
    const kind = this.evictionKind(conn);
    if (kind === 'half-open') this.bounds.evictedHalfOpen++;
    else if (kind === 'picked-up') this.bounds.evictedPickedUp++;
    else this.bounds.evictedClosed++;
    // Its successor (if a TIME-WAIT kept it as predecessor) simply finds no predecessor any more.
    this.forget(conn);
  }

  private evictionKind(conn: Connection): EvictionKind {
    if (isFinished(conn)) return 'closed';
    if (!conn.pickedUp || isHandshake(conn.c.state) || isHandshake(conn.s.state)) return 'half-open';
    return 'picked-up';
  }

  private untracked(changes: StateChange[]): undefined {
    changes.length = 0;
    this.bounds.untracked++;
    return undefined;
  }

  /**
   * When a record may be forgotten: finished → after lingerMs, superseded and
   * finished → now; with a timer running → when it has run (decided then);
   * otherwise after its idle timeout: staleMs while it cannot progress
   * without segments (an endpoint CLOSED or in the handshake) or was only
   * ever seen one way (picked up from a lone segment: a flood of random
   * tuples), closingMs while a FIN waits for its ACK, establishedMs else.
   */
  private gcDue(conn: Connection): number | undefined {
    const c = conn.c.state;
    const s = conn.s.state;
    if (isGone(c) && isGone(s)) return conn.superseded ? conn.lastSeen : conn.lastSeen + this.lingerMs;
    if (conn.c.timer !== undefined || conn.s.timer !== undefined) return undefined;
    if (isIdleState(c) || isIdleState(s) || conn.sentBy !== 3) return conn.lastSeen + this.staleMs;
    if (isFinRetransmitting(c) || isFinRetransmitting(s)) return conn.lastSeen + this.closingMs;
    return conn.lastSeen + this.establishedMs;
  }

  private scheduleGc(conn: Connection, now: number): void {
    const due = this.gcDue(conn);
    if (due === undefined || due >= conn.gcAt) return;
    if (due <= now && conn.superseded) {
      this.forget(conn);
      return;
    }
    conn.gcAt = due;
    this.pushTimer(due, conn.id * 4 + GC, ++conn.gcGen);
  }

  /**
   * Restarted timers leave superseded entries behind (a stale-check pushed at
   * SYN time lives staleMs); when they outnumber live ones the heap is
   * rebuilt, so its size stays proportional to the records held.
   */
  private pushTimer(at: number, key: number, gen: number): void {
    if (this.heap.size > 4 * this.byId.size + 1024) this.heap.retain((e) => this.isLive(e.key, e.gen));
    this.heap.push({ at, key, gen });
  }

  private collect(conn: Connection, now: number): void {
    const due = this.gcDue(conn);
    if (due === undefined) return;
    if (due > now) return this.scheduleGc(conn, now);
    if (!(isGone(conn.c.state) && isGone(conn.s.state))) this.bounds.expired++;
    this.forget(conn);
  }

  private isLive(key: number, gen: number): boolean {
    const conn = this.byId.get(Math.floor(key / 4));
    if (conn === undefined) return false;
    const what = key % 4;
    if (what === GC) return gen === conn.gcGen && conn.gcAt !== Infinity;
    const ep = conn.end(what === CLIENT ? 'client' : 'server');
    return ep.timer !== undefined && gen === ep.timerGen;
  }

  // ---- the state machine ------------------------------------------------

  /** Moves one endpoint, starts or stops its timer, records the change. */
  private setState(conn: Connection, which: Endpoint, to: TcpState, cause: Cause, now: number, changes: StateChange[]): void {
    const ep = conn.end(which);
    const from = ep.state;
    if (from === to) return;
    ep.state = to;
    ep.clearTimer();
    if (to === 'TIME-WAIT') this.startTimer(conn, which, '2MSL', now + this.timeWaitMs);
    else if (to === 'FIN-WAIT-2') {
      conn.finWait2At[which === 'client' ? CLIENT : SERVER] = now;
      this.startFinTimeout(conn, which);
    }
    changes.push({ conn: conn.id, endpoint: which, from, to, cause: String(cause), t: now });
  }

  /** An orphan's FIN-WAIT-2 ends tcp_fin_timeout after it began; a socket not known to be orphaned has no timer. */
  private startFinTimeout(conn: Connection, which: Endpoint): void {
    const i = which === 'client' ? CLIENT : SERVER;
    const orphanedAt = conn.orphanedAt[i];
    const timeout = this.finTimeoutMs[which];
    if (orphanedAt === undefined || !Number.isFinite(timeout)) return;
    this.startTimer(conn, which, 'fin-timeout', Math.max(orphanedAt, conn.finWait2At[i] ?? orphanedAt) + timeout);
  }

  private startTimer(conn: Connection, which: Endpoint, kind: '2MSL' | 'fin-timeout', at: number): void {
    const ep = conn.end(which);
    ep.setTimer(kind, at);
    this.pushTimer(at, conn.id * 4 + (which === 'client' ? CLIENT : SERVER), ep.timerGen);
  }

  /** What sending this segment does to its sender (RFC 9293 §3.10.4 CLOSE, §3.10.5 ABORT; §3.10.1 OPEN). */
  private applySent(conn: Connection, from: Endpoint, seg: Seg, now: number, changes: StateChange[]): void {
    const ep = conn.end(from);
    const peer = conn.end(peerOf(from));
    const f = seg.flags;
    const syn = has(f, TcpFlag.SYN);
    const fin = has(f, TcpFlag.FIN);
    const rst = has(f, TcpFlag.RST);
    const ack = has(f, TcpFlag.ACK);

    if (!rst) {
      if (syn && (ep.isn === undefined || ep.state === 'CLOSED' || ep.state === 'LISTEN')) ep.isn = seg.seq;
      if (syn && seg.windowScale !== undefined) ep.offeredScale = Math.min(seg.windowScale, 14);
      if (ack) ep.noteAckSent(seg.ack);
      ep.noteSent(seqAdd(seg.seq, seg.payloadLength + (syn ? 1 : 0) + (fin ? 1 : 0)));
      if (fin && ep.finSeq === undefined) ep.finSeq = seqAdd(seg.seq, seg.payloadLength);
      // RFC 7323 §2.2: the window field of a SYN is never scaled; scaling is in force only when both SYNs offered it.
      if (syn && ack) {
        const on = ep.offeredScale !== undefined && peer.offeredScale !== undefined;
        ep.windowScale = on ? ep.offeredScale! : 0;
        peer.windowScale = on ? peer.offeredScale! : 0;
      }
      ep.window = syn ? seg.window : seg.window * 2 ** ep.windowScale;
      ep.windowKnown = true;
    }

    const state = ep.state;
    switch (state) {
      case 'CLOSED':
        // §3.10.1 active OPEN: SYN sent → SYN-SENT. A RST from CLOSED is a
        // kernel answering for a socket that is gone (tcp_v4_send_reset).
        if (!rst && syn && !ack) this.setState(conn, from, 'SYN-SENT', sentCause(seg, ep, peer), now, changes);
        break;
      case 'LISTEN':
        // §3.10.7.2: the listener answers the SYN. Linux made only a request
        // sock when the SYN arrived (tcp_conn_request(): no socket, no
        // tracepoint); `ss` shows it as SYN-RECV from its SYN-ACK on, so the
        // endpoint enters SYN-RECV when it sends that, not when the SYN is
        // delivered. A RST acknowledging the client's SYN means no listener
        // (tcp_v4_rcv() found no socket, or a REJECT --reject-with
        // tcp-reset): the server endpoint never existed, so it stays LISTEN
        // (nothing of its own) and no change is reported for it; a listener
        // that comes up for a retransmitted SYN still answers it.
        if (syn && ack) {
          conn.refused = false;
          this.setState(conn, from, 'SYN-RECV', sentCause(seg, ep, peer), now, changes);
        } else if (rst && ack && peer.state === 'SYN-SENT' && peer.sndNxt !== undefined && seg.ack === peer.sndNxt) {
          conn.refused = true;
        }
        break;
      case 'SYN-SENT':
        // A RST sent from SYN-SENT answers an unacceptable SYN-ACK (§3.10.7.3,
        // tcp_rcv_synsent_state_process "reset_and_undo"): the socket stays.
        break;
      case 'SYN-RECV':
      case 'ESTAB':
        if (rst) this.setState(conn, from, 'CLOSED', `${sentCause(seg, ep, peer)} (abort)`, now, changes);
        else if (fin) this.setState(conn, from, 'FIN-WAIT-1', sentCause(seg, ep, peer), now, changes); // §3.10.4 CLOSE
        break;
      case 'CLOSE-WAIT':
        if (rst) this.setState(conn, from, 'CLOSED', `${sentCause(seg, ep, peer)} (abort)`, now, changes);
        else if (fin) this.setState(conn, from, 'LAST-ACK', sentCause(seg, ep, peer), now, changes); // §3.10.4 CLOSE in CLOSE-WAIT
        break;
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSING':
      case 'LAST-ACK':
      case 'TIME-WAIT':
        // §3.10.5 ABORT; Linux also kills a TIME-WAIT sock that answered with RST (TCP_TW_RST).
        if (rst) this.setState(conn, from, 'CLOSED', `${sentCause(seg, ep, peer)} (abort)`, now, changes);
        break;
    }
  }

  /** What delivering this segment does to its receiver (RFC 9293 §3.10.7, SEGMENT ARRIVES, as Linux does it). */
  private applyDelivered(conn: Connection, to: Endpoint, seg: Seg, now: number, changes: StateChange[]): RstJudgement | undefined {
    const ep = conn.end(to);
    const peer = conn.end(peerOf(to));
    const f = seg.flags;
    const syn = has(f, TcpFlag.SYN);
    const fin = has(f, TcpFlag.FIN);
    const rst = has(f, TcpFlag.RST);
    const ack = has(f, TcpFlag.ACK);
    const before = ep.state;

    if (rst) {
      const j = judgeRst(ep, seg, { rfc1337: this.rfc1337[to] });
      const why = conn.refused && to === 'client' && before === 'SYN-SENT' ? REFUSED_CAUSE : j.reason;
      if (j.verdict === 'accepted') this.setState(conn, to, 'CLOSED', `${deliveredCause(seg, ep, peer)} (${why})`, now, changes);
      return j;
    }

    // A picked-up endpoint that has not sent yet takes the first segment it is delivered as in order.
    if (conn.pickedUp && ep.rcvNxt === undefined && !syn) ep.rcvNxt = seg.seq;

    switch (before) {
      case 'CLOSED':
        // No socket: Linux answers with RST, which we will see as sent by it.
        return undefined;
      case 'LISTEN':
        // §3.10.7.2: a SYN reaches the listener. Its answer (SYN-ACK or RST)
        // is what moves this endpoint, if anything does (see applySent).
        return undefined;
      case 'SYN-SENT':
        // §3.10.7.3: a SYN-ACK acknowledging our SYN establishes; a bare SYN is a simultaneous open.
        if (syn && ack && ep.sndNxt !== undefined && seg.ack === ep.sndNxt) {
          ep.rcvNxt = seqAdd(seg.seq, 1);
          ep.noteAckDelivered(seg.ack);
          this.setState(conn, to, 'ESTAB', deliveredCause(seg, ep, peer), now, changes);
        } else if (syn && !ack) {
          ep.rcvNxt = seqAdd(seg.seq, 1);
          this.setState(conn, to, 'SYN-RECV', deliveredCause(seg, ep, peer), now, changes);
        }
        return undefined;
      case 'TIME-WAIT':
        // tcp_timewait_state_process(): a bare SYN beyond rcv_nxt is TCP_TW_SYN:
        // the TIME-WAIT ends and the listener takes the SYN (tcp_v4_rcv(); with
        // no listener on the port Linux ACKs instead, which the tracker cannot
        // know: it assumes one). A new connection's real SYN reaches the new
        // record (reuseTimeWait); this is a SYN tcpmitm forged, with no
        // timestamp, so only its sequence number counts. Any other SYN gets the
        // TIME-WAIT's ACK (TCP_TW_ACK).
        if (syn && !ack && ep.rcvNxt !== undefined && seqGt(seg.seq, ep.rcvNxt)) {
          this.setState(conn, to, 'CLOSED', `${deliveredCause(seg, ep, peer)} beyond rcv_nxt (TCP_TW_SYN: the listener takes it)`, now, changes);
          return undefined;
        }
        // Every ACK-bearing segment (a retransmitted FIN above all) is re-ACKed and restarts the 2MSL timer.
        if (ack) this.startTimer(conn, to, '2MSL', now + this.timeWaitMs);
        return undefined;
      case 'SYN-RECV':
      case 'ESTAB':
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSE-WAIT':
      case 'CLOSING':
      case 'LAST-ACK':
        break;
    }

    // §3.10.7.4 first check (tcp_sequence): unacceptable segments are dropped (Linux sends a dup ACK).
    const endSeq = seqAdd(seg.seq, seg.payloadLength + (syn ? 1 : 0) + (fin ? 1 : 0));
    if (!ep.sequenceAcceptable(seg.seq, endSeq)) return undefined;
    // Fourth check: a SYN here draws a challenge ACK (RFC 5961 §4) or is a retransmitted SYN in SYN-RECV.
    if (syn) return undefined;
    // Fifth check: no ACK, drop.
    if (!ack) return undefined;

    let state: TcpState = before;
    if (state === 'SYN-RECV') {
      // tcp_check_req(): the ACK must acknowledge our SYN-ACK exactly.
      if (ep.sndNxt === undefined || seg.ack !== ep.sndNxt) return undefined;
      state = 'ESTAB';
    }
    // tcp_ack(): an ACK of data never sent discards the whole segment.
    if (ep.sndNxt !== undefined && seqGt(seg.ack, ep.sndNxt)) {
      this.settle(conn, to, before, state, seg, now, changes);
      return undefined;
    }
    ep.noteAckDelivered(seg.ack);
    if (ep.finAckedBy(seg.ack)) {
      if (state === 'FIN-WAIT-1') state = 'FIN-WAIT-2';
      else if (state === 'CLOSING') state = 'TIME-WAIT';
      else if (state === 'LAST-ACK') state = 'CLOSED';
    }
    // Eighth check: the FIN counts only when everything before it has arrived.
    // FIN-WAIT-1/2 keep receiving data (half-close, shutdown(SHUT_WR)).
    if ((seg.payloadLength > 0 || fin) && state !== 'CLOSED' && state !== 'TIME-WAIT') {
      const finConsumed = ep.receive(seg.seq, seg.payloadLength, fin);
      if (finConsumed) {
        if (state === 'ESTAB') state = 'CLOSE-WAIT';
        else if (state === 'FIN-WAIT-1') state = 'CLOSING';
        else if (state === 'FIN-WAIT-2') state = 'TIME-WAIT';
      }
    }
    this.settle(conn, to, before, state, seg, now, changes);
    return undefined;
  }

  /**
   * One delivered segment yields at most one change per endpoint: a FIN+ACK
   * that acknowledges our FIN takes FIN-WAIT-1 straight to TIME-WAIT (Linux
   * passes FIN-WAIT-2 inside one softirq; `ss` never shows it), and a
   * handshake ACK carrying a FIN takes SYN-RECV to CLOSE-WAIT.
   */
  private settle(conn: Connection, to: Endpoint, before: TcpState, after: TcpState, seg: Seg, now: number, changes: StateChange[]): void {
    if (after !== before) this.setState(conn, to, after, deliveredCause(seg, conn.end(to), conn.end(peerOf(to))), now, changes);
  }
}
