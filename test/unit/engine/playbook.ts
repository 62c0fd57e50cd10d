// A playbook for the engine (after mitmproxy's test/mitmproxy/proxy/tutils.py):
// scripted inputs — frames captured on a port, timers, control commands — and
// the full record of what the engine asked for, with no sockets and no clock.
//
// Captured frames are treated as the packet port treats them: a view of a
// receive slab that is overwritten once onFrame returns, while a send is
// copied when it is made (as sendmmsg does at the flush). A segment the
// engine keeps without copying it would then go out as garbage and fail the test.

import { Engine, type Port } from '../../../src/engine/engine.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import type { Decider } from '../../../src/engine/plan.js';
import type { SignalDelivery, SignalRequest } from '../../../src/engine/cues.js';
import { buildTcpFrame } from '../../../src/packet/build.js';
import { decodeFrame, toSegmentInfo } from '../../../src/packet/frame.js';
import { flagLetters } from '../../../src/tcp/segment.js';

export const CLIENT = { mac: '02:00:00:00:00:01', ip: '198.18.0.1', port: 40000 };
export const SERVER = { mac: '02:00:00:00:00:02', ip: '198.18.0.2', port: 8080 };
export const CISN = 1000;
export const SISN = 5000;

export type Output =
  | { kind: 'send'; port: Port; flags: string; seq: number; ack: number; len: number; frame: Buffer; ticket?: number }
  | { kind: 'wake'; at: number | undefined };

/** A capture ticket the engine gave back: with the send of its frame, or as never to be sent. */
export interface TicketBack {
  readonly ticket: number;
  readonly how: 'sent' | 'discarded';
  /** Where: the port sent on, or the port the discarded frame was captured on. */
  readonly port: Port;
}

export class Playbook {
  readonly outputs: Output[] = [];
  readonly events: TcpmitmEvent[] = [];
  readonly engine: Engine;
  now = 0;
  /** With `tickets`: every capture gets the next ticket (1, 2, …), as a queue-fed port (intercept) gives them, and what came back. */
  readonly ticketsBack: TicketBack[] = [];
  ticketsGiven = 0;
  private readonly tickets: boolean;

  constructor(opts: { decider?: Decider; interactive?: boolean; timeWaitMs?: number; passSegments?: boolean; maxConnections?: number; signal?: (req: SignalRequest) => SignalDelivery; tickets?: boolean } = {}) {
    this.tickets = opts.tickets === true;
    this.engine = new Engine({
      start: 0,
      decider: opts.decider,
      interactive: opts.interactive,
      timeWaitMs: opts.timeWaitMs,
      maxConnections: opts.maxConnections,
      out: {
        send: (port, frame, ticket) => {
          const d = decodeFrame(frame);
          const t = ticket === undefined ? {} : { ticket };
          if (d.ok && d.value.kind === 'tcp') {
            const s = toSegmentInfo(d.value);
            this.outputs.push({ kind: 'send', port, flags: flagLetters(s.flags), seq: s.seq, ack: s.ack, len: s.payloadLength, frame: Buffer.from(frame), ...t });
          } else {
            this.outputs.push({ kind: 'send', port, flags: '-', seq: 0, ack: 0, len: frame.length, frame: Buffer.from(frame), ...t });
          }
          if (ticket !== undefined) this.ticketsBack.push({ ticket, how: 'sent', port });
        },
        discard: (port, ticket) => this.ticketsBack.push({ ticket, how: 'discarded', port }),
        wakeAt: (at) => this.outputs.push({ kind: 'wake', at }),
        emit: (ev) => this.events.push(ev),
        ...(opts.passSegments === undefined ? {} : { wantsPassSegments: () => opts.passSegments! }),
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      },
    });
  }

  /** A segment from the client (captured on port a) with sequence numbers relative to the ISNs. */
  fromClient(flags: string, seqRel: number, ackRel: number, len = 0): Buffer {
    return this.capture('a', seg(CLIENT, SERVER, flags, CISN + seqRel, flags.includes('A') ? SISN + ackRel : 0, len));
  }

  fromServer(flags: string, seqRel: number, ackRel: number, len = 0): Buffer {
    return this.capture('b', seg(SERVER, CLIENT, flags, SISN + seqRel, flags.includes('A') ? CISN + ackRel : 0, len));
  }

  /** Captures `frame` as the packet port does (a slab overwritten after the call); returns an intact copy. */
  capture(port: Port, frame: Buffer): Buffer {
    const intact = Buffer.from(frame);
    this.engine.onFrame(port, frame, this.now, this.tickets ? ++this.ticketsGiven : undefined);
    frame.fill(0xee);
    return intact;
  }

  /** SYN, SYN-ACK, ACK: both ends ESTAB. */
  handshake(): void {
    this.fromClient('S', 0, 0);
    this.fromServer('SA', 0, 1);
    this.fromClient('A', 1, 1);
  }

  advance(ms: number): void {
    this.now += ms;
    this.engine.onTimer(this.now);
  }

  /** Sends as "port flags" strings, e.g. "b S", "a SA", clearing them. */
  takeSends(): string[] {
    const s = this.outputs.filter((o): o is Extract<Output, { kind: 'send' }> => o.kind === 'send').map((o) => `${o.port} ${o.flags}`);
    this.outputs.length = 0;
    return s;
  }

  sendsRaw(): Extract<Output, { kind: 'send' }>[] {
    return this.outputs.filter((o): o is Extract<Output, { kind: 'send' }> => o.kind === 'send');
  }

  /** Inferred state sequence of one endpoint: ["SYN-SENT", "ESTAB", …]. */
  states(endpoint: 'client' | 'server', conn = 1): string[] {
    return this.events
      .filter((e) => e.type === 'state' && e.endpoint === endpoint && e.conn === conn && e.source === 'inferred')
      .map((e) => (e as { to: string }).to);
  }
}

export function seg(
  from: typeof CLIENT,
  to: typeof CLIENT,
  flags: string,
  seqNo: number,
  ackNo: number,
  len: number,
): Buffer {
  return buildTcpFrame({
    srcMac: from.mac,
    dstMac: to.mac,
    src: from.ip,
    dst: to.ip,
    srcPort: from.port,
    dstPort: to.port,
    seq: seqNo >>> 0,
    ack: ackNo >>> 0,
    flags,
    window: 502,
    payload: new Uint8Array(len).fill(0x61),
  });
}
