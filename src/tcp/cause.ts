// Words for a segment in a state change's cause: "sent FIN+ACK seq=101 ack=1".
// Sequence numbers are relative to the sender's ISN and acknowledgment numbers
// to the receiver's ISN (as Wireshark shows them) when known, else absolute.

import type { Seq } from '../packet/seq.js';
import { TcpFlag } from './segment.js';

export interface DescribedSegment {
  readonly seq: Seq;
  readonly ack: Seq;
  readonly flags: number;
  readonly payloadLength: number;
}

/**
 * Why a client's SYN-SENT → CLOSED happened when a RST answered its SYN: no
 * socket listened on that port (the server side never existed). Consumers
 * (the UI) recognise a refused connection by it.
 */
export const REFUSED_CAUSE = 'ECONNREFUSED: no listener, the RST answers its SYN';

/** "SYN", "SYN+ACK", "FIN+ACK", "RST+ACK", "ACK": the flags that matter to the state machine. */
export function flagWords(flags: number): string {
  return WORDS[((flags & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST)) | ((flags & TcpFlag.ACK) >> 1)) & 0xf]!;
}

function spellWords(flags: number): string {
  const w: string[] = [];
  if (flags & TcpFlag.SYN) w.push('SYN');
  if (flags & TcpFlag.FIN) w.push('FIN');
  if (flags & TcpFlag.RST) w.push('RST');
  if (flags & TcpFlag.ACK) w.push('ACK');
  return w.length > 0 ? w.join('+') : 'no flags';
}

/** The 16 combinations of SYN, FIN, RST and ACK (ACK folded onto bit 3), spelled once. */
const WORDS: readonly string[] = Array.from({ length: 16 }, (_, i) =>
  spellWords((i & (TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST)) | (i & 0x8 ? TcpFlag.ACK : 0)),
);

function rel(n: Seq, base: Seq | undefined): number {
  return base === undefined ? n : (n - base) >>> 0;
}

export function describeSegment(seg: DescribedSegment, senderIsn: Seq | undefined, receiverIsn: Seq | undefined): string {
  let s = `${flagWords(seg.flags)} seq=${rel(seg.seq, senderIsn)}`;
  if (seg.flags & TcpFlag.ACK) s += ` ack=${rel(seg.ack, receiverIsn)}`;
  if (seg.payloadLength > 0) s += ` len=${seg.payloadLength}`;
  return s;
}

/**
 * "sent …"/"delivered …" for a state change, spelled only if a change happens:
 * most segments change no state, and building their words for nothing would
 * be the tracker's largest cost per segment. Template literals and String()
 * call toString().
 */
export class SegmentCause {
  constructor(
    private readonly verb: 'sent' | 'delivered',
    private readonly seg: DescribedSegment,
    private readonly senderIsn: Seq | undefined,
    private readonly receiverIsn: Seq | undefined,
  ) {}

  toString(): string {
    return `${this.verb} ${describeSegment(this.seg, this.senderIsn, this.receiverIsn)}`;
  }
}

/** A cause as a string, or one spelled on demand. */
export type Cause = string | SegmentCause;
