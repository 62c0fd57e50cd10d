// What the terminal UI knows, built only from the event stream: header
// counters, one row per connection (both endpoints' inferred and kernel
// states), a ladder of segments per connection and a bounded list of notable
// events. Pure and mutable on purpose: `apply` runs for every event (thousands
// per second) and must not copy; the UI re-renders from it at most ~15 times/s.

import type { Endpoint, TcpState } from '../tcp/state.js';
import type { Role } from '../tcp/role.js';
import type {
  ActionEvent,
  Direction,
  SegmentEvent,
  StateEvent,
  Verdict,
} from '../engine/events.js';
import type { KernelTimersRead, SkippedSegments, UiEvent } from './protocol.js';
import type { KernelTimer } from '../io/kernel-timers.js';
import { describeExit } from '../rules/expect.js';
import { REFUSED_CAUSE } from '../tcp/cause.js';
import { formatSysctls, sysctlsFromRecord } from '../rules/sysctls.js';

/** How a segment that waited at tcpmitm (verdict `hold`) ended, or that it still waits. */
export type HeldStatus = 'waiting' | 'released' | 'dropped';

/** One arrow of the ladder: a segment as tcpmitm saw it. */
export interface SegmentEntry {
  readonly kind: 'seg';
  readonly t: number;
  readonly dir: Direction;
  readonly from: Endpoint;
  readonly flags: string;
  readonly seq: number;
  readonly ack: number;
  readonly len: number;
  readonly role: Role;
  readonly verdict: Verdict;
  /** The TCP options as tcpdump prints them, when the run reads them (--tcp-options). */
  readonly options: string | undefined;
  /** For role `retransmission`: which copy this is (1: the first re-sent one) of the same sequence number in this direction. */
  readonly resent: number;
  /** 1-based index of the profile rule that decided, if one did. */
  readonly rule: number | undefined;
  detail: string | undefined;
  /** Only for verdict `hold`: still waiting, or how it left tcpmitm. */
  held: HeldStatus | undefined;
  /** Only for verdict `hold`: the verdict it finally got when a segment event resolved it (e.g. `coalesce`). */
  outcome: Verdict | undefined;
  /** New inferred state of the client / server caused by this segment, drawn on that side of the arrow. */
  clientState: TcpState | undefined;
  serverState: TcpState | undefined;
}

/** A state change that did not coincide with a segment (a timer, a kernel-driven close): a line of its own. */
export interface StateEntry {
  readonly kind: 'state';
  readonly t: number;
  readonly endpoint: Endpoint;
  readonly to: TcpState;
  readonly cause: string | undefined;
}

/** Plain segments the run counted instead of sending them to the UI (a bulk stream): one line for a run of them. */
export interface SkipEntry {
  readonly kind: 'skip';
  /** Time of the last of them. */
  t: number;
  readonly dir: Direction;
  count: number;
  bytes: number;
}

export type LadderEntry = SegmentEntry | StateEntry | SkipEntry;

export interface ConnRow {
  readonly conn: number;
  client: string;
  server: string;
  pickedUp: boolean;
  readonly firstT: number;
  lastT: number;
  readonly inferred: Record<Endpoint, TcpState | undefined>;
  readonly kernel: Record<Endpoint, TcpState | undefined>;
  /** Set by a `disagreement` event (the probe debounces transient ones); cleared once the two agree again. */
  readonly disagree: Record<Endpoint, boolean>;
  /** Payload bytes seen in each direction (forged segments excluded: they are ours). */
  readonly bytes: Record<Direction, number>;
  /** Ladder entries; `ladderBase` is the absolute index of `ladder[0]` after old entries were trimmed. */
  readonly ladder: LadderEntry[];
  ladderBase: number;
  /** Held segments still waiting, oldest first (the engine releases in this order). */
  readonly waiting: SegmentEntry[];
  /** A RST answered the client's SYN: no socket ever listened, the server side does not exist. */
  refused: boolean;
  /** Each endpoint's initial sequence number, absolute, once its SYN was seen: turns the relative numbers into tcpdump -S's. */
  readonly isn: Record<Endpoint, number | undefined>;
  /** When each endpoint entered its inferred state (event clock). */
  readonly inferredSince: Record<Endpoint, number | undefined>;
  /** Each endpoint's SYN or FIN sent again: copies so far, the last one's time and the wait before it. */
  readonly resent: Record<Endpoint, { what: 'SYN' | 'FIN'; count: number; t: number; gap: number } | undefined>;
  /**
   * Each endpoint's latest data segment sent again, until its peer acknowledges
   * it: its sequence range, copies so far, the last one's time and the wait
   * before it (from the second copy: the original's sending is not timed).
   */
  readonly dataResent: Record<Endpoint, DataResent | undefined>;
  /** Each endpoint's socket as the kernel timers reader last found it (only for the connection the UI shows). */
  readonly kernelTimers: Record<Endpoint, KernelTimerEntry | undefined>;
}

