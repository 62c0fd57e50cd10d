// The pipeline, sans-io (mitmproxy's layers): inputs come in — a frame
// captured on a port, a timer, a control command — and the engine answers by
// calling its Output: send a frame on a port, wake me at t, emit an event.
// It never touches a socket or a clock itself, so its tests need neither.

import { decodeFrame, toSegmentInfo, type TcpFrame } from '../packet/frame.js';
import type { TcpOption } from '../packet/tcp.js';
import { forgeRstFrom } from '../packet/build.js';
import { detachedTemplate } from '../packet/detach.js';
import { formatEndpoint } from '../packet/addr.js';
import { Tracker, type PerEnd, type StateChange, type ConnectionView, type TrackerBounds } from '../tcp/tracker.js';
import { TcpFlag, type SegmentInfo } from '../tcp/segment.js';
import { peerOf, type Endpoint } from '../tcp/state.js';
import type { Role } from '../tcp/role.js';
import type { ControlCommand } from './control.js';
import { cannotForgeWarning, eventTime, forgedRstSeq, inferredStateEvent, segmentEvent, type ActionKind, type Direction, type TcpmitmEvent, type Verdict } from './events.js';
import { passAll, type Decider, type Decision, type MatchContext, type Plan } from './plan.js';
import { ReleaseQueue } from './release-queue.js';
import { TimerHeap } from '../tcp/timers.js';
import { MAX_REMEMBERED, ReplayStore, tupleOf, type Remembered } from './replay-store.js';
import { SIGNAL_WAIT_MS, TimeTriggers, type DueTrigger, type SignalDelivery, type SignalRequest } from './cues.js';

/** A port of the inline box: the side facing the client namespace or the server namespace. */
export type Port = 'a' | 'b';

export function otherPort(p: Port): Port {
  return p === 'a' ? 'b' : 'a';
}

export interface EngineOutput {
  /**
   * Transmit `frame` on `port`. `ticket`: the frame is the one captured with
   * that ticket (onFrame), unchanged — a queue-fed runtime (intercept) lets
   * the kernel's own packet go on instead of sending bytes.
   */
  send(port: Port, frame: Buffer, ticket?: number): void;
  /** A frame captured on `port` with `ticket` will never be sent (dropped, coalesced away). Absent: nothing to do. */
  discard?(port: Port, ticket: number): void;
  /** A segment that arrived on `port` will never leave (the pcapng records the fate of one held or delayed). Absent: nothing to do. */
  dropped?(port: Port, frame: Buffer): void;
  /** Call `onTimer` no later than `t` (engine clock, ms). Each call supersedes the previous. */
  wakeAt(t: number | undefined): void;
  emit(ev: TcpmitmEvent): void;
  /**
   * Whether anyone reads `segment` events of segments that simply passed (no
   * rule, no detail): the UI, the JSON log, the text log with --segments. When
   * nobody does, the engine does not build one per forwarded frame.
   * Absent: always.
   */
  wantsPassSegments?(): boolean;
  /**
   * A TCP segment arrived on `port` whose checksum does not verify;
   * `leftToDevice`: it holds only the pseudo-header sum (a far end's checksum
   * offload, see TcpFrame.checksumLeftToDevice). Absent: not checked.
   */
  badChecksum?(port: Port, leftToDevice: boolean): void;
  /**
   * Send a signal to one end's program (a profile's `signal` action); its
   * effect is reported later through Engine.onSignalSettled. Absent: no
   * programs here (the signal is not sent, and the run says so).
   */
  signal?(req: SignalRequest): SignalDelivery;
}

export interface EngineOptions {
  readonly out: EngineOutput;
  readonly decider?: Decider;
  /** Engine clock (ms) at which the run started: event times are seconds since then. */
  readonly start: number;
  readonly timeWaitMs?: number;
  /** Orphaned FIN-WAIT-2 timeout (tcp_fin_timeout), applied once kernelOrphaned() says so; one for both ends, or one each. */
  readonly finTimeoutMs?: PerEnd<number>;
  /** The ends' net.ipv4.tcp_rfc1337, as the tracker judges RSTs in TIME-WAIT (Linux default 0). */
  readonly rfc1337?: PerEnd<boolean>;
  /** Whether holds wait for a person (UI) or pass with a warning (headless). */
  readonly interactive?: boolean;
  /** The bound on tracked connections and the idle timeouts: see TrackerOptions. */
  readonly maxConnections?: number;
  readonly establishedMs?: number;
  readonly staleMs?: number;
  /** Segment events carry the TCP options as tcpdump prints them (`--tcp-options`): a decode per event, so only on request. */
  readonly segmentOptions?: boolean;
}

export interface EngineStats {
  frames: number;
  bytes: number;
  malformed: number;
  nonTcp: number;
  dropped: number;
  delayed: number;
  forged: number;
  coalesced: number;
  held: number;
  duplicated: number;
  /** Copies re-sent by replay rules. */
  replayed: number;
  /** Segments replay rules matched but never re-sent: no room (MAX_REMEMBERED), or the run ended first (no next connection came). */
  replayUnused: number;
  /**
   * Frames captured short of their end (intercept: a packet longer than the
   * 65 531 bytes a netfilter queue copies, see FrameHandler): tracked and
   * decided on exactly, their verdicts apply to the kernel's own packet, and
   * they are never copied onto the wire (a duplicate or replay of one is not sent).
   */
  partial: number;
}

/** The counters with the connection table's: its size now, and what bounding it did (TrackerBounds). */
export interface EngineStatsWithTable extends EngineStats, TrackerBounds {
  /** Records in the connection table now. */
  tracked: number;
}

/** The table's figures for a stats event, from a tracker. */
export function tableStats(t: Tracker): TrackerBounds & { tracked: number } {
  return { tracked: t.size, ...t.bounds };
}

