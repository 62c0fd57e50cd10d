// Joins the kernel probe's socket observations to tcpmitm's connections and
// endpoints, and judges where the kernel and the inference differ. Pure: the
// session feeds it observations, events, a time horizon and send activity.
//
// A disagreement is a difference that *certainly* lasted longer than the grace
// and that nothing in the kernel's behaviour explains. Certainly: each change
// is placed in the interval where it may have happened (a poller saw it
// between two reads; a delivered segment took effect when tcpmitm handled it,
// not when it was captured), and an ongoing difference is judged only up to
// the horizon both views are known to (the probe's watermark, the engine's
// progress) — so a late read on a loaded machine cannot make one up. Explained
// differences (a FIN queued behind unsent data, timer-wheel slack) end as a
// `lag` event instead.

import type { DisagreementEvent, LagEvent, StateEvent, TcpmitmEvent } from './events.js';
import type { Endpoint, TcpState } from '../tcp/state.js';
import { DeadlineQueue } from './deadline-queue.js';
import { timerWheelSlackMs } from './timer-wheel.js';

/** One change of one socket seen by the kernel probe in an end namespace. */
/** A socket the two views differ on whose kernel state must be kept fresh: `key` is "local|remote" of the socket in `ns`. */
export interface FocusSocket {
  readonly ns: Endpoint;
  readonly key: string;
}

export interface KernelObservation {
  /** Which end namespace the socket lives in. */
  readonly ns: 'client' | 'server';
  /** "addr:port" as the connection events print them ("[v6]:port" for IPv6). */
  readonly local: string;
  readonly remote: string;
  /**
   * CLOSED or LISTEN: a new socket starts on the tuple (connect(); a child
   * accepted from a listener). An earlier socket of the tuple has ended.
   */
  readonly from: TcpState;
  readonly to: TcpState;
  /** Seconds since the run started: when the change happened, or at the latest was seen. */
  readonly t: number;
  /** A poller saw it: the change happened after `since` (its previous look) and by `t`. Absent: exactly at `t`. */
  readonly since?: number;
  /** The socket has no application any more (it was closed): in FIN-WAIT-2 the kernel then applies tcp_fin_timeout. `from` may equal `to`. */
  readonly orphan?: boolean;
  /** "local|remote", when the producer keeps it at hand (the probe's decoder makes it once per socket): saves building it per observation. */
  readonly tuple?: string;
}

/** The kernel made an endpoint's socket an orphan, at `t` at the earliest: the tracker may time its FIN-WAIT-2. */
export interface OrphanNotice {
  readonly type: 'orphaned';
  readonly conn: number;
  readonly endpoint: Endpoint;
  readonly t: number;
}

export type JoinOutput = StateEvent | LagEvent | DisagreementEvent | OrphanNotice;

/** What the engine knows of one endpoint's sending (for the queued-FIN explanation). */
export interface SendActivity {
  /** Payload bytes it has sent so far. */
  readonly bytes: number;
  /** Its peer advertises a zero window: its data, and a FIN queued behind it, cannot leave. */
  readonly peerWindowClosed: boolean;
}

export type ActivityOf = (conn: number, endpoint: Endpoint) => SendActivity | undefined;

export interface KernelJoinOptions {
  /** How long (ms) the views may differ, unexplained, before it is a disagreement. Default 50. */
  readonly graceMs?: number;
  /** The kernel's CONFIG_HZ, which sizes timer-wheel slack; undefined: the worst common value. */
  readonly hz?: number;
}

const NOTHING: readonly JoinOutput[] = Object.freeze([]);

const QUEUED_FIN = 'close() queued the FIN behind unsent data: the kernel moved at close(), the wire when the FIN left';

/** An early kernel observation waits this long (s) past the inferred end of a connection for it to claim a socket. */
const CLAIM_MARGIN_S = 0.1;
const MAX_EARLY = 16;
const MAX_EARLY_TUPLES = 1024;

interface Difference {
  /** From when (s) the two certainly differ. */
  readonly since: number;
  reported: boolean;
  /** Up to when (s) an explanation covered it. */
  explainedUntil: number;
  reason?: string;
  /** Queued FIN: the sender's byte count at the last look, and when data was last seen flowing. */
  bytes?: number;
  dataAt: number;
}

