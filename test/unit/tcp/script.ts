// A tiny scripting language for tracker tests: each line is one segment or a
// clock step, e.g. `c>s S`, `s>c FA len=5 drop`, `s>c FA retx`, `wait 200`,
// `release`. The two sides number their segments themselves (seq from their
// own counter, ack from what they were delivered), so scripts read like a
// ladder diagram and stay correct across wrap-around.

import { seq as toSeq, seqAdd, seqGe, seqGt, seqLe, type Seq } from '../../../src/packet/seq.js';
import type { SegmentInfo } from '../../../src/tcp/segment.js';
import { TcpFlag } from '../../../src/tcp/segment.js';
import type { Endpoint, TcpState } from '../../../src/tcp/state.js';
import { Tracker, type DeliveryResult, type StateChange, type TrackerOptions } from '../../../src/tcp/tracker.js';
import type { Role } from '../../../src/tcp/role.js';

export interface SideModel {
  addr: string;
  port: number;
  isn: Seq;
  nxt: Seq;
  rcv: Seq | undefined;
  /** Set once it has sent a FIN (for `all`). */
  finSent?: boolean;
  /** The last segment that occupied sequence space, for `retx`. */
  lastSpace?: { seq: Seq; flags: number; len: number };
}

interface Flight {
  readonly seg: SegmentInfo;
  readonly dir: 'c>s' | 's>c';
}

export interface LabOptions extends TrackerOptions {
  family?: 4 | 6;
  clientAddr?: string;
  serverAddr?: string;
  clientPort?: number;
  serverPort?: number;
  clientIsn?: number;
  serverIsn?: number;
  tracker?: Tracker;
}

const LETTER: Record<string, number> = { S: TcpFlag.SYN, F: TcpFlag.FIN, R: TcpFlag.RST, P: TcpFlag.PSH, A: TcpFlag.ACK };

export class Lab {
  readonly tracker: Tracker;
  now = 0;
  readonly c: SideModel;
  readonly s: SideModel;
  readonly family: 4 | 6;
  /** Every change the tracker reported, in order. */
  readonly changes: StateChange[] = [];
  /** `dir role` for each sent segment, in order. */
  readonly roles: string[] = [];
  readonly held: Flight[] = [];
  lastDelivery?: DeliveryResult;
  /** Connection id of the last sent segment. */
  conn = 0;

  constructor(opts: LabOptions = {}) {
    this.family = opts.family ?? 4;
    const v6 = this.family === 6;
    this.tracker = opts.tracker ?? new Tracker(opts);
    const cIsn = toSeq(opts.clientIsn ?? 1000);
    const sIsn = toSeq(opts.serverIsn ?? 5000);
    this.c = { addr: opts.clientAddr ?? (v6 ? '2001:2::1' : '198.18.0.1'), port: opts.clientPort ?? 43210, isn: cIsn, nxt: cIsn, rcv: undefined };
    this.s = { addr: opts.serverAddr ?? (v6 ? '2001:2::2' : '198.18.0.2'), port: opts.serverPort ?? 7000, isn: sIsn, nxt: sIsn, rcv: undefined };
  }

  run(script: string): this {
    for (const raw of script.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (line !== '') this.step(line);
    }
    return this;
  }

  step(line: string): void {
    const words = line.split(/\s+/);
    const head = words[0]!;
    if (head === 'wait') {
      this.now += Number(words[1]);
      this.changes.push(...this.tracker.advance(this.now));
      return;
    }
    if (head === 'release') {
      const dir = words[1];
      for (let i = 0; i < this.held.length; ) {
        const f = this.held[i]!;
        if (dir === undefined || f.dir === dir) {
          this.held.splice(i, 1);
          this.deliver(f);
        } else i++;
      }
      return;
    }
    const dir = head.replace('→', '>') as 'c>s' | 's>c';
    if (dir !== 'c>s' && dir !== 's>c') throw new Error(`bad script line: ${line}`);
    const flagsWord = words[1] ?? '';
    let flags = 0;
    for (const ch of flagsWord) {
      const bit = LETTER[ch];
      if (bit === undefined) throw new Error(`bad flag ${ch} in: ${line}`);
      flags |= bit;
    }
    const opts = new Map<string, string>();
    for (const w of words.slice(2)) {
      const [k, v] = w.split('=');
      opts.set(k!, v ?? '');
    }
    const seg = this.make(dir, flags, opts);
    const r = this.tracker.sent(seg, this.now);
    if (r === undefined) throw new Error(`connection table full: ${line} not tracked`);
    this.conn = r.conn.id;
    this.changes.push(...r.changes);
    this.roles.push(`${dir} ${r.role}`);
    const f: Flight = { seg, dir };
    if (opts.has('drop')) return;
    if (opts.has('hold')) {
      this.held.push(f);
      return;
    }
    this.deliver(f);
  }

  /** Starts the sides afresh for a new connection on the same 4-tuple (scenario 10). */
  reconnect(clientIsn: number, serverIsn: number): void {
    this.c.isn = this.c.nxt = toSeq(clientIsn);
    this.s.isn = this.s.nxt = toSeq(serverIsn);
    this.c.rcv = this.s.rcv = undefined;
    this.c.finSent = this.s.finSent = false;
    delete this.c.lastSpace;
    delete this.s.lastSpace;
  }