/** One captured TCP segment on its way through the engine. */
interface InFlight {
  frame: Buffer;
  seg: SegmentInfo;
  conn: number;
  from: Endpoint;
  dir: Direction;
  role: Role;
  toPort: Port;
  capturedAt: number;
  releaseAt: number;
  /** Held by a delay action: its release is reported. */
  delayed?: boolean;
  /** Waiting behind delayed segments of its direction only to keep their order: its release is reported too. */
  queued?: boolean;
  rule?: number;
  /** `frame` is the engine's own copy, not a view of a port's receive slab. */
  owned?: boolean;
  /** The capture lacks the frame's last bytes (zero-filled): it goes on only as the capture's own packet (its ticket), never as a copy. */
  partial?: boolean;
  /** The capture's ticket (onFrame): given back with the send, or to discard. Copies sent besides it (duplicate) have none. */
  ticket?: number;
  /** With --tcp-options: its options, decoded from the captured frame while onTcp had it (forged and replayed segments have none: decoded when their event is made). */
  options?: readonly TcpOption[];
  /** Held for a signal to take effect (cues.ts); `settled` says how it did, once it has. */
  cue?: { readonly id: number; readonly name: string; readonly to: Endpoint; readonly then: 'pass' | 'drop'; readonly waits: 'exit' | 'stop'; settled?: string };
}

/** Why a duplicate or replay of a partial frame is not sent: its copy would carry zeros where the data's last bytes are. */
const NOT_COPIED = 'not copied: tcpmitm has only the first 65 531 bytes of this segment (the netfilter queue\'s copy limit), so it passes once, whole';

/** A segment that outlives the call that captured it gets a frame of its own (see onFrame). */
function retain(item: InFlight): InFlight {
  if (!item.owned) {
    item.frame = Buffer.from(item.frame);
    item.owned = true;
  }
  return item;
}

/** Per-connection engine state (the tracker keeps the TCP state; this keeps what we are doing to it). */
interface ConnCtl {
  readonly id: number;
  /** Port each endpoint's frames arrive on (learned from captures). */
  portOf: { client?: Port; server?: Port };
  /** First frame seen in each direction: the template forged segments copy addresses from. */
  template: { c2s?: TcpFrame; s2c?: TcpFrame };
  /** Segments waiting behind a delayed one, per direction; made on first use (most connections never need one). */
  queue: { c2s?: ReleaseQueue<InFlight>; s2c?: ReleaseQueue<InFlight> };
  blackholed: boolean;
  /** A pure ACK of a FIN held for coalescing, per direction. */
  coalescing: { c2s?: { item: InFlight; deadline: number; rule?: number }; s2c?: { item: InFlight; deadline: number; rule?: number } };
  /** A FIN held until the peer's FIN is captured. */
  awaiting?: { item: InFlight; rule?: number };
  /** `d`: drops still to make per direction, each with its command's hand id; made on first use. */
  dropNext?: { c2s: (number | undefined)[]; s2c: (number | undefined)[] };
  /** `f`: the next FIN's delay and its command's hand id. */
  delayNextFin?: { ms: number; hand: number | undefined };
  bytes: { c2s: number; s2c: number };
}

export class Engine {
  private readonly counters: EngineStats = {
    frames: 0,
    bytes: 0,
    malformed: 0,
    nonTcp: 0,
    dropped: 0,
    delayed: 0,
    forged: 0,
    coalesced: 0,
    held: 0,
    duplicated: 0,
    replayed: 0,
    replayUnused: 0,
    partial: 0,
  };
  private readonly out: EngineOutput;
  private decider: Decider;
  private readonly tracker: Tracker;
  /** The engine's own deadlines (delays, coalesce windows, awaits); the runtime keeps one real timer for the earliest. */
  private readonly timers = new TimerHeap<{ readonly at: number; readonly fire: (now: number) => void }>();
  private readonly ctl = new Map<number, ConnCtl>();
  private readonly start: number;
  private readonly interactive: boolean;
  private readonly segmentOptions: boolean;
  private holdMode = false;
  private readonly heldByHand: InFlight[] = [];
  private warnedHold = false;
  private warnedFull = false;
  private trackerDeadline: number | undefined;
  private sentChanges: readonly StateChange[] | undefined;
  /** Connections the tracker has forgotten whose engine state is still to be freed. */
  private readonly forgettable = new Set<number>();
  private requestedWake: number | undefined;
  /** Segments replay rules remembered, until re-sent (bounded: MAX_REMEMBERED). */
  private readonly replays = new ReplayStore();
  private warnedReplayFull = false;
  /** The profile's time triggers, armed per run and per connection. */
  private cues: TimeTriggers;
  /** Segments held until a signal has taken effect, by request id. */
  private readonly heldForSignal = new Map<number, { readonly c: ConnCtl; readonly item: InFlight }>();
  private signalIds = 0;
  /** The context decide() fills for each segment: one object for the run, not one per frame. */
  private readonly match: { -readonly [K in keyof MatchContext]: MatchContext[K] } = {
    conn: 0,
    from: 'client',
    role: 'ack',
    flags: 0,
    senderState: 'CLOSED',
    receiverState: 'CLOSED',
    srcPort: 0,
    dstPort: 0,
    payloadLength: 0,
    senderBytes: 0,
  };

  constructor(opts: EngineOptions) {
    this.out = opts.out;
    this.decider = opts.decider ?? passAll;
    this.start = opts.start;
    this.interactive = opts.interactive === true;
    this.segmentOptions = opts.segmentOptions === true;
    this.tracker = new Tracker({
      timeWaitMs: opts.timeWaitMs,
      finTimeoutMs: opts.finTimeoutMs,
      rfc1337: opts.rfc1337,
      maxConnections: opts.maxConnections,
      establishedMs: opts.establishedMs,
      staleMs: opts.staleMs,
    });
    this.cues = new TimeTriggers(this.decider.triggers ?? [], this.start);
  }

  /** The counters, with the connection table's (a fresh object each call). */
  get stats(): EngineStatsWithTable {
    return { ...this.counters, ...tableStats(this.tracker) };
  }

  /** Replace the rules for segments from now on (the UI's profile picker). */
  setDecider(d: Decider): void {
    this.decider = d;
    // The new profile's time triggers; connections already open arm those since `conn` no more.
    this.cues = new TimeTriggers(d.triggers ?? [], this.start);
    this.rearm();
  }

  /** Read-only access for consumers that need current states (e.g. `--until-closed`). */
  connections(): IterableIterator<ConnectionView> {
    return this.tracker.connections();
  }

  /** One connection's current view, by number. */
  connection(id: number): ConnectionView | undefined {
    return this.tracker.get(id);
  }

  connectionBytes(id: number): { c2s: number; s2c: number } | undefined {
    return this.ctl.get(id)?.bytes;
  }