export interface DataResent {
  readonly seq: number;
  readonly end: number;
  readonly count: number;
  readonly t: number;
  readonly gap: number | undefined;
}

/** One socket's kernel timer at a read (event clock, ms): its state then, and the timer if one ran. */
export interface KernelTimerEntry {
  readonly t: number;
  readonly state: TcpState | undefined;
  readonly timer: KernelTimer | undefined;
}

export type EventTone = 'info' | 'state' | 'kernel' | 'action' | 'ok' | 'fail' | 'warn' | 'app';

export interface EventLine {
  /** The newest time of the line (a collapsed run of program output: its last line's). */
  t: number;
  readonly conn: number | undefined;
  readonly tone: EventTone;
  text: string;
  /** Lines of the same program output collapsed into this one (1: itself alone). */
  repeat: number;
  /** What makes consecutive program output the same ("client sent"): only such lines collapse. */
  readonly same: string | undefined;
}

export interface Counters {
  dropped: number;
  delayed: number;
  forged: number;
  coalesced: number;
  duplicated: number;
  /** Copies of earlier segments re-sent by a replay rule. */
  replayed: number;
  /** Segments ever held (the number still waiting is `UiModel.heldNow`). */
  held: number;
}

export interface UiModelOptions {
  /** Events kept for the event pane. */
  readonly maxEvents?: number;
  /** Ladder entries kept per connection before the oldest are trimmed. */
  readonly maxLadder?: number;
  /** Connections kept; beyond it the oldest fully closed one (else the oldest) is forgotten. */
  readonly maxConnections?: number;
}

/**
 * An action event and the segment event it explains (a rule's drop, a forged
 * RST) arrive as a pair, in either order, within one engine step. Counting
 * both would double every counter, so an unmatched one leaves a "credit" the
 * other consumes if it comes within this many ms.
 */
const PAIR_WINDOW_MS = 50;

type CreditKind = 'drop' | 'delay' | 'forged' | 'coalesce' | 'duplicate' | 'hold' | 'release' | 'replay';

interface Credits {
  t: number;
  seg: Partial<Record<CreditKind, number>>;
  act: Partial<Record<CreditKind, number>>;
}

interface ConnInternal {
  credits: Credits;
  /** A held entry resolved by an action: the engine may echo it as a segment event next; fold that in. */
  echo: { entry: SegmentEntry; dropped: boolean } | undefined;
  /** The last segment entry, to which state changes it caused attach. */
  lastSeg: SegmentEntry | undefined;
  /** When `lastSeg` last moved (its own time, or when a hold on it ended). */
  lastSegAt: number;
  /** Copies re-sent so far, by direction and sequence number (retransmissions only: small). */
  resent: Map<string, number> | undefined;
  /** When each SYN or FIN (by direction and seq) was last sent: the wait before its next copy (a few per connection). */
  controlSentAt: Map<string, number> | undefined;
}

const ACTION_CREDIT: Partial<Record<ActionEvent['action'], CreditKind>> = {
  drop: 'drop',
  rst: 'forged',
  forge: 'forged',
  coalesce: 'coalesce',
  release: 'release',
  // replay: its segment event counts it (the action may also be a replay given up at the end).
};

