// The part of a decoded TCP segment the tracker and the rules need: a small
// plain object built once per frame by the engine from the packet views.

/** TCP header flag bits (RFC 9293 §3.1, RFC 3168 for ECE/CWR, RFC 3540 for NS). */
export const TcpFlag = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  NS: 0x100,
} as const;

export type TcpFlagName = keyof typeof TcpFlag;

export interface SegmentInfo {
  readonly family: 4 | 6;
  /** Printable addresses ("198.18.0.1", "2001:2::1"). */
  readonly srcAddr: string;
  readonly dstAddr: string;
  readonly srcPort: number;
  readonly dstPort: number;
  /** Unsigned 32-bit sequence and acknowledgment numbers. */
  readonly seq: number;
  readonly ack: number;
  /** Bitwise OR of TcpFlag values. */
  readonly flags: number;
  /** The raw 16-bit window field (unscaled). */
  readonly window: number;
  readonly payloadLength: number;
  /** Window scale option, only present on SYN segments that carry it. */
  readonly windowScale?: number;
}

/** Flags as tcpdump-ish letters in a fixed order: "S", "SA", "FA", "R", "PA"… */
export function flagLetters(flags: number): string {
  return LETTERS[flags & 0x1ff]!;
}

function spellFlags(flags: number): string {
  let s = '';
  if (flags & TcpFlag.SYN) s += 'S';
  if (flags & TcpFlag.FIN) s += 'F';
  if (flags & TcpFlag.RST) s += 'R';
  if (flags & TcpFlag.PSH) s += 'P';
  if (flags & TcpFlag.ACK) s += 'A';
  if (flags & TcpFlag.URG) s += 'U';
  if (flags & TcpFlag.ECE) s += 'E';
  if (flags & TcpFlag.CWR) s += 'C';
  if (flags & TcpFlag.NS) s += 'N';
  return s;
}

/** All 512 combinations spelled once: every segment event needs its flags as letters. */
const LETTERS: readonly string[] = Array.from({ length: 512 }, (_, f) => spellFlags(f));