  /** Number of segments waiting at tcpmitm (delayed, held, coalescing; replays whose timer is set). */
  pendingCount(): number {
    let n = this.heldByHand.length + this.replays.scheduled;
    for (const c of this.ctl.values()) {
      n += (c.queue.c2s?.length ?? 0) + (c.queue.s2c?.length ?? 0);
      if (c.coalescing.c2s) n++;
      if (c.coalescing.s2c) n++;
      if (c.awaiting) n++;
    }
    return n;
  }

  // ── inputs ────────────────────────────────────────────────────────────

  /**
   * A frame captured on `port`. `frame` may be a view of the port's receive
   * slab, valid only until this call and the sends it queued are done: a
   * segment the engine keeps (delayed, held, coalescing, queued behind
   * others) is copied first (retain). Forwarding it at once costs no copy.
   */
  onFrame(port: Port, frame: Buffer, now: number, ticket?: number, missing = 0): void {
    this.counters.frames++;
    this.counters.bytes += frame.length;
    // Only a frame with a ticket can be partial: its verdict sends the kernel's own, whole packet.
    const partial = missing > 0 && ticket !== undefined;
    if (partial) this.counters.partial++;
    const decoded = decodeFrame(frame);
    if (!decoded.ok) {
      // DESIGN: a malformed frame is counted and forwarded untouched.
      this.counters.malformed++;
      this.out.send(otherPort(port), frame, ticket);
      return;
    }
    const f = decoded.value;
    if (f.kind !== 'tcp') {
      this.counters.nonTcp++;
      this.out.send(otherPort(port), frame, ticket);
      return;
    }
    // A sender whose checksum offload is on hands over segments with only the
    // pseudo-header sum in the checksum field (CHECKSUM_PARTIAL): forwarded,
    // the receiver drops them. Checked on every SYN (each connection's first
    // word, tiny) and one frame in 64 of the rest: a pass over every segment
    // would cost the forwarding path some 10 %.
    // (A partial frame's checksum covers bytes the capture does not have.)
    if (this.out.badChecksum && !partial && ((f.flags & TcpFlag.SYN) !== 0 || (this.counters.frames & 63) === 0) && !f.fragment && !f.tcpChecksumOk) {
      this.out.badChecksum(port, f.checksumLeftToDevice);
    }
    this.onTcp(port, frame, f, now, ticket, partial);
    // Records evicted for room (or superseded) free their engine state at once: a flood must not wait for a timer.
    if (this.tracker.hasForgotten) this.forgetClosed();
    this.rearm();
  }

  onTimer(now: number): void {
    for (let d = this.timers.peek(); d !== undefined && d.at <= now; d = this.timers.peek()) {
      this.timers.pop();
      d.fire(now);
    }
    for (const due of this.cues.takeDue(now)) this.fireTrigger(due, now);
    if (this.trackerDeadline !== undefined && this.trackerDeadline <= now) {
      this.trackerDeadline = undefined;
      this.emitChanges(this.tracker.advance(now));
      this.forgetClosed();
    }
    this.rearm();
  }

  /**
   * The kernel probe saw `endpoint`'s socket become an orphan (its
   * application closed it) at `t`, seconds since the run started: only now may
   * its FIN-WAIT-2 time out (tcp_fin_timeout), as Linux does it.
   */
  kernelOrphaned(conn: number, endpoint: Endpoint, t: number): void {
    this.tracker.orphaned(conn, endpoint, this.start + t * 1000);
    this.rearm();
  }

  onControl(cmd: ControlCommand, now: number): void {
    switch (cmd.kind) {
      case 'rst': {
        const c = this.ctl.get(cmd.conn);
        if (!c) return this.warn(now, `no connection #${cmd.conn} to reset`);
        this.forge(c, cmd.to, 0, now, undefined, 'by hand');
        break;
      }
      case 'drop-next': {
        const c = this.ctl.get(cmd.conn);
        if (!c) return this.warn(now, `no connection #${cmd.conn}`);
        (c.dropNext ??= { c2s: [], s2c: [] })[cmd.dir].push(cmd.hand);
        break;
      }
      case 'delay-next-fin': {
        const c = this.ctl.get(cmd.conn);
        if (!c) return this.warn(now, `no connection #${cmd.conn}`);
        c.delayNextFin = { ms: cmd.ms, hand: cmd.hand };
        break;
      }
      case 'hold-mode':
        this.holdMode = cmd.on;
        break;
      case 'release-first': {
        const item = this.heldByHand.shift();
        if (item) this.releaseByHand(item, now);
        break;
      }
      case 'drop-first-held': {
        const item = this.heldByHand.shift();
        if (item) {
          this.counters.dropped++;
          this.discard(item);
          this.emitAction(item.conn, now, 'drop', `dropped held ${item.role} from ${item.from}`, item.rule);
        }
        break;
      }
      case 'release-all':
        this.holdMode = false;
        for (let item = this.heldByHand.shift(); item; item = this.heldByHand.shift()) this.releaseByHand(item, now);
        break;
      case 'set-profile':
        // The runtime resolves the name and calls setDecider; nothing to do here.
        break;
    }
    this.rearm();
  }

  /**
   * End of run: remembered segments not re-sent yet are freed, each reported
   * (an action event) and counted (stats.replayUnused). Call before the last stats.
   */
  finish(now: number): void {
    for (const r of this.replays.drain()) {
      this.counters.replayUnused++;
      const why = r.into === 'next-conn' && r.intoConn === undefined ? 'no next connection on its 4-tuple came' : 'the run ended first';
      this.emitAction(r.fromConn, now, 'replay', `not replayed: ${r.role} from ${r.from} of #${r.fromConn} (${why})`, r.rule);
    }
  }

  /**
   * A signal the engine asked for (request `id`) has taken effect — the
   * process is gone, or stopped — as `what` says ("the server's program (pid
   * 42) exited (SIGKILL)"): a segment held for it goes on (or is dropped) now.
   */
  onSignalSettled(id: number, what: string, now: number): void {
    const held = this.heldForSignal.get(id);
    if (held === undefined) return;
    this.heldForSignal.delete(id);
    held.item.cue!.settled = what;
    const q = held.c.queue[held.item.dir]!;
    q.retime(held.item, now);
    for (const due of q.takeDue(now)) this.deliver(due, now);
    this.scheduleQueue(held.c, held.item.dir);
    this.rearm();
  }