interface Side {
  /** sideId(conn, endpoint): the join's maps are keyed by it. */
  readonly id: number;
  readonly conn: number;
  readonly endpoint: Endpoint;
  /** "local|remote" of its socket in its end's namespace. */
  readonly tuple: string;
  inferred?: TcpState;
  /** The inferred state's time (the event's `t`) and from when it certainly holds. */
  inferredT: number;
  inferredFrom: number;
  inferredCause?: string;
  /** The inferred state before the current one (a queued FIN told late: see change()). */
  inferredBefore?: TcpState;
  kernel?: TcpState;
  /** When the kernel's state began (its observation's `t`, from when it certainly holds). */
  kernelT: number;
  /** The socket's life on its tuple: not seen yet, seen, over. */
  socket: 'waiting' | 'live' | 'ended';
  /** When the kernel made it an orphan (s, the earliest), and how uncertain that was: its own FIN-WAIT-2 timer may start that much later. */
  orphanAt?: number;
  orphanSpread: number;
  diff?: Difference;
}

interface Route {
  /** The sides on this tuple, oldest connection first. */
  sides: Side[];
  /** Observations no side could take yet (the connection event still to come). */
  early: KernelObservation[];
}

export class KernelJoin {
  private readonly graceS: number;
  private readonly hz: number | undefined;
  /** "local|remote" → the connections' sides that used it. */
  private readonly routes = new Map<string, Route>();
  private readonly sides = new Map<number, Side>();
  /**
   * Keys of the sides whose states differ now, by when check() next needs to
   * look at each: at once when a difference starts or changes, then when it
   * could first have outlasted the grace beyond what explains it. So a burst
   * of thousands of differences (a forwarder seconds behind the kernel) costs
   * a look or two each, not one per check.
   */
  private readonly differing = new DeadlineQueue<number>();
  /**
   * Those of them, not yet reported, whose kernel socket is in TIME-WAIT or
   * FIN-WAIT-2 (a mini-socket, or one that may become an orphan): no
   * tracepoint reports what these do next. Side id → its socket.
   */
  private readonly differingQuiet = new Map<number, FocusSocket>();
  /** What joined or left differingQuiet since takeFocusChanges() (side id → its latest). */
  private readonly focusChanges = new Map<number, { readonly socket: FocusSocket; readonly on: boolean }>();
  /** Tuples holding only early observations, oldest first: bounded (another lab's sockets, ones never joined). */
  private readonly earlyOnly = new Set<string>();
  /** The send activity check() was last given: sampled once more when a queued FIN reaches the wire. */
  private activity: ActivityOf | undefined;

  constructor(opts: KernelJoinOptions = {}) {
    this.graceS = (opts.graceMs ?? 50) / 1000;
    this.hz = opts.hz;
  }

  /**
   * Feed every event of the stream (connection and inferred state events
   * matter). `arrivedAt`: when it reached us (s) — a state change caused by a
   * delivered segment happens when tcpmitm sends the segment on, which a
   * loaded event loop makes later than its capture time `t`.
   */
  onEvent(ev: TcpmitmEvent, arrivedAt: number = ev.t): readonly JoinOutput[] {
    if (ev.type === 'connection') return this.onConnection(ev.conn, ev.client, ev.server);
    // Every event of the run comes here, the kernel's own state events too: most need nothing, and get nothing allocated.
    if (ev.type !== 'state' || ev.source !== 'inferred') return NOTHING;
    const side = this.sides.get(sideId(ev.conn, ev.endpoint));
    if (side === undefined) return NOTHING;
    const delivered = ev.cause?.startsWith('delivered') === true;
    return this.change(side, 'inferred', ev.to, ev.t, delivered ? Math.max(ev.t, arrivedAt) : ev.t, ev.cause);
  }

  /** A probe observation: the kernel state event (and what follows from it) once it belongs to a known connection. */
  onKernel(obs: KernelObservation): JoinOutput[] {
    return this.route(obs.tuple ?? `${obs.local}|${obs.remote}`, obs);
  }

