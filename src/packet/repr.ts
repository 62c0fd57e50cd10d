// Whole-frame reprs: parse a frame into plain Ethernet/IP/TCP reprs plus its
// opaque remainder, and emit one back. parse→emit is byte-identical for every
// frame that parses (kept checksums, reserved bits, options, padding); with
// checksums left undefined, emit computes them (IPv4 header, TCP over the
// pseudo-header). This is the slow, allocating path: builders and tests.
import { put16 } from './bytes.js';
import { tcpChecksum } from './checksum.js';
import { EtherType, type EthernetRepr, emitEthernetRepr, ethernetReprBufferLen, parseEthernetRepr } from './ethernet.js';
import { IPV4_FIELD, IpProtocol, type Ipv4Repr, Ipv4View, emitIpv4Repr, ipv4ReprHeaderLen, parseIpv4Repr } from './ipv4.js';
import { IPV6_FIELD, type Ipv6Repr, Ipv6View, emitIpv6Repr, ipv6ReprHeaderLen, parseIpv6Repr } from './ipv6.js';
import { type DecodeResult, ok } from './result.js';
import { TCP_FIELD, type TcpRepr, TcpView, emitTcpRepr, parseTcpRepr, tcpReprHeaderLen } from './tcp.js';

export type IpRepr = Ipv4Repr | Ipv6Repr;

export interface FrameRepr {
  readonly ethernet: EthernetRepr;
  /** Present when the EtherType is IPv4 or IPv6. */
  readonly ip?: IpRepr;
  /** Present when the IP packet carries a TCP header (not for later fragments). */
  readonly tcp?: TcpRepr;
  /** The innermost payload: TCP payload, else IP payload, else the Ethernet payload. */
  readonly payload: Uint8Array;
  /** Bytes after the IP packet (Ethernet padding); empty when not IP. */
  readonly trailer: Uint8Array;
}

export function parseFrameRepr(buf: Uint8Array): DecodeResult<FrameRepr> {
  const er = parseEthernetRepr(buf, 0);
  if (!er.ok) return er;
  const ethernet = er.value;
  const ipOff = ethernetReprBufferLen(ethernet);
  const copy = (a: number, b: number) => new Uint8Array(buf.subarray(a, b));
  const empty = new Uint8Array(0);
  let ip: IpRepr;
  let upper: number;
  let end: number;
  let hasTcpHeader: boolean;
  if (ethernet.ethertype === EtherType.IPV4) {
    const v = Ipv4View.check(buf, ipOff);
    if (!v.ok) return v;
    ip = parseIpv4Repr(v.value);
    upper = v.value.payloadOffset;
    end = ipOff + v.value.totalLength;
    hasTcpHeader = ip.protocol === IpProtocol.TCP && ip.fragmentOffset === 0;
  } else if (ethernet.ethertype === EtherType.IPV6) {
    const v = Ipv6View.check(buf, ipOff);
    if (!v.ok) return v;
    const p = parseIpv6Repr(v.value);
    if (!p.ok) return p;
    ip = p.value.repr;
    upper = p.value.upperOffset;
    end = v.value.end;
    hasTcpHeader = ip.protocol === IpProtocol.TCP && !p.value.laterFragment;
  } else {
    return ok({ ethernet, payload: copy(ipOff, buf.length), trailer: empty });
  }
  const trailer = copy(end, buf.length);
  if (!hasTcpHeader) return ok({ ethernet, ip, payload: copy(upper, end), trailer });
  const t = TcpView.check(buf, upper, end - upper);
  if (!t.ok) return t;
  return ok({ ethernet, ip, tcp: parseTcpRepr(t.value), payload: copy(t.value.payloadOffset, end), trailer });
}

function upperLen(repr: FrameRepr): number {
  return (repr.tcp ? tcpReprHeaderLen(repr.tcp) : 0) + repr.payload.length;
}

export function frameReprBufferLen(repr: FrameRepr): number {
  let n = ethernetReprBufferLen(repr.ethernet) + upperLen(repr) + repr.trailer.length;
  if (repr.ip) n += repr.ip.version === 4 ? ipv4ReprHeaderLen(repr.ip) : ipv6ReprHeaderLen(repr.ip);
  return n;
}

/**
 * Emits the frame into a new Buffer. Checksums given in the reprs are written
 * as they are; undefined ones are computed. The EtherType written is the one
 * in repr.ethernet (set it to match repr.ip when building).
 */
export function emitFrameRepr(repr: FrameRepr): Buffer {
  const out = Buffer.alloc(frameReprBufferLen(repr));
  const ipOff = emitEthernetRepr(repr.ethernet, out, 0);
  const ip = repr.ip;
  if (!ip) {
    out.set(repr.payload, ipOff);
    return out;
  }
  const ul = upperLen(repr);
  const upper = ip.version === 4 ? emitIpv4Repr(ip, ul, out, ipOff) : emitIpv6Repr(ip, ul, out, ipOff);
  let payloadOff = upper;
  if (repr.tcp) payloadOff = emitTcpRepr(repr.tcp, out, upper);
  out.set(repr.payload, payloadOff);
  out.set(repr.trailer, payloadOff + repr.payload.length);
  if (repr.tcp && repr.tcp.checksum === undefined) {
    const [src, dst] = ip.version === 4 ? [IPV4_FIELD.SRC, IPV4_FIELD.DST] : [IPV6_FIELD.SRC, IPV6_FIELD.DST];
    put16(out, upper + TCP_FIELD.CHECKSUM, tcpChecksum(out, ip.version, ipOff + src, ipOff + dst, upper, ul));
  }
  return out;
}