  /** End of run: release nothing, but report what was still waiting. */
  pendingSummary(): string {
    const n = this.pendingCount();
    return n === 0 ? '' : `${n} segment(s) were still held at tcpmitm`;
  }

  // ── the pipeline for one TCP segment ─────────────────────────────────

  private onTcp(port: Port, frame: Buffer, f: TcpFrame, now: number, ticket: number | undefined, partial: boolean): void {
    const seg = toSegmentInfo(f);
    const r = this.tracker.sent(seg, now);
    if (r === undefined) return this.passUntracked(port, frame, now, ticket);
    const conn = r.conn;
    let c = this.ctl.get(conn.id);
    if (!c || r.isNew) {
      c = this.newCtl(conn.id);
      this.emit({
        type: 'connection',
        t: this.t(now),
        conn: conn.id,
        client: formatEndpoint(conn.client.addr, conn.client.port),
        server: formatEndpoint(conn.server.addr, conn.server.port),
        pickedUp: conn.pickedUp,
      });
      this.cues.onConnection(conn.id, now);
    }
    // The sender's own changes are reported right after the segment that caused them.
    this.sentChanges = r.changes.length > 0 ? r.changes : undefined;
    const from = r.from;
    const dir: Direction = from === 'client' ? 'c2s' : 's2c';
    c.portOf[from] ??= port;
    c.template[dir] ??= detachedTemplate(f);
    c.bytes[dir] += seg.payloadLength;

    // The fast path: nothing given by hand or held on this connection, no
    // rule matches, nothing queued ahead of it and nobody reads the segment
    // event of a plain pass. Then the segment goes on at once, exactly as
    // forward() would send it (the same tracker calls, the same events, in
    // the same order), without the InFlight record the other paths need.
    if (
      !this.holdMode &&
      !c.blackholed &&
      (c.dropNext === undefined || c.dropNext[dir].length === 0) &&
      c.delayNextFin === undefined &&
      c.coalescing[dir] === undefined &&
      c.awaiting === undefined
    ) {
      const decision = this.decide(c, conn, from, r.role, seg);
      if (decision.rule === undefined && decision.plan.kind === 'pass' && !(c.queue[dir]?.length ?? 0) && this.out.wantsPassSegments?.() === false) {
        this.flushSentChanges();
        this.out.send(otherPort(port), frame, ticket);
        this.emitChanges(this.tracker.delivered(seg, now));
      } else {
        const item = this.captured(frame, f, seg, conn.id, from, r.role, port, now, ticket, partial);
        item.rule = decision.rule;
        this.execute(c, item, decision.plan, decision.rule, now);
      }
      this.flushSentChanges();
      if (this.replays.anyWaiting) this.bindReplays(conn, now);
      return;
    }
    const item = this.captured(frame, f, seg, conn.id, from, r.role, port, now, ticket, partial);

    // Hand-given commands come before the profile's rules.
    if (c.blackholed) return this.drop(c, item, now, undefined, 'blackholed');
    if (c.dropNext !== undefined && c.dropNext[dir].length > 0) {
      return this.drop(c, item, now, undefined, 'by hand', c.dropNext[dir].shift());
    }
    if (c.delayNextFin !== undefined && seg.flags & TcpFlag.FIN) {
      const { ms, hand } = c.delayNextFin;
      c.delayNextFin = undefined;
      return this.delay(c, item, ms, false, now, undefined, hand);
    }
    if (this.holdMode) return this.holdByHand(item, now, undefined);

    // A held pure ACK (coalescing) meets the next segment from the same sender.
    const pending = c.coalescing[dir];
    if (pending) {
      if (seg.flags & TcpFlag.FIN && seg.flags & TcpFlag.ACK && !(seg.flags & TcpFlag.RST)) {
        // The FIN carries the same acknowledgment: the held ACK is redundant and
        // the close becomes three-way (FIN_WAIT_1 → TIME_WAIT at the peer).
        c.coalescing[dir] = undefined;
        this.counters.coalesced++;
        this.discard(pending.item);
        this.emitSegment(pending.item, now, 'coalesce', pending.rule, 'ACK merged into the FIN that follows');
        this.emitAction(c.id, now, 'coalesce', `coalesced ${pending.item.role} from ${from} into its FIN`, pending.rule);
      } else if (isPureAck(seg) && seg.ack === pending.item.seg.ack) {
        // Another pure ACK of the same FIN (the peer retransmitted its FIN): absorb it too.
        this.counters.coalesced++;
        this.discard(item);
        this.emitSegment(item, now, 'coalesce', pending.rule, 'duplicate ACK absorbed while coalescing');
        return;
      } else {
        // Something else came first: the held ACK goes on, ahead of it.
        c.coalescing[dir] = undefined;
        this.emitAction(c.id, now, 'release', `released ${pending.item.role} from ${from}: its FIN did not follow${this.queuedNote(c, dir)}`, pending.rule);
        this.deliverInOrder(c, pending.item, now);
      }
    }

    // A FIN held until the peer's FIN shows up: this is it, deliver both so they cross.
    if (c.awaiting && c.awaiting.item.dir !== dir && seg.flags & TcpFlag.FIN) {
      const held = c.awaiting;
      c.awaiting = undefined;
      this.emitAction(c.id, now, 'release', `released held FIN from ${held.item.from}: the FINs cross${this.queuedNote(c, held.item.dir)}`, held.rule);
      this.deliverInOrder(c, held.item, now);
    }

    const decision = this.decide(c, conn, from, r.role, seg);
    item.rule = decision.rule;
    this.execute(c, item, decision.plan, decision.rule, now);
    this.flushSentChanges();
    if (this.replays.anyWaiting) this.bindReplays(conn, now);
  }

  /** The record of a captured segment that takes a path other than the fast one. */
  private captured(frame: Buffer, f: TcpFrame, seg: SegmentInfo, conn: number, from: Endpoint, role: Role, port: Port, now: number, ticket: number | undefined, partial: boolean): InFlight {
    const item: InFlight = { frame, seg, conn, from, dir: from === 'client' ? 'c2s' : 's2c', role, toPort: otherPort(port), capturedAt: now, releaseAt: now, ticket };
    if (partial) item.partial = true;
    // Decoded now, while the frame is the decoded one (a retained copy would need a decode of its own).
    if (this.segmentOptions) item.options = f.tcpOptions;
    return item;
  }