const VERDICT_CREDIT: Record<Verdict, CreditKind | undefined> = {
  pass: undefined,
  drop: 'drop',
  delay: 'delay',
  hold: 'hold',
  coalesce: 'coalesce',
  duplicate: 'duplicate',
  forged: 'forged',
  replay: 'replay',
};

export class UiModel {
  /** Bumped by every `apply`: the renderer compares it to know whether anything changed. */
  version = 0;
  lab: string | undefined;
  profile: string | undefined;
  mode: 'lab' | 'attach' | 'tap' | 'intercept' | undefined;
  /** `t` of the `start` event and the latest `t` seen (event clock, ms). */
  startT: number | undefined;
  lastT = 0;
  frames = 0;
  bytes = 0;
  malformed = 0;
  /** The connection table, from the latest `stats` event: records held, evicted for room (all kinds), segments passed untracked. */
  readonly table = { tracked: 0, evicted: 0, untracked: 0 };
  /** From consecutive `stats` events. */
  framesPerSec = 0;
  bytesPerSec = 0;
  readonly counters: Counters = { dropped: 0, delayed: 0, forged: 0, coalesced: 0, duplicated: 0, replayed: 0, held: 0 };
  heldNow = 0;
  expectationsOk = 0;
  expectationsFailed = 0;
  /** Checks this run could not make (reported, neither passed nor failed). */
  expectationsNotChecked = 0;
  /** The run's end: when (event clock, ms), why, and its exit code. */
  ended: { t: number; reason: string; exitCode: number } | undefined;
  /** Connections in order of appearance. */
  readonly conns: ConnRow[] = [];
  /** Some segment carried its TCP options (the run was started with --tcp-options). */
  sawOptions = false;
  readonly events: EventLine[] = [];
  /** Absolute index of `events[0]` once older lines were trimmed (the pane's scroll survives trimming). */
  eventsBase = 0;

  /** What the keys asked for and the engine has done, by handCountKey: the help bar's "dropping the next segment…" ends with it. */
  private readonly byHand = new Map<string, number>();
  private readonly byId = new Map<number, ConnRow>();
  private readonly internal = new Map<number, ConnInternal>();
  private sawStats = false;
  private prevStats: { t: number; frames: number; bytes: number } | undefined;
  private readonly maxEvents: number;
  private readonly maxLadder: number;
  private readonly maxConnections: number;

  constructor(opts: UiModelOptions = {}) {
    this.maxEvents = opts.maxEvents ?? 200;
    this.maxLadder = opts.maxLadder ?? 4000;
    this.maxConnections = opts.maxConnections ?? 500;
  }

  conn(id: number): ConnRow | undefined {
    return this.byId.get(id);
  }

  /** Absolute index one past the last ladder entry of `row` (for scrolling that survives trimming). */
  static ladderEnd(row: ConnRow): number {
    return row.ladderBase + row.ladder.length;
  }