  /**
   * Judges ongoing differences as of `horizon` (s): a time up to which every
   * kernel change has been observed and every captured segment processed.
   * `activity` tells whether an endpoint whose FIN the kernel has queued is
   * still sending (sampled every half grace while that explains the
   * difference: data seen flowing at a look counts as flowing until the next
   * one, so a disagreement may come up to a grace later, never one
   * invented). Each disagreement is reported once.
   */
  check(horizon: number, activity?: ActivityOf): DisagreementEvent[] {
    if (activity !== undefined) this.activity = activity;
    const out: DisagreementEvent[] = [];
    for (let key = this.differing.popDue(horizon); key !== undefined; key = this.differing.popDue(horizon)) {
      const s = this.sides.get(key);
      const d = s?.diff;
      if (s === undefined || d === undefined || d.reported) continue;
      this.sample(s, d, horizon, activity);
      const ev = this.judge(s, d, horizon);
      if (ev) out.push(ev);
      // Next: the next sample of a queued FIN's sender, else when it could first be beyond the grace (after `horizon`: each look moves on).
      else {
        const beyond = Math.max(horizon + 1e-6, Math.max(d.since, d.explainedUntil) + this.graceS + 1e-6);
        this.differing.schedule(key, d.reason === QUEUED_FIN ? Math.min(beyond, horizon + this.graceS / 2) : beyond);
      }
    }
    return out;
  }

  /**
   * The sockets the two views differ on, still to be judged, whose kernel
   * state changes without a tracepoint (TIME-WAIT, FIN-WAIT-2): "local|remote"
   * of each side's socket in its end's namespace. What the probe shows of
   * these must be fresh.
   */
  differingSockets(): IterableIterator<FocusSocket> {
    return this.differingQuiet.values();
  }

  /**
   * The sockets that joined (`add`) or left (`remove`) differingSockets()
   * since the last call: thousands of sockets may differ for a while in a
   * burst of closes, and passing the whole set at every read cost the
   * forwarding thread more than the join itself.
   */
  takeFocusChanges(): { add: FocusSocket[]; remove: FocusSocket[] } {
    const add: FocusSocket[] = [];
    const remove: FocusSocket[] = [];
    for (const c of this.focusChanges.values()) (c.on ? add : remove).push(c.socket);
    this.focusChanges.clear();
    return { add, remove };
  }

  private setQuiet(key: number, on: boolean): void {
    const held = this.differingQuiet.get(key);
    if (on === (held !== undefined)) return;
    let socket = held;
    if (on) {
      const s = this.sides.get(key);
      if (s === undefined) return;
      socket = { ns: s.endpoint, key: s.tuple };
      this.differingQuiet.set(key, socket);
    } else this.differingQuiet.delete(key);
    // Back to what the last take saw: nothing to pass on.
    if (this.focusChanges.get(key)?.on === !on) this.focusChanges.delete(key);
    else this.focusChanges.set(key, { socket: socket!, on });
  }

  // ── routing kernel sockets to connections ─────────────────────────────

  private onConnection(conn: number, client: string, server: string): JoinOutput[] {
    const out: JoinOutput[] = [];
    for (const [key, endpoint] of [[`${client}|${server}`, 'client'], [`${server}|${client}`, 'server']] as const) {
      const side: Side = { id: sideId(conn, endpoint), conn, endpoint, tuple: key, inferredT: 0, inferredFrom: 0, kernelT: 0, socket: 'waiting', orphanSpread: 0 };
      this.sides.set(side.id, side);
      const r = this.routeOf(key);
      r.sides.push(side);
      this.earlyOnly.delete(key);
      const early = r.early;
      r.early = [];
      for (const obs of early) out.push(...this.route(key, obs));
    }
    return out;
  }

  private routeOf(key: string): Route {
    let r = this.routes.get(key);
    if (r === undefined) {
      r = { sides: [], early: [] };
      this.routes.set(key, r);
    }
    return r;
  }

