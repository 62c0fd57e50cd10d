// TCP header (RFC 9293 §3.1): byte offsets, a length-checked view, a plain
// repr with parse/emit/bufferLen, and the options (MSS, window scale,
// SACK-permitted, SACK blocks, timestamps, NOP, EOL). Options the codec does
// not know, or cannot make sense of, are kept byte-for-byte so they re-emit.
import { copyBytes, put16, put32, u16, u32 } from './bytes.js';
import { type DecodeResult, fail, ok } from './result.js';

export const TCP_FIELD = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  /** 16 bits: data offset (4), reserved (3), NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN. */
  OFFSET_FLAGS: 12,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
  OPTIONS: 20,
  MIN_HEADER_LEN: 20,
  MAX_HEADER_LEN: 60,
} as const;

export const TcpOptionKind = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;

export type TcpOption =
  | { readonly kind: 'eol' }
  | { readonly kind: 'nop' }
  | { readonly kind: 'mss'; readonly value: number }
  | { readonly kind: 'window-scale'; readonly shift: number }
  | { readonly kind: 'sack-permitted' }
  | { readonly kind: 'sack'; readonly blocks: readonly (readonly [left: number, right: number])[] }
  | { readonly kind: 'timestamps'; readonly tsval: number; readonly tsecr: number }
  /** Any other well-formed kind/length option (or a known kind with an unexpected length). */
  | { readonly kind: 'unknown'; readonly type: number; readonly data: Uint8Array }
  /** Bytes after an EOL: padding, normally zeros, kept as seen. */
  | { readonly kind: 'padding'; readonly data: Uint8Array }
  /**
   * The rest of the option area once an option's length is < 2 or runs past
   * the header. Linux's tcp_parse_options() stops there and still accepts the
   * segment, so this is not a decode error.
   */
  | { readonly kind: 'malformed'; readonly data: Uint8Array };

/** Decodes the option area buf[off, end). Never fails: see the 'malformed' variant. */
export function parseTcpOptions(buf: Uint8Array, off: number, end: number): TcpOption[] {
  const out: TcpOption[] = [];
  let p = off;
  while (p < end) {
    const kind = buf[p]!;
    if (kind === TcpOptionKind.EOL) {
      out.push({ kind: 'eol' });
      if (p + 1 < end) out.push({ kind: 'padding', data: copyBytes(buf, p + 1, end) });
      return out;
    }
    if (kind === TcpOptionKind.NOP) {
      out.push({ kind: 'nop' });
      p++;
      continue;
    }
    const len = p + 1 < end ? buf[p + 1]! : 0;
    if (len < 2 || p + len > end) {
      out.push({ kind: 'malformed', data: copyBytes(buf, p, end) });
      return out;
    }
    if (kind === TcpOptionKind.MSS && len === 4) out.push({ kind: 'mss', value: u16(buf, p + 2) });
    else if (kind === TcpOptionKind.WINDOW_SCALE && len === 3) out.push({ kind: 'window-scale', shift: buf[p + 2]! });
    else if (kind === TcpOptionKind.SACK_PERMITTED && len === 2) out.push({ kind: 'sack-permitted' });
    else if (kind === TcpOptionKind.SACK && len > 2 && (len - 2) % 8 === 0) {
      const blocks: [number, number][] = [];
      for (let q = p + 2; q < p + len; q += 8) blocks.push([u32(buf, q), u32(buf, q + 4)]);
      out.push({ kind: 'sack', blocks });
    } else if (kind === TcpOptionKind.TIMESTAMPS && len === 10) {
      out.push({ kind: 'timestamps', tsval: u32(buf, p + 2), tsecr: u32(buf, p + 6) });
    } else out.push({ kind: 'unknown', type: kind, data: copyBytes(buf, p + 2, p + len) });
    p += len;
  }
  return out;
}

export function tcpOptionLen(o: TcpOption): number {
  switch (o.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'window-scale':
      return 3;
    case 'sack-permitted':
      return 2;
    case 'sack':
      return 2 + 8 * o.blocks.length;
    case 'timestamps':
      return 10;
    case 'unknown':
      return 2 + o.data.length;
    case 'padding':
    case 'malformed':
      return o.data.length;
  }
}