  apply(ev: UiEvent): void {
    this.version++;
    if (ev.t > this.lastT) this.lastT = ev.t;
    switch (ev.type) {
      case 'start':
        this.startT = ev.t;
        this.mode = ev.mode;
        this.lab = ev.lab;
        this.profile = ev.profile;
        this.note(ev.t, undefined, 'info', `started (${ev.mode}${ev.lab ? ` ${ev.lab}` : ''}${ev.profile ? `, profile ${ev.profile}` : ''})`);
        if (ev.sysctls) this.note(ev.t, undefined, 'info', `sysctls: ${formatSysctls(sysctlsFromRecord(ev.sysctls))}`);
        return;
      case 'connection': {
        const row = this.row(ev.conn, ev.t);
        row.client = ev.client;
        row.server = ev.server;
        row.pickedUp = ev.pickedUp;
        this.note(ev.t, ev.conn, 'info', `#${ev.conn} ${ev.client} → ${ev.server}${ev.pickedUp ? ' (picked up mid-stream)' : ''}`);
        return;
      }
      case 'segment':
        this.segment(ev);
        return;
      case 'skipped':
        this.skipped(ev);
        return;
      case 'kernel-timers':
        this.kernelTimers(ev);
        return;
      case 'action':
        this.action(ev);
        return;
      case 'state':
        this.state(ev);
        return;
      case 'disagreement': {
        const row = this.row(ev.conn, ev.t);
        row.inferred[ev.endpoint] = ev.inferred;
        row.kernel[ev.endpoint] = ev.kernel;
        row.disagree[ev.endpoint] = ev.inferred !== ev.kernel;
        this.note(ev.t, ev.conn, 'warn', `#${ev.conn} ${ev.endpoint}: inferred ${ev.inferred} ≠ kernel ${ev.kernel} for ${ev.forMs} ms`);
        return;
      }
      case 'lag':
        this.note(ev.t, ev.conn, 'kernel', `#${ev.conn} ${ev.endpoint}: kernel reached ${ev.state} ${ev.ms} ms ${ev.kernelT < ev.inferredT ? 'before' : 'after'} the wire (${ev.reason})`);
        return;
      case 'app':
        // A program reporting every 50 ms would push everything else out of
        // the pane: a run of the same report is one line, counted.
        this.note(ev.t, undefined, 'app', `${ev.endpoint} app: ${ev.event}${ev.detail ? ` (${ev.detail})` : ''}`, `${ev.endpoint} ${ev.event}`);
        return;
      case 'expectation':
        if (ev.status === 'met') this.expectationsOk++;
        else if (ev.status === 'failed') this.expectationsFailed++;
        else this.expectationsNotChecked++;
        this.note(
          ev.t,
          undefined,
          ev.status === 'met' ? 'ok' : ev.status === 'failed' ? 'fail' : 'info',
          ev.status === 'met'
            ? `✓ ${ev.subject}: ${ev.observed}`
            : ev.status === 'failed'
              ? `✗ ${ev.subject}: expected ${ev.expected}, observed ${ev.observed}`
              : `– ${ev.subject}: ${ev.observed}`,
        );
        return;
      case 'exit':
        this.note(ev.t, undefined, ev.by === 'self' && (ev.code !== 0 || ev.signal !== undefined) ? 'warn' : 'app', `${ev.endpoint} exit: ${describeExit(ev, { at: false })}`);
        return;
      case 'warning':
        this.note(ev.t, undefined, 'warn', ev.message);
        return;
      case 'stats': {
        // Rates from the difference of two cumulative snapshots: the engine
        // counts every frame; the UI sees only what it is sent.
        const prev = this.prevStats;
        if (prev && ev.t > prev.t) {
          const dt = (ev.t - prev.t) / 1000;
          this.framesPerSec = Math.max(0, (ev.frames - prev.frames) / dt);
          this.bytesPerSec = Math.max(0, (ev.bytes - prev.bytes) / dt);
        }
        this.prevStats = { t: ev.t, frames: ev.frames, bytes: ev.bytes };
        this.sawStats = true;
        this.frames = ev.frames;
        this.bytes = ev.bytes;
        this.malformed = ev.malformed;
        this.table.tracked = ev.tracked;
        this.table.evicted = ev.evictedHalfOpen + ev.evictedPickedUp + ev.evictedClosed;
        this.table.untracked = ev.untracked;
        return;
      }
      case 'end':
        this.ended = { t: ev.t, reason: ev.reason, exitCode: ev.exitCode };
        this.note(ev.t, undefined, ev.exitCode === 0 ? 'info' : 'fail', `ended: ${ev.reason} (exit ${ev.exitCode})`);
        return;
    }
  }