  /**
   * A socket's start goes to the oldest connection on its tuple whose kernel
   * socket has not started (a TIME-WAIT reused by a new SYN: connection 1
   * keeps the mini-socket until its end, connection 2 gets the new socket),
   * its later changes to the connection holding it.
   */
  private route(key: string, obs: KernelObservation): JoinOutput[] {
    const r = this.routeOf(key);
    const starts = obs.from === 'CLOSED' || obs.from === 'LISTEN';
    let side: Side | undefined;
    if (starts) {
      // A side that ended in the inference before this socket began never had one of its own.
      for (const s of r.sides.filter((x) => x.socket === 'waiting' && x.inferred === 'CLOSED' && x.inferredFrom + CLAIM_MARGIN_S < obs.t)) this.forget(s);
      this.routes.set(key, r);
      for (const s of r.sides) if (s.socket === 'live') s.socket = 'ended';
      side = r.sides.find((s) => s.socket === 'waiting');
    } else {
      side = r.sides.find((s) => s.socket === 'live');
      // A socket whose start the probe did not see (it predates the probe).
      if (side === undefined && r.early.length === 0) side = r.sides.find((s) => s.socket === 'waiting');
    }
    if (side === undefined) {
      if (r.early.length < MAX_EARLY) r.early.push(obs);
      if (r.sides.length === 0) {
        this.earlyOnly.add(key);
        this.boundEarly();
      }
      return [];
    }
    side.socket = obs.to === 'CLOSED' ? 'ended' : 'live';
    const out: JoinOutput[] = [];
    if (obs.orphan) {
      side.orphanAt = obs.since ?? obs.t;
      side.orphanSpread = obs.t - side.orphanAt;
      out.push({ type: 'orphaned', conn: side.conn, endpoint: side.endpoint, t: obs.since ?? obs.t });
    }
    if (obs.from === obs.to) return out;
    out.push({ type: 'state', t: round(obs.t), conn: side.conn, endpoint: side.endpoint, from: obs.from, to: obs.to, source: 'kernel' });
    out.push(...this.change(side, 'kernel', obs.to, obs.since ?? obs.t, obs.t));
    return out;
  }

  /**
   * Tuples that only ever held early observations (another lab's sockets,
   * non-joined ones) are bounded: the oldest go first. Counted apart from the
   * tuples of connections, so thousands of those neither evict a new
   * connection's first observation nor make each one a walk over them all.
   */
  private boundEarly(): void {
    for (const key of this.earlyOnly) {
      if (this.earlyOnly.size <= MAX_EARLY_TUPLES) return;
      this.earlyOnly.delete(key);
      if (this.routes.get(key)?.sides.length === 0) this.routes.delete(key);
    }
  }

  // ── judging differences ───────────────────────────────────────────────

