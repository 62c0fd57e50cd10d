// IPv6 (RFC 8200): byte offsets, a length-checked view, a plain repr with
// parse/emit/bufferLen, and the walk over extension headers (hop-by-hop,
// routing, fragment, destination options, AH, and the RFC 6564 generic
// format) to the upper-layer header. A non-first fragment carries no TCP header.
import { copyBytes, put16, u16, u32 } from './bytes.js';
import { type DecodeResult, fail, ok } from './result.js';

export const IPV6_FIELD = {
  VER_TC_FLOW: 0,
  PAYLOAD_LENGTH: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
  HEADER_LEN: 40,
} as const;

/** Next-header values of the extension headers we walk (IANA "IPv6 Extension Header Types"). */
export const Ipv6Ext = {
  HOP_BY_HOP: 0,
  ROUTING: 43,
  FRAGMENT: 44,
  AH: 51,
  DEST_OPTS: 60,
  MOBILITY: 135,
  HIP: 139,
  SHIM6: 140,
} as const;

/**
 * The outcome of walkIpv6Extensions. One module-level record is reused so the
 * per-frame decoder allocates nothing here; read it right after the call.
 */
export interface Ipv6Walk {
  /** Upper-layer protocol (the last next-header value), e.g. 6 for TCP. */
  protocol: number;
  /** Offset of the upper-layer header (or of the opaque rest for a non-first fragment). */
  upperOffset: number;
  /** Part of a fragmented packet (fragment header with M set or a non-zero offset). */
  fragment: boolean;
  /** A fragment other than the first: the upper-layer header is not in this packet. */
  laterFragment: boolean;
}

const walk: Ipv6Walk = { protocol: 0, upperOffset: 0, fragment: false, laterFragment: false };

/**
 * Walks the extension-header chain of the IPv6 packet at `off` whose header
 * has already been checked (checkIpv6). Returns an error, or undefined with
 * the shared walk record filled in. Unknown next-header values (ESP, TCP,
 * ICMPv6, anything else) end the walk: what follows is the upper layer.
 */
export function walkIpv6Extensions(buf: Uint8Array, off: number): DecodeResult<never> | Ipv6Walk {
  const end = off + IPV6_FIELD.HEADER_LEN + u16(buf, off + IPV6_FIELD.PAYLOAD_LENGTH);
  let next = buf[off + IPV6_FIELD.NEXT_HEADER]!;
  let pos = off + IPV6_FIELD.HEADER_LEN;
  let fragment = false;
  let later = false;
  // Every extension header is at least 8 bytes, so this ends within the payload.
  for (;;) {
    let len: number;
    if (next === Ipv6Ext.HOP_BY_HOP && pos !== off + IPV6_FIELD.HEADER_LEN) {
      // RFC 8200 §4.1: hop-by-hop only immediately after the IPv6 header; Linux
      // answers anything else with an ICMPv6 parameter problem.
      return fail('ipv6', 'misplaced-hop-by-hop', pos, 'hop-by-hop options header not first');
    }
    if (
      next === Ipv6Ext.HOP_BY_HOP ||
      next === Ipv6Ext.ROUTING ||
      next === Ipv6Ext.DEST_OPTS ||
      next === Ipv6Ext.MOBILITY ||
      next === Ipv6Ext.HIP ||
      next === Ipv6Ext.SHIM6
    ) {
      if (pos + 2 > end) return fail('ipv6', 'truncated-extension', pos, `extension header ${next} cut short`);
      len = (buf[pos + 1]! + 1) * 8;
    } else if (next === Ipv6Ext.AH) {
      // RFC 4302 §2.2: AH's length is in 4-byte units, minus 2.
      if (pos + 2 > end) return fail('ipv6', 'truncated-extension', pos, 'authentication header cut short');
      len = (buf[pos + 1]! + 2) * 4;
    } else if (next === Ipv6Ext.FRAGMENT) {
      len = 8;
      if (pos + len <= end) {
        const offAndM = u16(buf, pos + 2);
        if ((offAndM & 1) !== 0 || offAndM >>> 3 !== 0) fragment = true;
        if (offAndM >>> 3 !== 0) later = true;
      }
    } else {
      break;
    }
    if (pos + len > end) {
      return fail('ipv6', 'truncated-extension', pos, `extension header ${next} of ${len} bytes > ${end - pos} bytes left`);
    }
    next = buf[pos]!;
    pos += len;
    if (later) break;
  }
  walk.protocol = next;
  walk.upperOffset = pos;
  walk.fragment = fragment;
  walk.laterFragment = later;
  return walk;
}

/** The shared validity check of the fixed header; undefined when valid. */
export function checkIpv6(buf: Uint8Array, off: number, len: number): DecodeResult<never> | undefined {
  if (len < IPV6_FIELD.HEADER_LEN) return fail('ipv6', 'truncated', off, `packet of ${len} bytes < 40`);
  const version = buf[off]! >>> 4;
  if (version !== 6) return fail('ipv6', 'bad-version', off, `version ${version} != 6`);
  const pl = u16(buf, off + IPV6_FIELD.PAYLOAD_LENGTH);
  if (IPV6_FIELD.HEADER_LEN + pl > len) {
    return fail('ipv6', 'truncated', off + IPV6_FIELD.PAYLOAD_LENGTH, `payload length ${pl} > ${len - 40} bytes available`);
  }
  return undefined;
}