  private segment(ev: SegmentEvent): void {
    const row = this.row(ev.conn, ev.t);
    const int = this.int(ev.conn);
    row.lastT = ev.t;
    if (!this.sawStats) {
      // Until the first stats event, count what we are shown.
      this.frames++;
    }

    // 1. Is this the engine's echo of a held segment an action already resolved?
    const echo = int.echo;
    int.echo = undefined;
    if (echo && sameSegment(echo.entry, ev) && (ev.verdict === 'drop') === echo.dropped) {
      if (ev.detail !== undefined) echo.entry.detail = ev.detail;
      int.lastSegAt = ev.t;
      this.consume(int, ev.t, echo.dropped ? 'drop' : 'release', 'seg');
      return;
    }

    // 2. Does it resolve a waiting held segment? Released segments come back
    //    through the pipeline as a segment event with their final verdict.
    if (ev.verdict !== 'hold') {
      const i = row.waiting.findIndex((w) => sameSegment(w, ev));
      if (i >= 0) {
        const entry = row.waiting[i]!;
        row.waiting.splice(i, 1);
        this.heldNow--;
        // The engine reports a held segment's fate as the same segment again
        // with its final verdict (a coalesce hold ends as `coalesce`).
        const gone = ev.verdict === 'drop' || ev.verdict === 'coalesce';
        entry.held = gone ? 'dropped' : 'released';
        entry.outcome = ev.verdict;
        entry.detail = ev.detail;
        const kind = VERDICT_CREDIT[ev.verdict] ?? 'release';
        if (this.credit(int, ev.t, kind, 'seg')) this.count(kind);
        if (!gone) row.bytes[ev.dir] += ev.len;
        int.lastSeg = entry;
        int.lastSegAt = ev.t;
        return;
      }
    }

    // 3. A new arrow.
    if (ev.rule === undefined) {
      // The engine's marks of the hand-given commands (engine.ts onFrame): d's drop, f's delay.
      if (ev.verdict === 'drop' && ev.detail === 'by hand') this.countByHand(handCountKey('drop', ev.conn, ev.dir));
      else if (ev.verdict === 'delay' && ev.flags.includes('F')) this.countByHand(handCountKey('fin', ev.conn));
    }
    if (ev.isn !== undefined) row.isn[ev.from] = ev.isn;
    if (ev.options !== undefined) this.sawOptions = true;
    let resent = 0;
    if (ev.role === 'retransmission') {
      const key = `${ev.dir}${ev.seq}`;
      const m = (int.resent ??= new Map());
      resent = (m.get(key) ?? 0) + 1;
      m.set(key, resent);
    }
    if (ev.verdict !== 'forged' && (ev.flags.includes('S') || ev.flags.includes('F'))) this.controlSent(row, int, ev, resent);
    else if (ev.verdict !== 'forged' && ev.len > 0 && resent > 0) this.dataSentAgain(row, ev, resent);
    this.ackedData(row, ev);
    const entry: SegmentEntry = {
      kind: 'seg',
      t: ev.t,
      dir: ev.dir,
      from: ev.from,
      flags: ev.flags,
      seq: ev.seq,
      ack: ev.ack,
      len: ev.len,
      role: ev.role,
      verdict: ev.verdict,
      options: ev.options,
      resent,
      rule: ev.rule,
      detail: ev.detail,
      held: ev.verdict === 'hold' ? 'waiting' : undefined,
      outcome: undefined,
      clientState: undefined,
      serverState: undefined,
    };
    this.pushLadder(row, entry);
    int.lastSeg = entry;
    int.lastSegAt = ev.t;
    // Forged and replayed segments are tcpmitm's, not bytes the sender sent.
    if (ev.verdict !== 'forged' && ev.verdict !== 'replay') row.bytes[ev.dir] += ev.len;
    if (ev.verdict === 'hold') {
      row.waiting.push(entry);
      this.heldNow++;
    }
    const kind = VERDICT_CREDIT[ev.verdict];
    if (kind !== undefined && this.credit(int, ev.t, kind, 'seg')) this.count(kind);
  }

  /** A SYN or FIN: its first sending starts the clock of its retransmissions; each copy counts and measures the wait before it. */
  private controlSent(row: ConnRow, int: ConnInternal, ev: SegmentEvent, resent: number): void {
    const key = `${ev.dir}${ev.seq}`;
    const sent = (int.controlSentAt ??= new Map());
    const prev = sent.get(key);
    sent.set(key, ev.t);
    if (resent === 0 || prev === undefined) return;
    const what = ev.flags.includes('S') ? 'SYN' : 'FIN';
    const r = row.resent[ev.from];
    row.resent[ev.from] = { what, count: r !== undefined && r.what === what ? r.count + 1 : 1, t: ev.t, gap: ev.t - prev };
  }