  /**
   * One view changed to `state`, somewhere in [lo, hi] (s). A difference that
   * this change ends lasted, certainly, until `lo`; one it starts holds
   * certainly from the later of the two views' certain starts.
   */
  private change(s: Side, which: 'inferred' | 'kernel', state: TcpState, lo: number, hi: number, cause?: string): JoinOutput[] {
    const out: JoinOutput[] = [];
    const key = s.id;
    const d = s.diff;
    const other = which === 'inferred' ? s.kernel : s.inferred;
    // The kernel's change read only after the wire's same change, though it
    // happened first (a loaded loop read the probe late): the two differed
    // the other way, from the kernel's change until the wire caught up.
    // FIN-WAIT-1 from ESTAB (or LAST-ACK from CLOSE-WAIT) ahead of the wire
    // is close() queueing its FIN behind unsent data: the lag it would have
    // been had the probe been read in time.
    const readLate = which === 'kernel' && state === other && hi < s.inferredT && isQueuedFin(state, s.kernel) && isQueuedFin(state, s.inferredBefore);
    if (d !== undefined && state === other) {
      if (readLate) {
        if (this.beyondGrace(s.inferredT - hi)) out.push(this.lag(s, state, hi, s.inferredT, QUEUED_FIN, s.inferredT));
      } else if (!d.reported) {
        // The wire's FIN caught up with the kernel's queued one: data sent since the last look flowed up to it —
        // looks far apart (a loaded loop, judging put off for the forwarder) must not leave a gap in the explanation.
        if (which === 'inferred') this.sample(s, d, lo, this.activity);
        const dis = this.judge(s, d, lo);
        if (dis) out.push(dis);
        else if (this.beyondGrace(lo - d.since) && d.reason !== undefined) out.push(this.lag(s, state, which === 'kernel' ? hi : s.kernelT, which === 'inferred' ? lo : s.inferredT, d.reason, lo));
      }
      s.diff = undefined;
      this.differing.delete(key);
    }
    // A difference that goes on between other states may be explained otherwise now: looked at by the next check.
    if (s.diff !== undefined && !s.diff.reported) this.differing.schedule(key, s.diff.since);
    if (which === 'inferred') {
      s.inferredBefore = s.inferred;
      s.inferred = state;
      s.inferredT = lo;
      s.inferredFrom = hi;
      s.inferredCause = cause;
    } else {
      s.kernel = state;
      s.kernelT = hi;
    }
    if (s.inferred === 'CLOSED' && s.kernel === 'CLOSED') {
      // Both agree it is over: forget the side, so a long run does not keep every connection.
      this.forget(s);
      return out;
    }
    if (s.diff === undefined && s.inferred !== undefined && s.kernel !== undefined && s.inferred !== s.kernel) {
      const since = Math.max(s.inferredFrom, s.kernelT);
      s.diff = { since, reported: false, explainedUntil: since, dataAt: since };
      this.differing.schedule(key, since);
    }
    this.setQuiet(key, s.diff !== undefined && !s.diff.reported && (s.kernel === 'TIME-WAIT' || s.kernel === 'FIN-WAIT-2'));
    // A difference that goes on between other states stays the same difference: both before and after, the two differ.
    return out;
  }

  /** A disagreement when the difference, as of `until`, has lasted longer than the grace beyond what explains it. */
  private judge(s: Side, d: Difference, until: number): DisagreementEvent | undefined {
    const explained = this.explainedUntil(s, d, until);
    if (explained !== undefined) {
      d.explainedUntil = Math.max(d.explainedUntil, explained.until);
      d.reason = explained.reason;
    }
    if (!this.beyondGrace(until - Math.max(d.since, d.explainedUntil))) return undefined;
    d.reported = true;
    this.setQuiet(s.id, false);
    return { type: 'disagreement', t: round(until), conn: s.conn, endpoint: s.endpoint, inferred: s.inferred!, kernel: s.kernel!, forMs: Math.round((until - d.since) * 1000) };
  }

  /** Whether `s` seconds exceed the grace (compared in µs: 1.05 − 1.0 is not above 0.05). */
  private beyondGrace(s: number): boolean {
    return Math.round(s * 1e6) > Math.round(this.graceS * 1e6);
  }

  /** Up to when the kernel's own behaviour explains the current difference, and why; undefined when nothing does. */
  private explainedUntil(s: Side, d: Difference, until: number): { until: number; reason: string } | undefined {
    const k = s.kernel;
    const i = s.inferred;
    // tcp_close()/tcp_shutdown() set FIN-WAIT-1 (or LAST-ACK) at once, and
    // tcp_send_fin() appends the FIN to the last unsent segment: it reaches
    // the wire only after the queued data, as long as that keeps flowing.
    if (isQueuedFin(k, i)) {
      return { until: d.dataAt, reason: QUEUED_FIN };
    }
    // TIME-WAIT's and an orphan's FIN-WAIT-2 ends are timers on the wheel
    // (inet_twsk_schedule): never early, late by up to one level granularity.
    if (i === 'CLOSED' && s.inferredCause?.startsWith('timer') === true && (k === 'TIME-WAIT' || k === 'FIN-WAIT-2')) {
      // The timer began when the kernel entered the state — or, for FIN-WAIT-2, became an orphan.
      const began = k === 'FIN-WAIT-2' && s.orphanAt !== undefined ? Math.max(s.orphanAt, s.kernelT) : s.kernelT;
      const lengthMs = Math.max(0, s.inferredT - began) * 1000;
      const slackMs = timerWheelSlackMs(lengthMs, this.hz);
      const spread = k === 'FIN-WAIT-2' ? s.orphanSpread : 0;
      const hz = this.hz === undefined ? 'HZ unknown' : `HZ=${this.hz}`;
      return {
        until: s.inferredT + slackMs / 1000 + spread,
        reason: `kernel timer wheel slack: a ${(lengthMs / 1000).toFixed(1)} s timer fires up to ${Math.round(slackMs)} ms late (${hz})`,
      };
    }
    return undefined;
  }

