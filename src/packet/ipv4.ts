// IPv4 (RFC 791): byte offsets, a length-checked view and a plain repr with
// parse/emit/bufferLen. Options are kept as raw bytes. Fragments are
// recognised: only the first fragment (offset 0) carries the TCP header.
import { copyBytes, put16, u16 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { type DecodeResult, fail, ok } from './result.js';

export const IPV4_FIELD = {
  VER_IHL: 0,
  DSCP_ECN: 1,
  TOTAL_LENGTH: 2,
  IDENT: 4,
  FLAGS_FRAG: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
  OPTIONS: 20,
  MIN_HEADER_LEN: 20,
} as const;

/** The 3-bit flags field (RFC 791 §3.1): reserved, DF, MF. */
export const Ipv4Flag = { RESERVED: 4, DF: 2, MF: 1 } as const;

export const IpProtocol = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;

/** A length-checked window onto an IPv4 packet: header and total length fit in the buffer. */
export class Ipv4View {
  private constructor(
    readonly buf: Uint8Array,
    readonly offset: number,
  ) {}

  /** Checks version, IHL and total length against the `len` bytes available from `off`. */
  static check(buf: Uint8Array, off: number, len = buf.length - off): DecodeResult<Ipv4View> {
    const err = checkIpv4(buf, off, len);
    return err ?? ok(new Ipv4View(buf, off));
  }

  get headerLength(): number {
    return (this.buf[this.offset]! & 0x0f) * 4;
  }
  get dscp(): number {
    return this.buf[this.offset + IPV4_FIELD.DSCP_ECN]! >>> 2;
  }
  get ecn(): number {
    return this.buf[this.offset + IPV4_FIELD.DSCP_ECN]! & 3;
  }
  get totalLength(): number {
    return u16(this.buf, this.offset + IPV4_FIELD.TOTAL_LENGTH);
  }
  get identification(): number {
    return u16(this.buf, this.offset + IPV4_FIELD.IDENT);
  }
  get flags(): number {
    return this.buf[this.offset + IPV4_FIELD.FLAGS_FRAG]! >>> 5;
  }
  /** Fragment offset in 8-byte units. */
  get fragmentOffset(): number {
    return u16(this.buf, this.offset + IPV4_FIELD.FLAGS_FRAG) & 0x1fff;
  }
  /** Part of a fragmented datagram (more fragments follow, or not the first). */
  get isFragment(): boolean {
    return (this.flags & Ipv4Flag.MF) !== 0 || this.fragmentOffset !== 0;
  }
  get ttl(): number {
    return this.buf[this.offset + IPV4_FIELD.TTL]!;
  }
  get protocol(): number {
    return this.buf[this.offset + IPV4_FIELD.PROTOCOL]!;
  }
  get checksum(): number {
    return u16(this.buf, this.offset + IPV4_FIELD.CHECKSUM);
  }
  get checksumOk(): boolean {
    return internetChecksum(this.buf, this.offset, this.headerLength) === 0;
  }
  get src(): Uint8Array {
    return this.buf.subarray(this.offset + IPV4_FIELD.SRC, this.offset + IPV4_FIELD.SRC + 4);
  }
  get dst(): Uint8Array {
    return this.buf.subarray(this.offset + IPV4_FIELD.DST, this.offset + IPV4_FIELD.DST + 4);
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }
}

/** The shared validity check (also used by the allocation-free frame decoder); undefined when valid. */
export function checkIpv4(buf: Uint8Array, off: number, len: number): DecodeResult<never> | undefined {
  if (len < IPV4_FIELD.MIN_HEADER_LEN) return fail('ipv4', 'truncated', off, `packet of ${len} bytes < 20`);
  const b0 = buf[off]!;
  if (b0 >>> 4 !== 4) return fail('ipv4', 'bad-version', off, `version ${b0 >>> 4} != 4`);
  const ihl = (b0 & 0x0f) * 4;
  if (ihl < IPV4_FIELD.MIN_HEADER_LEN) return fail('ipv4', 'bad-header-length', off, `header length ${ihl} < 20`);
  if (ihl > len) return fail('ipv4', 'truncated', off, `header length ${ihl} > ${len} bytes available`);
  const total = u16(buf, off + IPV4_FIELD.TOTAL_LENGTH);
  if (total < ihl) {
    return fail('ipv4', 'bad-total-length', off + IPV4_FIELD.TOTAL_LENGTH, `total length ${total} < header length ${ihl}`);
  }
  if (total > len) {
    return fail('ipv4', 'truncated', off + IPV4_FIELD.TOTAL_LENGTH, `total length ${total} > ${len} bytes available`);
  }
  return undefined;
}

export interface Ipv4Repr {
  readonly version: 4;
  readonly dscp: number;
  readonly ecn: number;
  readonly identification: number;
  /** Raw 3-bit flags (Ipv4Flag), the reserved bit included so it round-trips. */
  readonly flags: number;
  /** In 8-byte units. */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** Raw option bytes; emit pads them with zeros (EOL) to a multiple of 4. */
  readonly options: Uint8Array;
  /** The header checksum as seen; undefined means "compute on emit". */
  readonly checksum?: number;
}

export function parseIpv4Repr(v: Ipv4View): Ipv4Repr {
  const o = v.offset;
  return {
    version: 4,
    dscp: v.dscp,
    ecn: v.ecn,
    identification: v.identification,
    flags: v.flags,
    fragmentOffset: v.fragmentOffset,
    ttl: v.ttl,
    protocol: v.protocol,
    src: copyBytes(v.buf, o + IPV4_FIELD.SRC, o + IPV4_FIELD.SRC + 4),
    dst: copyBytes(v.buf, o + IPV4_FIELD.DST, o + IPV4_FIELD.DST + 4),
    options: copyBytes(v.buf, o + IPV4_FIELD.OPTIONS, o + v.headerLength),
    checksum: v.checksum,
  };
}

export function ipv4ReprHeaderLen(repr: Ipv4Repr): number {
  return IPV4_FIELD.MIN_HEADER_LEN + ((repr.options.length + 3) & ~3);
}

/**
 * Writes the header at `off` for a payload of `payloadLength` bytes; the
 * checksum is repr.checksum when given, else computed. Returns the offset
 * just past the header.
 */
export function emitIpv4Repr(repr: Ipv4Repr, payloadLength: number, buf: Uint8Array, off: number): number {
  const hl = ipv4ReprHeaderLen(repr);
  buf[off] = 0x40 | (hl >>> 2);
  buf[off + IPV4_FIELD.DSCP_ECN] = ((repr.dscp & 0x3f) << 2) | (repr.ecn & 3);
  put16(buf, off + IPV4_FIELD.TOTAL_LENGTH, hl + payloadLength);
  put16(buf, off + IPV4_FIELD.IDENT, repr.identification);
  put16(buf, off + IPV4_FIELD.FLAGS_FRAG, ((repr.flags & 7) << 13) | (repr.fragmentOffset & 0x1fff));
  buf[off + IPV4_FIELD.TTL] = repr.ttl;
  buf[off + IPV4_FIELD.PROTOCOL] = repr.protocol;
  put16(buf, off + IPV4_FIELD.CHECKSUM, 0);
  buf.set(repr.src.subarray(0, 4), off + IPV4_FIELD.SRC);
  buf.set(repr.dst.subarray(0, 4), off + IPV4_FIELD.DST);
  buf.fill(0, off + IPV4_FIELD.OPTIONS, off + hl);
  buf.set(repr.options, off + IPV4_FIELD.OPTIONS);
  put16(buf, off + IPV4_FIELD.CHECKSUM, repr.checksum ?? internetChecksum(buf, off, hl));
  return off + hl;
}