  /** A data segment sent again: its copies so far, and the wait since the previous copy of the same bytes. */
  private dataSentAgain(row: ConnRow, ev: SegmentEvent, resent: number): void {
    const d = row.dataResent[ev.from];
    const gap = d !== undefined && d.seq === ev.seq ? ev.t - d.t : undefined;
    row.dataResent[ev.from] = { seq: ev.seq, end: ev.seq + ev.len, count: resent, t: ev.t, gap };
  }

  /** A segment whose ACK covers the peer's data sent again: that wait is over. */
  private ackedData(row: ConnRow, ev: SegmentEvent): void {
    const peer = ev.from === 'client' ? 'server' : 'client';
    const d = row.dataResent[peer];
    // Sequence arithmetic mod 2^32 (relative numbers may still wrap): ack ≥ end.
    if (d !== undefined && ev.flags.includes('A') && ev.verdict !== 'forged' && (ev.ack - d.end) >>> 0 < 0x8000_0000) row.dataResent[peer] = undefined;
  }

  /** A read of the kernel's timers: kept on the rows it names (a connection already forgotten is not made again). */
  private kernelTimers(ev: KernelTimersRead): void {
    for (const k of ev.sockets) {
      const row = this.byId.get(k.conn);
      if (row !== undefined) row.kernelTimers[k.endpoint] = { t: ev.t, state: k.state, timer: k.timer };
    }
  }

  private skipped(ev: SkippedSegments): void {
    const row = this.row(ev.conn, ev.t);
    row.lastT = ev.t;
    row.bytes[ev.dir] += ev.bytes;
    if (!this.sawStats) this.frames += ev.count;
    // Consecutive counts of the same direction make one line.
    const last = row.ladder.at(-1);
    if (last?.kind === 'skip' && last.dir === ev.dir) {
      last.t = ev.t;
      last.count += ev.count;
      last.bytes += ev.bytes;
      return;
    }
    this.pushLadder(row, { kind: 'skip', t: ev.t, dir: ev.dir, count: ev.count, bytes: ev.bytes });
  }

  private action(ev: ActionEvent): void {
    // Conn 0: about no connection (a signal on a time trigger since the run).
    if (ev.conn === 0) return this.note(ev.t, undefined, 'action', `${ev.action}: ${ev.detail}`);
    const row = this.row(ev.conn, ev.t);
    const int = this.int(ev.conn);
    this.note(ev.t, ev.conn, 'action', `#${ev.conn} ${ev.action}: ${ev.detail}`);
    const kind = ACTION_CREDIT[ev.action];
    if (kind === undefined) return;
    if (!this.credit(int, ev.t, kind, 'act')) {
      // The partner segment event came first and already told us.
      if (int.lastSeg && int.lastSeg.detail === undefined && kind !== 'release') int.lastSeg.detail = ev.detail;
      return;
    }
    if (kind === 'release' && /\bafter \d+ ms\b/.test(ev.detail)) {
      // A delayed segment delivered at last: it was never held.
      return;
    }
    if ((kind === 'release' || kind === 'drop') && row.waiting.length > 0) {
      // release-first / drop-first-held / a hold's timeout: one waiting
      // segment leaves; the detail names it ("released fin from client").
      const m = /(?:released|dropped held) (\S+) from (client|server)/.exec(ev.detail);
      let i = m ? row.waiting.findIndex((w) => w.role === m[1] && w.from === m[2]) : -1;
      if (i < 0) i = 0;
      const entry = row.waiting.splice(i, 1)[0]!;
      this.heldNow--;
      entry.held = kind === 'drop' ? 'dropped' : 'released';
      entry.outcome = kind === 'drop' ? 'drop' : 'pass';
      entry.detail = undefined;
      int.echo = { entry, dropped: kind === 'drop' };
      int.lastSeg = entry;
      int.lastSegAt = ev.t;
      if (kind === 'release') row.bytes[entry.dir] += entry.len;
      if (kind === 'drop') this.counters.dropped++;
      return;
    }
    if (kind !== 'release') this.count(kind);
  }