/** Writes options at `off`; returns the offset just past them (no padding added). */
export function emitTcpOptions(opts: readonly TcpOption[], buf: Uint8Array, off: number): number {
  let p = off;
  for (const o of opts) {
    switch (o.kind) {
      case 'eol':
        buf[p] = TcpOptionKind.EOL;
        break;
      case 'nop':
        buf[p] = TcpOptionKind.NOP;
        break;
      case 'mss':
        buf[p] = TcpOptionKind.MSS;
        buf[p + 1] = 4;
        put16(buf, p + 2, o.value);
        break;
      case 'window-scale':
        buf[p] = TcpOptionKind.WINDOW_SCALE;
        buf[p + 1] = 3;
        buf[p + 2] = o.shift;
        break;
      case 'sack-permitted':
        buf[p] = TcpOptionKind.SACK_PERMITTED;
        buf[p + 1] = 2;
        break;
      case 'sack':
        buf[p] = TcpOptionKind.SACK;
        buf[p + 1] = 2 + 8 * o.blocks.length;
        o.blocks.forEach(([l, r], i) => {
          put32(buf, p + 2 + 8 * i, l);
          put32(buf, p + 6 + 8 * i, r);
        });
        break;
      case 'timestamps':
        buf[p] = TcpOptionKind.TIMESTAMPS;
        buf[p + 1] = 10;
        put32(buf, p + 2, o.tsval);
        put32(buf, p + 6, o.tsecr);
        break;
      case 'unknown':
        buf[p] = o.type;
        buf[p + 1] = 2 + o.data.length;
        buf.set(o.data, p + 2);
        break;
      case 'padding':
      case 'malformed':
        buf.set(o.data, p);
        break;
    }
    p += tcpOptionLen(o);
  }
  return p;
}

/** The shared validity check (also used by the allocation-free frame decoder); undefined when valid. */
export function checkTcp(buf: Uint8Array, off: number, len: number): DecodeResult<never> | undefined {
  if (len < TCP_FIELD.MIN_HEADER_LEN) return fail('tcp', 'truncated', off, `segment of ${len} bytes < 20`);
  const doff = (buf[off + TCP_FIELD.OFFSET_FLAGS]! >>> 4) * 4;
  if (doff < TCP_FIELD.MIN_HEADER_LEN) return fail('tcp', 'bad-data-offset', off, `data offset ${doff} < 20`);
  if (doff > len) return fail('tcp', 'truncated', off, `data offset ${doff} > segment length ${len}`);
  return undefined;
}

/** A length-checked window onto a TCP segment of `length` bytes at `offset`. */
export class TcpView {
  private constructor(
    readonly buf: Uint8Array,
    readonly offset: number,
    readonly length: number,
  ) {}

  static check(buf: Uint8Array, off: number, len = buf.length - off): DecodeResult<TcpView> {
    return checkTcp(buf, off, len) ?? ok(new TcpView(buf, off, len));
  }