  /** Delivers the held segment at index i (any order: reordering), or drops it. */
  releaseAt(i: number, drop = false): void {
    const [f] = this.held.splice(i, 1);
    if (f !== undefined && !drop) this.deliver(f);
  }

  /** A segment tcpmitm forges: delivered to `to`, never sent by an endpoint. */
  forge(to: Endpoint, flags: number, seqNo: number, ackNo: number): DeliveryResult {
    const from = to === 'server' ? this.c : this.s;
    const dest = to === 'server' ? this.s : this.c;
    const seg: SegmentInfo = {
      family: this.family,
      srcAddr: from.addr,
      dstAddr: dest.addr,
      srcPort: from.port,
      dstPort: dest.port,
      seq: seqNo >>> 0,
      ack: ackNo >>> 0,
      flags,
      window: 0,
      payloadLength: 0,
    };
    const r = this.tracker.deliver(seg, this.now);
    this.changes.push(...r.changes);
    this.lastDelivery = r;
    return r;
  }

  /** [initial, ...every state entered] for one endpoint of one connection. */
  states(endpoint: Endpoint, conn = this.conn, initial?: TcpState): TcpState[] {
    const mine = this.changes.filter((ch) => ch.conn === conn && ch.endpoint === endpoint);
    const first = initial ?? mine[0]?.from ?? (this.tracker.get(conn)?.[endpoint === 'client' ? 'clientEnd' : 'serverEnd'].state as TcpState);
    return [first, ...mine.map((ch) => ch.to)];
  }

  rolesOnly(): Role[] {
    return this.roles.map((r) => r.split(' ')[1] as Role);
  }

  private make(dir: 'c>s' | 's>c', flags: number, opts: Map<string, string>): SegmentInfo {
    const from = dir === 'c>s' ? this.c : this.s;
    const to = dir === 'c>s' ? this.s : this.c;
    let len = Number(opts.get('len') ?? 0);
    let seqNo: Seq;
    if (flags & TcpFlag.SYN) seqNo = from.isn;
    else if (opts.has('retx')) {
      const last = from.lastSpace;
      if (last === undefined) throw new Error(`${dir}: nothing to retransmit`);
      seqNo = last.seq;
      len = last.len;
    } else if (opts.has('all')) {
      // Everything it ever sent after the SYN, in one segment (a settle-up retransmission).
      seqNo = seqAdd(from.isn, 1);
      if (from.finSent) flags |= TcpFlag.FIN;
      len = ((from.nxt - seqNo) >>> 0) - (from.finSent ? 1 : 0);
    } else if (opts.has('ka')) seqNo = seqAdd(from.nxt, -1);
    else if (opts.has('seq')) seqNo = seqAdd(from.isn, Number(opts.get('seq')));
    else seqNo = from.nxt;
    const ackNo = (flags & TcpFlag.ACK) !== 0 ? (opts.has('ack') ? seqAdd(to.isn, Number(opts.get('ack'))) : (from.rcv ?? toSeq(0))) : toSeq(0);
    if (flags & TcpFlag.FIN && (flags & TcpFlag.RST) === 0) from.finSent = true;
    const space = len + (flags & TcpFlag.SYN ? 1 : 0) + (flags & TcpFlag.FIN ? 1 : 0);
    const end = seqAdd(seqNo, space);
    if ((flags & TcpFlag.RST) === 0 && seqGt(end, from.nxt)) from.nxt = end;
    if (space > 0 && (flags & TcpFlag.RST) === 0 && !opts.has('retx') && !opts.has('all')) from.lastSpace = { seq: seqNo, flags, len };
    const wsOpt = opts.get('ws');
    return {
      family: this.family,
      srcAddr: from.addr,
      dstAddr: to.addr,
      srcPort: from.port,
      dstPort: to.port,
      seq: seqNo,
      ack: ackNo,
      flags,
      window: Number(opts.get('win') ?? 64240),
      payloadLength: len,
      ...(wsOpt !== undefined ? { windowScale: Number(wsOpt) } : {}),
    };
  }

  private deliver(f: Flight): void {
    const to = f.dir === 'c>s' ? this.s : this.c;
    const seg = f.seg;
    const s = toSeq(seg.seq);
    if ((seg.flags & TcpFlag.RST) === 0) {
      const space = seg.payloadLength + (seg.flags & TcpFlag.SYN ? 1 : 0) + (seg.flags & TcpFlag.FIN ? 1 : 0);
      const end = seqAdd(s, space);
      if (seg.flags & TcpFlag.SYN) {
        if (to.rcv === undefined) to.rcv = end;
      } else if (to.rcv !== undefined && seqLe(s, to.rcv) && seqGe(end, to.rcv)) {
        to.rcv = end;
      }
    }
    const r = this.tracker.deliver(seg, this.now);
    this.lastDelivery = r;
    this.changes.push(...r.changes);
  }
}

export const HANDSHAKE = `
c>s S
s>c SA
c>s A
`;