  /** The profile's decision on a segment, asked with the one context object the engine reuses (MatchContext: valid during the call only). */
  private decide(c: ConnCtl, conn: ConnectionView, from: Endpoint, role: Role, seg: SegmentInfo): Decision {
    const m = this.match;
    m.conn = conn.id;
    m.from = from;
    m.role = role;
    m.flags = seg.flags;
    m.senderState = endOf(conn, from).state;
    m.receiverState = endOf(conn, peerOf(from)).state;
    m.srcPort = seg.srcPort;
    m.dstPort = seg.dstPort;
    m.payloadLength = seg.payloadLength;
    m.senderBytes = c.bytes[from === 'client' ? 'c2s' : 's2c'];
    return this.decider.decide(m);
  }

  /**
   * The connection table is full of records that may not be evicted: the
   * segment goes on untouched, no rule sees it (rules need a tracked
   * connection), and it is counted (stats.untracked). Said once per run.
   */
  private passUntracked(port: Port, frame: Buffer, now: number, ticket: number | undefined): void {
    if (!this.warnedFull) {
      this.warnedFull = true;
      this.warn(
        now,
        `connection table full (${this.tracker.maxConnections} tracked, none evictable): new connections pass untracked and untouched, counted in stats.untracked (raise --max-connections)`,
      );
    }
    this.out.send(otherPort(port), frame, ticket);
  }

  private flushSentChanges(): void {
    const ch = this.sentChanges;
    if (ch === undefined) return;
    this.sentChanges = undefined;
    this.emitChanges(ch);
  }

  private execute(c: ConnCtl, item: InFlight, plan: Plan, rule: number | undefined, now: number): void {
    switch (plan.kind) {
      case 'pass':
        return this.forward(c, item, now, 'pass', rule);
      case 'drop':
        return this.drop(c, item, now, rule);
      case 'delay':
        return this.delay(c, item, plan.ms, plan.reorder, now, rule);
      case 'rst': {
        if (plan.instead) this.drop(c, item, now, rule, 'replaced by a forged RST');
        else this.forward(c, item, now, 'pass', rule);
        this.forge(c, plan.to, plan.seqOffset, now, rule, `rule ${rule ?? '?'} on ${item.role} from ${item.from}`);
        return;
      }
      case 'forge': {
        if (plan.instead) this.drop(c, item, now, rule, `replaced by a forged ${plan.flags}`);
        else this.forward(c, item, now, 'pass', rule);
        this.forge(c, plan.to, plan.seqOffset, now, rule, `rule ${rule ?? '?'} on ${item.role} from ${item.from}`, plan.flags);
        return;
      }
      case 'coalesce': {
        if (!isPureAck(item.seg) || c.coalescing[item.dir]) return this.forward(c, item, now, 'pass', rule);
        const deadline = now + plan.windowMs;
        c.coalescing[item.dir] = { item: retain(item), deadline, rule };
        this.emitSegment(item, now, 'hold', rule, `held up to ${plan.windowMs} ms to coalesce with a FIN`);
        this.timers.push({
          at: deadline,
          fire: (t) => {
            const p = c.coalescing[item.dir];
            if (p && p.item === item) {
              c.coalescing[item.dir] = undefined;
              this.emitAction(c.id, t, 'release', `no FIN within ${plan.windowMs} ms: released the ACK${this.queuedNote(c, item.dir)}`, rule);
              this.deliverInOrder(c, item, t);
            }
          },
        });
        return;
      }
      case 'duplicate':
        if (item.partial) return this.forward(c, item, now, 'pass', rule, NOT_COPIED);
        this.counters.duplicated++;
        this.forward(c, item, now, 'duplicate', rule, 'sent twice');
        this.deliverInOrder(c, { ...item, frame: Buffer.from(item.frame), owned: true, ticket: undefined }, now);
        return;
      case 'hold':
        return this.holdByHand(item, now, rule);
      case 'blackhole':
        c.blackholed = true;
        this.emitAction(c.id, now, 'drop', `blackhole: every later segment of #${c.id} is dropped`, rule);
        return this.drop(c, item, now, rule, 'blackhole starts');
      case 'replay':
        return this.remember(c, item, plan, rule, now);
      case 'signal':
        return this.signalOnCue(c, item, plan, rule, now);
      case 'await-peer-fin': {
        if (!(item.seg.flags & TcpFlag.FIN) || c.awaiting) return this.forward(c, item, now, 'pass', rule);
        c.awaiting = { item: retain(item), rule };
        this.counters.held++;
        this.emitSegment(item, now, 'hold', rule, `held until ${peerOf(item.from)}'s FIN (at most ${plan.timeoutMs} ms)`);
        this.timers.push({
          at: now + plan.timeoutMs,
          fire: (t) => {
            if (c.awaiting?.item === item) {
              c.awaiting = undefined;
              this.emitAction(c.id, t, 'release', `no FIN from ${peerOf(item.from)} within ${plan.timeoutMs} ms: released${this.queuedNote(c, item.dir)}`, rule);
              this.deliverInOrder(c, item, t);
            }
          },
        });
        return;
      }
    }
  }

  // ── actions ───────────────────────────────────────────────────────────

  private drop(c: ConnCtl, item: InFlight, now: number, rule: number | undefined, why?: string, hand?: number): void {
    this.counters.dropped++;
    this.discard(item);
    this.emitSegment(item, now, 'drop', rule, why, hand);
    if (why !== 'blackholed') this.emitAction(c.id, now, 'drop', `dropped ${item.role} from ${item.from}${why ? ` (${why})` : ''}`, rule);
  }

  private delay(c: ConnCtl, item: InFlight, ms: number, reorder: boolean, now: number, rule: number | undefined, hand?: number): void {
    this.counters.delayed++;
    item.delayed = true;
    item.releaseAt = now + ms;
    this.emitSegment(item, now, 'delay', rule, `${ms} ms`, hand);
    if (reorder) {
      retain(item);
      this.timers.push({ at: item.releaseAt, fire: (t) => this.deliver(item, t) });
    } else {
      (c.queue[item.dir] ??= new ReleaseQueue()).pushInOrder(retain(item));
      this.scheduleQueue(c, item.dir);
    }
  }