  /** Queued FIN: data still flowing from that endpoint (or its peer's window closed) keeps the explanation alive. */
  private sample(s: Side, d: Difference, horizon: number, activity: ActivityOf | undefined): void {
    if (activity === undefined || !(s.kernel === 'FIN-WAIT-1' || s.kernel === 'LAST-ACK')) return;
    const a = activity(s.conn, s.endpoint);
    if (a === undefined) return;
    // The first look credits the data sent before it: close() came right after a write.
    if (d.bytes === undefined) d.dataAt = Math.max(d.dataAt, horizon);
    // Data flowing (or held back by a closed window) now: it counts until the next sample, half a grace on.
    else if (a.bytes > d.bytes || a.peerWindowClosed) d.dataAt = Math.max(d.dataAt, horizon + this.graceS / 2);
    d.bytes = a.bytes;
  }

  private lag(s: Side, state: TcpState, kernelT: number, inferredT: number, reason: string, t: number): LagEvent {
    return {
      type: 'lag',
      t: round(t),
      conn: s.conn,
      endpoint: s.endpoint,
      state,
      kernelT: round(kernelT),
      inferredT: round(inferredT),
      ms: Math.round(Math.abs(kernelT - inferredT) * 1000),
      reason,
    };
  }

  /**
   * Forgets the sides of connections the tracker no longer holds (timed out,
   * evicted for room, finished): there is nothing left to compare them with,
   * and a flood of new tuples must not grow the join without bound.
   */
  prune(tracked: (conn: number) => boolean): void {
    for (const s of [...this.sides.values()]) {
      if (tracked(s.conn)) continue;
      // A TIME-WAIT a new connection's SYN reuses: the tracker closed it when it delivered the SYN (and may forget
      // it at once), the kernel when the SYN reached it, and the probe says so just after. Kept until then, so that
      // end is not taken for the new connection's (whose socket has not started yet). At most one per reused tuple.
      if (s.socket === 'live' && s.kernel === 'TIME-WAIT' && this.reusedByLater(s)) continue;
      this.forget(s);
    }
  }

  /** Whether a later connection on `s`'s tuple waits for its socket to start. */
  private reusedByLater(s: Side): boolean {
    return this.routes.get(s.tuple)?.sides.some((x) => x.conn > s.conn && x.socket === 'waiting') ?? false;
  }

  /** Number of connection sides held (for tests of the bound). */
  get size(): number {
    return this.sides.size;
  }

  /** Drops a side and its place on its tuple. */
  private forget(s: Side): void {
    this.sides.delete(s.id);
    this.differing.delete(s.id);
    this.setQuiet(s.id, false);
    const tuple = s.tuple;
    const r = this.routes.get(tuple);
    if (r !== undefined) {
      r.sides = r.sides.filter((x) => x !== s);
      if (r.sides.length === 0 && r.early.length === 0) {
        this.routes.delete(tuple);
        this.earlyOnly.delete(tuple);
      }
    }
  }
}

/** A connection side's number: the join's maps key on numbers, not on strings built per event. */
function sideId(conn: number, endpoint: Endpoint): number {
  return conn * 2 + (endpoint === 'server' ? 1 : 0);
}

/** The kernel's state ahead of the wire's by a FIN close() queued behind unsent data (tcp_send_fin appends it to the last unsent segment). */
function isQueuedFin(kernel: TcpState | undefined, inferred: TcpState | undefined): boolean {
  return (kernel === 'FIN-WAIT-1' && (inferred === 'ESTAB' || inferred === 'SYN-RECV')) || (kernel === 'LAST-ACK' && inferred === 'CLOSE-WAIT');
}

/** Event times at µs resolution: the tracepoint's own. */
function round(t: number): number {
  return Math.round(t * 1e6) / 1e6;
}