/** A length-checked window onto an IPv6 packet; getters cannot fail. */
export class Ipv6View {
  private constructor(
    readonly buf: Uint8Array,
    readonly offset: number,
  ) {}

  static check(buf: Uint8Array, off: number, len = buf.length - off): DecodeResult<Ipv6View> {
    return checkIpv6(buf, off, len) ?? ok(new Ipv6View(buf, off));
  }

  get trafficClass(): number {
    return (u16(this.buf, this.offset) >>> 4) & 0xff;
  }
  get flowLabel(): number {
    return u32(this.buf, this.offset) & 0xfffff;
  }
  get payloadLength(): number {
    return u16(this.buf, this.offset + IPV6_FIELD.PAYLOAD_LENGTH);
  }
  get nextHeader(): number {
    return this.buf[this.offset + IPV6_FIELD.NEXT_HEADER]!;
  }
  get hopLimit(): number {
    return this.buf[this.offset + IPV6_FIELD.HOP_LIMIT]!;
  }
  get src(): Uint8Array {
    return this.buf.subarray(this.offset + IPV6_FIELD.SRC, this.offset + IPV6_FIELD.SRC + 16);
  }
  get dst(): Uint8Array {
    return this.buf.subarray(this.offset + IPV6_FIELD.DST, this.offset + IPV6_FIELD.DST + 16);
  }
  /** End of the packet (Ethernet padding excluded). */
  get end(): number {
    return this.offset + IPV6_FIELD.HEADER_LEN + this.payloadLength;
  }
}

/** One extension header as raw bytes: `type` is the next-header value naming it. */
export interface Ipv6ExtHeader {
  readonly type: number;
  /** Every byte of the header except its leading next-header byte (which emit derives). */
  readonly body: Uint8Array;
}

export interface Ipv6Repr {
  readonly version: 6;
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly hopLimit: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly extensions: readonly Ipv6ExtHeader[];
  /** The protocol after the extension headers (6 for TCP). */
  readonly protocol: number;
}

export interface Ipv6Parsed {
  readonly repr: Ipv6Repr;
  readonly upperOffset: number;
  readonly fragment: boolean;
  readonly laterFragment: boolean;
}

export function parseIpv6Repr(v: Ipv6View): DecodeResult<Ipv6Parsed> {
  const w = walkIpv6Extensions(v.buf, v.offset);
  if ('ok' in w) return w;
  const { protocol, upperOffset, fragment, laterFragment } = w;
  const extensions: Ipv6ExtHeader[] = [];
  let type = v.nextHeader;
  for (let pos = v.offset + IPV6_FIELD.HEADER_LEN; pos < upperOffset; ) {
    const len = type === Ipv6Ext.FRAGMENT ? 8 : type === Ipv6Ext.AH ? (v.buf[pos + 1]! + 2) * 4 : (v.buf[pos + 1]! + 1) * 8;
    extensions.push({ type, body: copyBytes(v.buf, pos + 1, pos + len) });
    type = v.buf[pos]!;
    pos += len;
  }
  const o = v.offset;
  const repr: Ipv6Repr = {
    version: 6,
    trafficClass: v.trafficClass,
    flowLabel: v.flowLabel,
    hopLimit: v.hopLimit,
    src: copyBytes(v.buf, o + IPV6_FIELD.SRC, o + IPV6_FIELD.SRC + 16),
    dst: copyBytes(v.buf, o + IPV6_FIELD.DST, o + IPV6_FIELD.DST + 16),
    extensions,
    protocol,
  };
  return ok({ repr, upperOffset, fragment, laterFragment });
}

/** Fixed header plus extension headers. */
export function ipv6ReprHeaderLen(repr: Ipv6Repr): number {
  let n = IPV6_FIELD.HEADER_LEN;
  for (const e of repr.extensions) n += 1 + e.body.length;
  return n;
}

/** Writes header and extension headers for `payloadLength` upper-layer bytes; returns the upper-layer offset. */
export function emitIpv6Repr(repr: Ipv6Repr, payloadLength: number, buf: Uint8Array, off: number): number {
  const hl = ipv6ReprHeaderLen(repr);
  const w0 = ((6 << 28) | ((repr.trafficClass & 0xff) << 20) | (repr.flowLabel & 0xfffff)) >>> 0;
  buf[off] = w0 >>> 24;
  buf[off + 1] = (w0 >>> 16) & 0xff;
  buf[off + 2] = (w0 >>> 8) & 0xff;
  buf[off + 3] = w0 & 0xff;
  put16(buf, off + IPV6_FIELD.PAYLOAD_LENGTH, hl - IPV6_FIELD.HEADER_LEN + payloadLength);
  buf[off + IPV6_FIELD.NEXT_HEADER] = repr.extensions[0]?.type ?? repr.protocol;
  buf[off + IPV6_FIELD.HOP_LIMIT] = repr.hopLimit;
  buf.set(repr.src.subarray(0, 16), off + IPV6_FIELD.SRC);
  buf.set(repr.dst.subarray(0, 16), off + IPV6_FIELD.DST);
  let pos = off + IPV6_FIELD.HEADER_LEN;
  repr.extensions.forEach((e, i) => {
    buf[pos] = repr.extensions[i + 1]?.type ?? repr.protocol;
    buf.set(e.body, pos + 1);
    pos += 1 + e.body.length;
  });
  return pos;
}
