// Tap mode's pipeline, sans-io like the engine: frames seen on one interface
// (not inline: they have already gone by) come in with the time; it answers
// by emitting events, asking to inject a forged RST, or asking for a wake-up.
// Each segment was on the wire, so it counts as both sent by its sender and
// delivered to its receiver; state causes say "observed". Only `pass` and
// `rst` can be done from here (tap/profile.ts refuses the rest at load).

import { decodeFrame, decodeIpPacket, toSegmentInfo, type Frame, type TcpFrame } from '../packet/frame.js';
import type { DecodeResult } from '../packet/result.js';
import { forgeRstFrom } from '../packet/build.js';
import { Tracker, type ConnectionView, type StateChange } from '../tcp/tracker.js';
import type { SegmentInfo } from '../tcp/segment.js';
import { peerOf, type Endpoint } from '../tcp/state.js';
import type { Role } from '../tcp/role.js';
import type { ControlCommand } from '../engine/control.js';
import { cannotForgeWarning, eventTime, forgedRstSeq, inferredStateEvent, segmentEvent, type Direction, type TcpmitmEvent, type Verdict } from '../engine/events.js';
import type { TcpOption } from '../packet/tcp.js';
import { passAll, type Decider } from '../engine/plan.js';
import { tableStats, type EngineStats, type EngineStatsWithTable } from '../engine/engine.js';
import { formatEndpoint } from '../packet/addr.js';

export interface TapOutput {
  /**
   * Inject a forged segment. `frame` is a whole Ethernet frame; its IP packet
   * starts at `ipOffset` and goes to `dst` (raw IP socket, or the frame itself
   * on the interface as a fallback).
   */
  inject(frame: Buffer, ipOffset: number, family: 4 | 6, dst: string): void;
  /** Call onTimer no later than `t` (ms); each call supersedes the previous. */
  wakeAt(t: number | undefined): void;
  emit(ev: TcpmitmEvent): void;
}

export interface TapCoreOptions {
  readonly out: TapOutput;
  readonly decider?: Decider;
  /** Clock (ms) at which the run started: event times are seconds since then. */
  readonly start: number;
  /** 'ethernet' (loopback included) or 'ip' for interfaces without a link header. */
  readonly link?: 'ethernet' | 'ip';
  readonly timeWaitMs?: number;
  readonly finTimeoutMs?: number;
  /** The bound on tracked connections and the idle timeouts: see TrackerOptions. */
  readonly maxConnections?: number;
  readonly establishedMs?: number;
  readonly staleMs?: number;
  /** Segment events carry the TCP options as tcpdump prints them (`--tcp-options`). */
  readonly segmentOptions?: boolean;
}

/** The engine's counters; tap mode only ever moves frames, bytes, malformed, nonTcp and forged (and the table's). */
export type TapStats = EngineStatsWithTable;

/** How long an injected RST may take to show up in the capture before we stop waiting for it. */
const ECHO_MS = 2000;

interface TapConn {
  /**
   * The first frame seen each way, its bytes copied out: forged RSTs copy
   * addresses (and MACs) from it, decoded only then. Kept as bytes, not as
   * the decoded frame, whose objects cost ~2 KiB of heap per connection — as
   * much again as the tracker's record (a SYN flood filled tap's 160 MiB heap
   * ceiling at 32 768 connections).
   */
  template: { c2s?: Buffer; s2c?: Buffer };
  /** Payload bytes seen each way (rules can match on them: `afterBytes`). */
  bytes: { c2s: number; s2c: number };
}

export class TapCore {
  private readonly counters: EngineStats = { frames: 0, bytes: 0, malformed: 0, nonTcp: 0, dropped: 0, delayed: 0, forged: 0, coalesced: 0, held: 0, duplicated: 0, replayed: 0, replayUnused: 0, partial: 0 };
  private readonly out: TapOutput;
  private decider: Decider;
  private readonly tracker: Tracker;
  private readonly start: number;
  private readonly conns = new Map<number, TapConn>();
  /** Our own injected RSTs, recognised when the capture sees them go by (they were applied when sent). */
  private readonly echoes = new Map<string, number>();
  private requestedWake: number | undefined;
  private readonly warned = new Set<string>();
  private readonly decode: (buf: Uint8Array) => DecodeResult<Frame>;
  private readonly segmentOptions: boolean;

  constructor(opts: TapCoreOptions) {
    this.out = opts.out;
    this.decider = opts.decider ?? passAll;
    this.start = opts.start;
    this.segmentOptions = opts.segmentOptions === true;
    this.decode = (opts.link ?? 'ethernet') === 'ethernet' ? decodeFrame : (buf) => decodeIpPacket(buf, 0);
    this.tracker = new Tracker({
      timeWaitMs: opts.timeWaitMs,
      finTimeoutMs: opts.finTimeoutMs,
      maxConnections: opts.maxConnections,
      establishedMs: opts.establishedMs,
      staleMs: opts.staleMs,
    });
  }