  get srcPort(): number {
    return u16(this.buf, this.offset + TCP_FIELD.SRC_PORT);
  }
  get dstPort(): number {
    return u16(this.buf, this.offset + TCP_FIELD.DST_PORT);
  }
  get seq(): number {
    return u32(this.buf, this.offset + TCP_FIELD.SEQ);
  }
  get ack(): number {
    return u32(this.buf, this.offset + TCP_FIELD.ACK);
  }
  get headerLength(): number {
    return (this.buf[this.offset + TCP_FIELD.OFFSET_FLAGS]! >>> 4) * 4;
  }
  /** The nine flags as TcpFlag bits (NS is bit 8). */
  get flags(): number {
    return u16(this.buf, this.offset + TCP_FIELD.OFFSET_FLAGS) & 0x1ff;
  }
  /** The three reserved bits between data offset and NS. */
  get reserved(): number {
    return (this.buf[this.offset + TCP_FIELD.OFFSET_FLAGS]! >>> 1) & 7;
  }
  get window(): number {
    return u16(this.buf, this.offset + TCP_FIELD.WINDOW);
  }
  get checksum(): number {
    return u16(this.buf, this.offset + TCP_FIELD.CHECKSUM);
  }
  get urgentPointer(): number {
    return u16(this.buf, this.offset + TCP_FIELD.URGENT);
  }
  get options(): TcpOption[] {
    return parseTcpOptions(this.buf, this.offset + TCP_FIELD.OPTIONS, this.offset + this.headerLength);
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  get payloadLength(): number {
    return this.length - this.headerLength;
  }
}

export interface TcpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** TcpFlag bits, NS included. */
  readonly flags: number;
  /** The three reserved bits, kept so odd frames round-trip; 0 when building. */
  readonly reserved: number;
  readonly window: number;
  readonly urgentPointer: number;
  readonly options: readonly TcpOption[];
  /** The checksum as seen; undefined means "compute on emit" (the frame emitter does it). */
  readonly checksum?: number;
}

/** The header fields (payload excluded: it stays in the frame). */
export function parseTcpRepr(v: TcpView): TcpRepr {
  return {
    srcPort: v.srcPort,
    dstPort: v.dstPort,
    seq: v.seq,
    ack: v.ack,
    flags: v.flags,
    reserved: v.reserved,
    window: v.window,
    urgentPointer: v.urgentPointer,
    options: v.options,
    checksum: v.checksum,
  };
}

/** Header length: 20 plus the options, rounded up to 4 (padding is zero bytes, i.e. EOL). */
export function tcpReprHeaderLen(repr: TcpRepr): number {
  let n = 0;
  for (const o of repr.options) n += tcpOptionLen(o);
  return TCP_FIELD.MIN_HEADER_LEN + ((n + 3) & ~3);
}

/**
 * Writes the header at `off`, checksum field = repr.checksum ?? 0 (the frame
 * emitter computes it over the pseudo-header). Returns the payload offset.
 * Throws RangeError if the options do not fit in 40 bytes.
 */
export function emitTcpRepr(repr: TcpRepr, buf: Uint8Array, off: number): number {
  const hl = tcpReprHeaderLen(repr);
  if (hl > TCP_FIELD.MAX_HEADER_LEN) throw new RangeError(`TCP options of ${hl - 20} bytes exceed 40`);
  put16(buf, off + TCP_FIELD.SRC_PORT, repr.srcPort);
  put16(buf, off + TCP_FIELD.DST_PORT, repr.dstPort);
  put32(buf, off + TCP_FIELD.SEQ, repr.seq);
  put32(buf, off + TCP_FIELD.ACK, repr.ack);
  put16(buf, off + TCP_FIELD.OFFSET_FLAGS, ((hl >>> 2) << 12) | ((repr.reserved & 7) << 9) | (repr.flags & 0x1ff));
  put16(buf, off + TCP_FIELD.WINDOW, repr.window);
  put16(buf, off + TCP_FIELD.CHECKSUM, repr.checksum ?? 0);
  put16(buf, off + TCP_FIELD.URGENT, repr.urgentPointer);
  const end = emitTcpOptions(repr.options, buf, off + TCP_FIELD.OPTIONS);
  buf.fill(0, end, off + hl);
  return off + hl;
}

/** Window-scale shift from the option area, or undefined; allocation-free scan for the hot path. */
export function findWindowScale(buf: Uint8Array, off: number, end: number): number | undefined {
  let p = off;
  while (p < end) {
    const kind = buf[p]!;
    if (kind === TcpOptionKind.EOL) return undefined;
    if (kind === TcpOptionKind.NOP) {
      p++;
      continue;
    }
    const len = p + 1 < end ? buf[p + 1]! : 0;
    if (len < 2 || p + len > end) return undefined;
    if (kind === TcpOptionKind.WINDOW_SCALE && len === 3) return buf[p + 2]!;
    p += len;
  }
  return undefined;
}