  private state(ev: StateEvent): void {
    const row = this.row(ev.conn, ev.t);
    const ep = ev.endpoint;
    if (ev.source === 'kernel') {
      row.kernel[ep] = ev.to;
      this.note(ev.t, ev.conn, 'kernel', `#${ev.conn} ${ep} (kernel) ${ev.from} → ${ev.to}`);
    } else {
      row.inferred[ep] = ev.to;
      row.inferredSince[ep] = ev.t;
      if (ep === 'client' && ev.to === 'CLOSED' && ev.cause?.includes(REFUSED_CAUSE) === true) row.refused = true;
      this.note(ev.t, ev.conn, 'state', `#${ev.conn} ${ep} ${ev.from} → ${ev.to}${ev.cause ? ` (${ev.cause})` : ''}`);
      this.annotate(row, ev);
    }
    if (row.inferred[ep] !== undefined && row.inferred[ep] === row.kernel[ep]) row.disagree[ep] = false;
  }

  /**
   * Write the new state on its own side of the arrow that caused it, as in
   * the textbook pictures; a change not caused by the latest segment (a timer:
   * TIME-WAIT's 2MSL, a FIN_WAIT_2 orphan timeout) gets a line of its own.
   */
  private annotate(row: ConnRow, ev: StateEvent): void {
    const int = this.int(row.conn);
    const last = int.lastSeg;
    const byTimer = ev.cause !== undefined && /^timer/i.test(ev.cause);
    if (last !== undefined && !byTimer && ev.t - int.lastSegAt <= 1000) {
      const key = ev.endpoint === 'client' ? 'clientState' : 'serverState';
      if (last[key] === undefined) {
        last[key] = ev.to;
        return;
      }
    }
    this.pushLadder(row, { kind: 'state', t: ev.t, endpoint: ev.endpoint, to: ev.to, cause: ev.cause });
    int.lastSeg = undefined;
  }

  private count(kind: CreditKind): void {
    const c = this.counters;
    switch (kind) {
      case 'drop': c.dropped++; break;
      case 'delay': c.delayed++; break;
      case 'forged': c.forged++; break;
      case 'coalesce': c.coalesced++; break;
      case 'duplicate': c.duplicated++; break;
      case 'replay': c.replayed++; break;
      case 'hold': c.held++; break;
      case 'release': break;
    }
  }

  /** Record one side of a pair; true when it is the first of its pair (count it), false when it completes one. */
  private credit(int: ConnInternal, t: number, kind: CreditKind, side: 'seg' | 'act'): boolean {
    const cr = int.credits;
    if (t - cr.t > PAIR_WINDOW_MS) {
      cr.seg = {};
      cr.act = {};
    }
    cr.t = t;
    const other = side === 'seg' ? cr.act : cr.seg;
    const mine = side === 'seg' ? cr.seg : cr.act;
    const n = other[kind] ?? 0;
    if (n > 0) {
      other[kind] = n - 1;
      return false;
    }
    mine[kind] = (mine[kind] ?? 0) + 1;
    return true;
  }

  private consume(int: ConnInternal, t: number, kind: CreditKind, side: 'seg' | 'act'): void {
    this.credit(int, t, kind, side);
  }

  private pushLadder(row: ConnRow, entry: LadderEntry): void {
    row.ladder.push(entry);
    if (row.ladder.length > this.maxLadder) {
      // Trim in chunks so the splice cost is amortised over many events.
      const n = Math.max(1, this.maxLadder >> 2);
      row.ladder.splice(0, n);
      row.ladderBase += n;
    }
  }