  private holdByHand(item: InFlight, now: number, rule: number | undefined): void {
    if (!this.interactive) {
      if (!this.warnedHold) {
        this.warnedHold = true;
        this.warn(now, 'a rule says "hold" but there is no UI to release it: passing instead');
      }
      const c = this.ctl.get(item.conn);
      if (c) this.forward(c, item, now, 'pass', rule, 'hold ignored (headless)');
      return;
    }
    this.counters.held++;
    this.heldByHand.push(retain(item));
    this.emitSegment(item, now, 'hold', rule, 'waiting to be released');
  }

  private releaseByHand(item: InFlight, now: number): void {
    const c = this.ctl.get(item.conn);
    this.emitAction(item.conn, now, 'release', `released ${item.role} from ${item.from}${c ? this.queuedNote(c, item.dir) : ''}`, item.rule);
    if (c) this.deliverInOrder(c, item, now);
    else this.deliver(item, now);
  }

  /**
   * The segment event for a segment tcpmitm lets go on (pass, duplicate),
   * then its delivery. Behind a delay it does not leave yet: the event says
   * it is queued, and its release is reported when it really leaves.
   */
  private forward(c: ConnCtl, item: InFlight, now: number, verdict: Verdict, rule: number | undefined, detail?: string): void {
    const queued = queuedBehind(c, item.dir);
    this.emitSegment(item, now, verdict, rule, detail !== undefined && queued !== undefined ? `${detail}, ${queued}` : (detail ?? queued));
    this.deliverInOrder(c, item, now);
  }

  /** For an action that lets a held segment go: whether it goes now or waits behind delayed ones. */
  private queuedNote(c: ConnCtl, dir: Direction): string {
    const queued = queuedBehind(c, dir);
    return queued === undefined ? '' : `, ${queued}`;
  }

  /** Deliver now unless earlier segments of the same direction are still waiting. */
  private deliverInOrder(c: ConnCtl, item: InFlight, now: number): void {
    const q = c.queue[item.dir];
    if (q === undefined || q.length === 0) return this.deliver(item, now);
    item.releaseAt = now;
    item.queued = true;
    q.pushInOrder(retain(item));
    this.scheduleQueue(c, item.dir);
  }

  private scheduleQueue(c: ConnCtl, dir: Direction): void {
    const at = c.queue[dir]?.nextAt();
    if (at === undefined) return;
    this.timers.push({
      at,
      fire: (t) => {
        for (const due of c.queue[dir]?.takeDue(t) ?? []) this.deliver(due, t);
        this.scheduleQueue(c, dir);
      },
    });
  }

  /** The segment leaves tcpmitm towards its receiver: only now is it "delivered". */
  private deliver(item: InFlight, now: number): void {
    if (item.cue !== undefined && !this.signalCueOver(item, now)) return;
    this.flushSentChanges();
    if (item.delayed || item.queued) {
      // Its wait counts from its arrival at tcpmitm, like the delay itself.
      const waited = `after ${Math.round(now - item.capturedAt)} ms`;
      this.emitAction(item.conn, now, 'release', `released ${item.role} from ${item.from} ${waited}${item.delayed ? '' : ' (queued behind a delayed segment)'}`, item.rule);
    }
    this.out.send(item.toPort, item.frame, item.ticket);
    this.emitChanges(this.tracker.delivered(item.seg, now));
  }

  /** A captured segment that will never leave: its capture's ticket goes back (see EngineOutput.discard). */
  private discard(item: InFlight): void {
    this.out.dropped?.(otherPort(item.toPort), item.frame);
    if (item.ticket !== undefined) this.out.discard?.(otherPort(item.toPort), item.ticket);
  }

  /**
   * Forge a RST with exactly the sequence numbers the receiver accepts (Linux: seq == rcv_nxt, RFC 5961 §3.2);
   * or, with `kind` SYN, a bare SYN (no ACK, no options) at the receiver's rcv_nxt + seqOffset.
   */
  private forge(c: ConnCtl, to: Endpoint | 'both', seqOffset: number, now: number, rule: number | undefined, why: string, kind: 'RST' | 'SYN' = 'RST'): void {
    const targets: Endpoint[] = to === 'both' ? ['client', 'server'] : [to];
    const view = this.tracker.get(c.id);
    for (const target of targets) {
      const nums = this.tracker.rstFor(c.id, target);
      // The target's frames arrive on portOf[target]; frames to it leave on that same port.
      const peerPort = c.portOf[peerOf(target)];
      const toPort = c.portOf[target] ?? (peerPort !== undefined ? otherPort(peerPort) : undefined);
      // A segment *to* target travels in the direction from its peer.
      const dir: Direction = target === 'server' ? 'c2s' : 's2c';
      const sameDir = c.template[dir];
      const reverse = sameDir === undefined;
      const template = sameDir ?? c.template[dir === 'c2s' ? 's2c' : 'c2s'];
      if (!nums || !template || toPort === undefined) {
        this.warn(now, cannotForgeWarning(kind, target, c.id, view));
        continue;
      }
      const rstSeq = (nums.seq + seqOffset) >>> 0;
      // A SYN as a new connection's first one: no ACK, a window, no options (a SYN without MSS means 536, RFC 9293 §3.7.1).
      const frame =
        kind === 'SYN'
          ? forgeRstFrom(template, { seq: rstSeq, flags: TcpFlag.SYN, window: 64240, direction: reverse ? 'reverse' : 'same' })
          : forgeRstFrom(template, { seq: rstSeq, ack: nums.ack, direction: reverse ? 'reverse' : 'same' });
      const d = decodeFrame(frame);
      if (!d.ok || d.value.kind !== 'tcp') throw new Error(`forged ${kind} does not decode: ${d.ok ? 'not tcp' : d.error.message}`);
      const seg = toSegmentInfo(d.value);
      this.counters.forged++;
      const item: InFlight = { frame, seg, conn: c.id, from: peerOf(target), dir, role: kind === 'SYN' ? 'syn' : 'rst', toPort, capturedAt: now, releaseAt: now, rule, owned: true };
      this.emitSegment(item, now, 'forged', rule, `${kind} to ${target}${seqOffset ? ` (seq off by ${seqOffset})` : ''}`);
      // A RST's seq as its segment event gives it: relative to its sender's ISN
      // (the peer it pretends to be), like every other number of the run. A
      // forged SYN starts a sequence space of its own: absolute.
      const shownSeq = kind === 'RST' ? forgedRstSeq(view, peerOf(target), rstSeq) : rstSeq;
      this.emitAction(c.id, now, kind === 'SYN' ? 'forge' : 'rst', `forged ${kind} to ${target} seq=${shownSeq} (${why})`, rule);
      this.deliver(item, now);
    }
  }