  /** The counters, with the connection table's (a fresh object each call). */
  get stats(): TapStats {
    return { ...this.counters, ...tableStats(this.tracker) };
  }

  setDecider(d: Decider): void {
    this.decider = d;
  }

  connections(): IterableIterator<ConnectionView> {
    return this.tracker.connections();
  }

  /** What the kernel view asks of the engine, asked of tap's tracker instead (session/kernel-view.ts). */
  connection(id: number): ConnectionView | undefined {
    return this.tracker.get(id);
  }

  connectionBytes(id: number): { c2s: number; s2c: number } | undefined {
    return this.conns.get(id)?.bytes;
  }

  /** The kernel made an endpoint an orphan at `t` (s since the run): its FIN-WAIT-2 timeout runs from then (Engine.kernelOrphaned). */
  kernelOrphaned(conn: number, endpoint: Endpoint, t: number): void {
    this.tracker.orphaned(conn, endpoint, this.start + t * 1000);
    this.rearm();
  }

  /** One captured frame; the core owns `frame` (the runtime copied it out of cap's buffer). */
  onFrame(frame: Buffer, now: number): void {
    this.counters.frames++;
    this.counters.bytes += frame.length;
    const d = this.decode(frame);
    if (!d.ok) {
      this.counters.malformed++;
      return;
    }
    if (d.value.kind !== 'tcp') {
      this.counters.nonTcp++;
      return;
    }
    this.onTcp(d.value, now);
    this.forgetGone();
    this.rearm();
  }

  onTimer(now: number): void {
    this.emitChanges(this.tracker.advance(now), (c) => c);
    this.forgetGone();
    for (const [k, until] of this.echoes) if (until <= now) this.echoes.delete(k);
    this.rearm();
  }

  onControl(cmd: ControlCommand, now: number): void {
    if (cmd.kind === 'rst') {
      if (!this.tracker.get(cmd.conn)) this.warn(now, `no connection #${cmd.conn} to reset`);
      else this.forge(cmd.conn, cmd.to, 0, now, undefined, 'by hand');
    } else if (cmd.kind !== 'set-profile') {
      this.warn(now, `tap mode is not inline: it cannot ${cmd.kind.replace(/-/g, ' ')} (only forge RSTs); use tcpmitm lab or attach`);
    }
    this.rearm();
  }

  private onTcp(f: TcpFrame, now: number): void {
    const seg = toSegmentInfo(f);
    const key = echoKey(seg);
    const echo = this.echoes.get(key);
    if (echo !== undefined) {
      // Our own RST going by: already applied to the tracker when we sent it.
      this.echoes.delete(key);
      return;
    }
    const r = this.tracker.sent(seg, now);
    // The table is full of records that may not be evicted: seen, counted (stats.untracked), not tracked; no rule applies.
    if (r === undefined) return this.warn(now, `connection table full (${this.tracker.maxConnections} tracked, none evictable): new connections go untracked, counted in stats.untracked (raise --max-connections)`, 'table-full');
    const id = r.conn.id;
    let c = this.conns.get(id);
    if (!c || r.isNew) {
      c = { template: {}, bytes: { c2s: 0, s2c: 0 } };
      this.conns.set(id, c);
      this.emit({
        type: 'connection',
        t: this.t(now),
        conn: id,
        client: formatEndpoint(r.conn.client.addr, r.conn.client.port),
        server: formatEndpoint(r.conn.server.addr, r.conn.server.port),
        pickedUp: r.conn.pickedUp,
      });
    }
    const observed = (cause: string) => `observed ${cause}`;
    this.emitChanges(r.changes, observed);
    const from = r.from;
    const dir: Direction = from === 'client' ? 'c2s' : 's2c';
    if (c.template[dir] === undefined) {
      const own = Buffer.allocUnsafeSlow(f.buf.length);
      own.set(f.buf);
      c.template[dir] = own;
    }
    c.bytes[dir] += seg.payloadLength;
    // The rule sees the segment as the engine shows it: sent, not yet delivered.
    const decision = this.decider.decide({
      conn: id,
      from,
      role: r.role,
      flags: seg.flags,
      senderState: endOf(r.conn, from).state,
      receiverState: endOf(r.conn, peerOf(from)).state,
      srcPort: seg.srcPort,
      dstPort: seg.dstPort,
      payloadLength: seg.payloadLength,
      senderBytes: c.bytes[dir],
    });
    this.emitSegment(id, seg, from, r.role, now, 'pass', decision.rule, undefined, this.segmentOptions ? f.tcpOptions : undefined);
    this.emitChanges(this.tracker.delivered(seg, now), observed);
    const plan = decision.plan;
    if (plan.kind === 'rst') {
      // tcpkill's way: the numbers come from what was just seen go by.
      this.forge(id, plan.to, plan.seqOffset, now, decision.rule, `rule ${decision.rule ?? '?'} on ${r.role} from ${from}`);
    } else if (plan.kind !== 'pass') {
      this.warn(now, `rule ${decision.rule ?? '?'} asks for ${plan.kind}, which tap mode cannot do (it is not inline): the segment went by untouched`, plan.kind);
    }
  }