  private note(t: number, conn: number | undefined, tone: EventTone, text: string, same?: string): void {
    const last = this.events.at(-1);
    if (same !== undefined && last !== undefined && last.same === same && t >= last.t) {
      last.t = t;
      last.text = text;
      last.repeat++;
      return;
    }
    const line: EventLine = { t, conn, tone, text, repeat: 1, same };
    // Kept in time order: the kernel probe's observations and the peers'
    // output lines reach the bus a few ms after events stamped later (the
    // probe polls, the pipes buffer), and a pane reading 5.295, 5.295, 5.260
    // hides which came first. Late events are rarely more than a few lines
    // late, so the walk back from the end is short.
    let i = this.events.length;
    while (i > 0 && this.events[i - 1]!.t > t) i--;
    if (i === this.events.length) this.events.push(line);
    else this.events.splice(i, 0, line);
    if (this.events.length > this.maxEvents * 2) {
      const n = this.events.length - this.maxEvents;
      this.events.splice(0, n);
      this.eventsBase += n;
    }
  }

  /** How many times the engine has done what `key` (handCountKey) names. */
  handCount(key: string): number {
    return this.byHand.get(key) ?? 0;
  }

  private countByHand(key: string): void {
    this.byHand.set(key, (this.byHand.get(key) ?? 0) + 1);
  }

  /** The newest events, at most `n`, oldest first. */
  recentEvents(n: number): readonly EventLine[] {
    const from = Math.max(0, this.events.length - Math.min(n, this.maxEvents));
    return this.events.slice(from);
  }

  private int(id: number): ConnInternal {
    let int = this.internal.get(id);
    if (!int) {
      int = { credits: { t: -Infinity, seg: {}, act: {} }, echo: undefined, lastSeg: undefined, lastSegAt: -Infinity, resent: undefined, controlSentAt: undefined };
      this.internal.set(id, int);
    }
    return int;
  }

  private row(id: number, t: number): ConnRow {
    let row = this.byId.get(id);
    if (row) return row;
    row = {
      conn: id,
      client: '?',
      server: '?',
      pickedUp: false,
      firstT: t,
      lastT: t,
      inferred: { client: undefined, server: undefined },
      kernel: { client: undefined, server: undefined },
      disagree: { client: false, server: false },
      bytes: { c2s: 0, s2c: 0 },
      ladder: [],
      ladderBase: 0,
      waiting: [],
      refused: false,
      isn: { client: undefined, server: undefined },
      inferredSince: { client: undefined, server: undefined },
      resent: { client: undefined, server: undefined },
      dataResent: { client: undefined, server: undefined },
      kernelTimers: { client: undefined, server: undefined },
    };
    this.byId.set(id, row);
    this.conns.push(row);
    if (this.conns.length > this.maxConnections) this.evict();
    return row;
  }

  private evict(): void {
    const closed = (s: TcpState | undefined): boolean => s === undefined || s === 'CLOSED';
    let i = this.conns.findIndex((r) => closed(r.inferred.client) && closed(r.inferred.server) && r.waiting.length === 0);
    if (i < 0) i = 0;
    const [gone] = this.conns.splice(i, 1);
    if (gone) {
      this.heldNow -= gone.waiting.length;
      this.byId.delete(gone.conn);
      this.internal.delete(gone.conn);
    }
  }
}

/** The same segment (flags, numbers, role) travelling the same way: how a released held segment is recognised. */
function sameSegment(e: SegmentEntry, ev: SegmentEvent): boolean {
  return (
    e.dir === ev.dir &&
    e.flags === ev.flags &&
    e.seq === ev.seq &&
    e.ack === ev.ack &&
    e.len === ev.len &&
    e.role === ev.role
  );
}

/** Names a command given by hand whose effect the model counts: `d` (drop the next segment of `dir`) or `f` (delay the next FIN). */
export function handCountKey(kind: 'drop' | 'fin', conn: number, dir?: Direction): string {
  return kind === 'drop' ? `drop:${conn}:${dir}` : `fin:${conn}`;
}

/** Age of a connection on the event clock. */
export function ageMs(row: ConnRow, nowT: number): number {
  return Math.max(0, nowT - row.firstT);
}