  /**
   * A replay rule: a copy of the segment (its original sequence numbers and
   * options, TSval included) is kept and re-sent later in the same direction;
   * the original passes, or is dropped with `instead`.
   */
  private remember(c: ConnCtl, item: InFlight, plan: Extract<Plan, { kind: 'replay' }>, rule: number | undefined, now: number): void {
    if (item.partial) {
      this.counters.replayUnused++;
      return this.forward(c, item, now, 'pass', rule, NOT_COPIED);
    }
    const conn = this.tracker.get(c.id);
    const r: Remembered = {
      frame: Buffer.from(item.frame),
      seg: item.seg,
      fromConn: c.id,
      from: item.from,
      dir: item.dir,
      role: item.role,
      toPort: item.toPort,
      capturedAt: now,
      rule,
      afterMs: plan.afterMs,
      into: plan.into,
      tuple: conn ? tupleOf(conn.client, conn.server) : '',
    };
    if (!this.replays.remember(r)) {
      if (!this.warnedReplayFull) {
        this.warnedReplayFull = true;
        this.warn(now, `a replay rule matched with ${MAX_REMEMBERED} segments already remembered: it passes untouched, counted in stats.replayUnused`);
      }
      this.counters.replayUnused++;
      return this.forward(c, item, now, 'pass', rule, 'not remembered for replay (no room)');
    }
    const when = plan.into === 'next-conn' ? `into the next connection on its 4-tuple${plan.afterMs ? `, ${plan.afterMs} ms after it is established` : ''}` : `in ${plan.afterMs} ms`;
    if (plan.instead) this.drop(c, item, now, rule, `remembered, replayed ${when}`);
    else this.forward(c, item, now, 'pass', rule, `remembered, replayed ${when}`);
    if (plan.into === 'same-conn') this.scheduleReplay(r, now + plan.afterMs);
  }

  /** A segment of `conn` has been handled: a next-conn replay waiting on its 4-tuple starts its wait once its receiver is ESTAB. */
  private bindReplays(conn: ConnectionView, now: number): void {
    const bound = this.replays.bindNext(tupleOf(conn.client, conn.server), conn.id, (r) => endOf(conn, peerOf(r.from)).state === 'ESTAB');
    for (const r of bound) this.scheduleReplay(r, now + r.afterMs);
  }

  private scheduleReplay(r: Remembered, at: number): void {
    this.timers.push({ at, fire: (t) => this.replay(r, t) });
  }

  /** Re-sends a remembered copy, unchanged, into whatever connection now holds its 4-tuple (reported as the one it went into). */
  private replay(r: Remembered, now: number): void {
    if (!this.replays.has(r)) return;
    this.replays.release(r);
    this.counters.replayed++;
    const into = this.tracker.lookup(r.seg)?.id ?? r.intoConn ?? r.fromConn;
    const item: InFlight = { frame: r.frame, seg: r.seg, conn: into, from: r.from, dir: r.dir, role: r.role, toPort: r.toPort, capturedAt: r.capturedAt, releaseAt: now, rule: r.rule, owned: true };
    const age = Math.round(now - r.capturedAt);
    const of = into === r.fromConn ? `captured ${age} ms ago` : `of #${r.fromConn}, captured ${age} ms ago`;
    this.emitSegment(item, now, 'replay', r.rule, `${of}, original seq=${r.seg.seq}`);
    this.emitAction(into, now, 'replay', `replayed ${r.role} from ${r.from} of #${r.fromConn} into #${into} (seq=${r.seg.seq} len=${r.seg.payloadLength})`, r.rule);
    this.deliver(item, now);
  }

  // ── cues: signals to the programs, time triggers ─────────────────────

  /** Asks for a signal (request `id`) and logs what was sent to whom; `d` undefined when it could not be sent. */
  private sendSignal(plan: Extract<Plan, { kind: 'signal' }>, conn: number | undefined, rule: number | undefined, why: string, now: number): { id: number; d: (SignalDelivery & { sent: true }) | undefined } {
    const id = ++this.signalIds;
    const d: SignalDelivery = this.out.signal?.({ id, to: plan.to, name: plan.name, ...(rule !== undefined ? { rule } : {}), ...(conn !== undefined ? { conn } : {}) }) ?? {
      sent: false,
      reason: 'no programs run here',
    };
    const whose = `the ${plan.to}'s program`;
    if (!d.sent) {
      this.warn(now, `rule ${rule ?? '?'}: SIG${plan.name} not sent to ${whose} (${why}): ${d.reason}`);
      return { id, d: undefined };
    }
    this.emitAction(conn ?? 0, now, 'signal', `sent SIG${plan.name} to ${whose} (pid ${d.pid}, ${d.program}) on rule ${rule ?? '?'} (${why})${d.note ? `; ${d.note}` : ''}`, rule);
    return { id, d };
  }

  /** A `signal` rule on a segment: the segment waits at tcpmitm until the signal has taken effect (at most SIGNAL_WAIT_MS), then `then`. */
  private signalOnCue(c: ConnCtl, item: InFlight, plan: Extract<Plan, { kind: 'signal' }>, rule: number | undefined, now: number): void {
    const { id, d } = this.sendSignal(plan, c.id, rule, `on ${item.role} from ${item.from}`, now);
    if (d === undefined || d.waits === 'nothing') {
      const why = d === undefined ? `SIG${plan.name} not sent` : `after SIG${plan.name}`;
      return plan.then === 'drop' ? this.drop(c, item, now, rule, why) : this.forward(c, item, now, 'pass', rule, why);
    }
    this.counters.held++;
    item.cue = { id, name: plan.name, to: plan.to, then: plan.then, waits: d.waits };
    item.releaseAt = now + SIGNAL_WAIT_MS;
    // In the direction's queue, so that what follows it keeps its place behind it.
    (c.queue[item.dir] ??= new ReleaseQueue()).pushInOrder(retain(item));
    this.scheduleQueue(c, item.dir);
    this.heldForSignal.set(id, { c, item });
    this.emitSegment(item, now, 'hold', rule, `held until the ${plan.to}'s program ${d.waits === 'exit' ? 'exits' : 'is stopped'} after SIG${plan.name} (at most ${SIGNAL_WAIT_MS} ms)`);
  }