  /** Frees what is kept per connection (template, byte counts, the rules' counters) once the tracker forgot it: timed out, evicted, finished. */
  private forgetGone(): void {
    if (!this.tracker.hasForgotten) return;
    for (const id of this.tracker.drainForgotten()) {
      this.conns.delete(id);
      this.decider.forget(id);
    }
  }

  /** Forge a RST the receiver accepts (seq = its rcv_nxt, RFC 5961 §3.2) and treat it as delivered. */
  private forge(id: number, to: Endpoint | 'both', seqOffset: number, now: number, rule: number | undefined, why: string): void {
    const c = this.conns.get(id);
    for (const target of to === 'both' ? (['client', 'server'] as const) : [to]) {
      const nums = this.tracker.rstFor(id, target);
      // A segment to `target` travels from its peer: c2s for the server.
      const dir: Direction = target === 'server' ? 'c2s' : 's2c';
      const same = c?.template[dir];
      const bytes = same ?? c?.template[dir === 'c2s' ? 's2c' : 'c2s'];
      const decoded = bytes === undefined ? undefined : this.decode(bytes);
      const template = decoded?.ok && decoded.value.kind === 'tcp' ? decoded.value : undefined;
      if (!nums || !template) {
        this.warn(now, cannotForgeWarning('RST', target, id, this.tracker.get(id)));
        continue;
      }
      const seqNo = (nums.seq + seqOffset) >>> 0;
      const frame = forgeRstFrom(template, { seq: seqNo, ack: nums.ack, direction: same ? 'same' : 'reverse' });
      const d = decodeFrame(frame);
      if (!d.ok || d.value.kind !== 'tcp') throw new Error(`forged RST does not decode: ${d.ok ? 'not tcp' : d.error.message}`);
      const seg = toSegmentInfo(d.value);
      this.counters.forged++;
      this.echoes.set(echoKey(seg), now + ECHO_MS);
      const from = peerOf(target);
      this.emitSegment(id, seg, from, 'rst', now, 'forged', rule, `RST to ${target}${seqOffset ? ` (seq off by ${seqOffset})` : ''}`, this.segmentOptions ? d.value.tcpOptions : undefined);
      // Its seq as its segment event gives it: relative to the ISN of the peer it pretends to be.
      const shownSeq = forgedRstSeq(this.tracker.get(id), from, seqNo);
      this.emit({ type: 'action', t: this.t(now), conn: id, action: 'rst', detail: `forged RST to ${target} seq=${shownSeq} (${why})`, ...(rule !== undefined ? { rule } : {}) });
      this.out.inject(frame, d.value.ipOffset, seg.family, seg.dstAddr);
      this.emitChanges(this.tracker.delivered(seg, now), (cause) => `${cause}, forged by tcpmitm`);
    }
  }

  private rearm(): void {
    let at = this.tracker.nextDeadline();
    for (const until of this.echoes.values()) if (at === undefined || until < at) at = until;
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

  private emitChanges(changes: readonly StateChange[], cause: (c: string) => string): void {
    // Still an inference (source 'inferred'): tap sees the wire, not the sockets.
    for (const ch of changes) this.emit(inferredStateEvent(ch, this.start, cause(ch.cause)));
  }

  private emitSegment(id: number, s: SegmentInfo, from: Endpoint, role: Role, now: number, verdict: Verdict, rule: number | undefined, detail?: string, options?: readonly TcpOption[]): void {
    this.emit(
      segmentEvent({
        t: this.t(now),
        conn: id,
        from,
        seg: s,
        view: this.tracker.get(id),
        role,
        verdict,
        ...(rule !== undefined ? { rule } : {}),
        ...(detail !== undefined ? { detail } : {}),
        ...(options !== undefined ? { options } : {}),
      }),
    );
  }

  private warn(now: number, message: string, once?: string): void {
    if (once !== undefined) {
      if (this.warned.has(once)) return;
      this.warned.add(once);
    }
    this.emit({ type: 'warning', t: this.t(now), message });
  }
}

function endOf(conn: ConnectionView, e: Endpoint) {
  return e === 'client' ? conn.clientEnd : conn.serverEnd;
}

function echoKey(s: SegmentInfo): string {
  return `${s.srcAddr}|${s.srcPort}|${s.dstAddr}|${s.dstPort}|${s.seq}|${s.flags}`;
}