  /** A segment held for a signal leaves its hold: reports how, and says whether it goes on (`then: pass`). */
  private signalCueOver(item: InFlight, now: number): boolean {
    const cue = item.cue!;
    item.cue = undefined;
    this.heldForSignal.delete(cue.id);
    const waited = Math.round(now - item.capturedAt);
    if (cue.settled === undefined) {
      this.warn(now, `the ${cue.to}'s program was not ${cue.waits === 'exit' ? 'gone' : 'stopped'} within ${SIGNAL_WAIT_MS} ms of SIG${cue.name}: the held ${item.role} from ${item.from} goes on (then: ${cue.then})`);
    }
    const how = cue.settled ?? `no effect of SIG${cue.name} seen`;
    if (cue.then === 'drop') {
      this.counters.dropped++;
      this.discard(item);
      this.emitAction(item.conn, now, 'drop', `${how}: dropped the held ${item.role} from ${item.from} after ${waited} ms`, item.rule);
      return false;
    }
    this.emitAction(item.conn, now, 'release', `${how}: released ${item.role} from ${item.from} after ${waited} ms`, item.rule);
    return true;
  }

  /** A time trigger's time has come: its RST or signal, with no segment to hold. */
  private fireTrigger(due: DueTrigger, now: number): void {
    const { trigger: t, conn } = due;
    const plan = t.plan;
    const why = `${t.label}: ${due.why}`;
    if (plan.kind === 'signal') {
      this.sendSignal(plan, conn, t.rule, why, now);
    } else if (plan.kind === 'rst') {
      const c = conn !== undefined ? this.ctl.get(conn) : undefined;
      if (c === undefined) return this.warn(now, `rule ${t.rule}: no connection #${conn ?? '?'} to reset (${why})`);
      this.forge(c, plan.to, plan.seqOffset, now, t.rule, `rule ${t.rule}, ${due.why}`);
    }
  }

  // ── bookkeeping ───────────────────────────────────────────────────────

  private newCtl(id: number): ConnCtl {
    const c: ConnCtl = {
      id,
      portOf: {},
      template: {},
      queue: {},
      blackholed: false,
      coalescing: {},
      bytes: { c2s: 0, s2c: 0 },
    };
    this.ctl.set(id, c);
    return c;
  }

  /** Drop engine state for connections the tracker has forgotten (kept while segments of theirs still wait here). */
  private forgetClosed(): void {
    for (const id of this.tracker.drainForgotten()) {
      this.forgettable.add(id);
      this.cues.forget(id);
    }
    for (const id of this.forgettable) {
      const c = this.ctl.get(id);
      if (c && (c.queue.c2s?.length || c.queue.s2c?.length || c.coalescing.c2s || c.coalescing.s2c || c.awaiting)) continue;
      this.forgettable.delete(id);
      this.ctl.delete(id);
      this.decider.forget(id);
    }
  }

  private rearm(): void {
    const td = this.tracker.nextDeadline();
    if (td !== undefined && (this.trackerDeadline === undefined || td < this.trackerDeadline)) this.trackerDeadline = td;
    const heapAt = this.timers.peek()?.at;
    let at = this.trackerDeadline;
    if (heapAt !== undefined && (at === undefined || heapAt < at)) at = heapAt;
    const cueAt = this.cues.nextAt();
    if (cueAt !== undefined && (at === undefined || cueAt < at)) at = cueAt;
    if (at !== this.requestedWake) {
      this.requestedWake = at;
      this.out.wakeAt(at);
    }
  }

  private t(now: number): number {
    return eventTime(now, this.start);
  }

  private emit(ev: TcpmitmEvent): void {
    this.out.emit(ev);
  }

  private emitChanges(changes: readonly StateChange[]): void {
    for (const ch of changes) {
      this.emit(inferredStateEvent(ch, this.start));
      if (this.cues.size > 0) {
        const v = this.tracker.get(ch.conn);
        this.cues.onState(ch.conn, ch.endpoint, ch.to, ch.t, v !== undefined && v.clientEnd.state === 'CLOSED' && v.serverEnd.state === 'CLOSED');
      }
    }
  }

  private emitSegment(item: InFlight, now: number, verdict: Verdict, rule: number | undefined, detail?: string, hand?: number): void {
    if (verdict === 'pass' && rule === undefined && detail === undefined && this.out.wantsPassSegments?.() === false) {
      this.flushSentChanges();
      return;
    }
    const options = this.segmentOptions ? (item.options ?? optionsOf(item.frame)) : undefined;
    this.emit(
      segmentEvent({
        t: this.t(now),
        conn: item.conn,
        from: item.from,
        seg: item.seg,
        view: this.tracker.get(item.conn),
        role: item.role,
        verdict,
        ...(rule !== undefined ? { rule } : {}),
        ...(detail !== undefined ? { detail } : {}),
        ...(hand !== undefined ? { hand } : {}),
        ...(options !== undefined ? { options } : {}),
      }),
    );
    this.flushSentChanges();
  }

  private emitAction(conn: number, now: number, action: ActionKind, detail: string, rule: number | undefined): void {
    this.emit({ type: 'action', t: this.t(now), conn, action, detail, ...(rule !== undefined ? { rule } : {}) });
  }

  private warn(now: number, message: string): void {
    this.emit({ type: 'warning', t: this.t(now), message });
  }
}

/** A frame's TCP options, decoded: for segments the engine made or copied (forged, replayed), whose frame onTcp never decoded. */
function optionsOf(frame: Buffer): readonly TcpOption[] {
  const d = decodeFrame(frame);
  return d.ok && d.value.kind === 'tcp' ? d.value.tcpOptions : [];
}

function endOf(conn: ConnectionView, e: Endpoint) {
  return e === 'client' ? conn.clientEnd : conn.serverEnd;
}

/** "queued behind N delayed segment(s)" while earlier segments of `dir` wait at tcpmitm (a segment let go now waits behind them). */
function queuedBehind(c: ConnCtl, dir: Direction): string | undefined {
  const ahead = c.queue[dir]?.length ?? 0;
  return ahead === 0 ? undefined : `queued behind ${ahead} delayed segment${ahead === 1 ? '' : 's'}`;
}

function isPureAck(s: SegmentInfo): boolean {
  return s.payloadLength === 0 && (s.flags & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST | TcpFlag.ACK)) === TcpFlag.ACK;
}

