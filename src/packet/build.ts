// Builders for TCP frames the engine sends itself: a full Ethernet + IPv4/IPv6
// + TCP frame from a spec (forged RSTs), a RST derived from a seen frame, and
// in-place rewrites of seq/ack/flags/window with the RFC 1624 incremental
// checksum update (so a rewrite costs O(1), not a pass over the payload).
import { TcpFlag } from '../tcp/segment.js';
import { type IpLike, type MacLike, ipBytes, macBytes } from './addr.js';
import { put16, put32, u16, u32 } from './bytes.js';
import { checksumUpdate16, checksumUpdate32 } from './checksum.js';
import { EtherType, type VlanTag, tciToVlan } from './ethernet.js';
import type { TcpFrame } from './frame.js';
import { IpProtocol, Ipv4Flag } from './ipv4.js';
import type { Ipv6ExtHeader } from './ipv6.js';
import { emitFrameRepr } from './repr.js';
import { TCP_FIELD, type TcpOption } from './tcp.js';

export interface VlanSpec {
  readonly id: number;
  readonly pcp?: number;
  readonly dei?: boolean;
  readonly tpid?: number;
}

function vlanTag(v: VlanSpec): VlanTag {
  return { id: v.id, pcp: v.pcp ?? 0, dei: v.dei ?? false, ...(v.tpid !== undefined ? { tpid: v.tpid } : {}) };
}

export interface TcpFrameSpec {
  /** Default 02:00:00:00:00:01 / 02:00:00:00:00:02 (locally administered). */
  readonly srcMac?: MacLike;
  readonly dstMac?: MacLike;
  /** One VLAN tag (802.1Q unless tpid says 0x88a8), the inner one with outerVlan. */
  readonly vlan?: VlanSpec;
  /** The outer tag of a QinQ frame (802.1ad, 0x88a8, unless tpid says 0x8100); needs vlan. */
  readonly outerVlan?: VlanSpec;
  /** Both IPv4 or both IPv6; the family follows. */
  readonly src: IpLike;
  readonly dst: IpLike;
  /** IPv4 TTL or IPv6 hop limit; default 64 (Linux's default). */
  readonly ttl?: number;
  /** IPv4 identification; default 0 (what Linux sends with DF). */
  readonly ipId?: number;
  /** IPv4 DF bit; default true, as Linux sets it on TCP. */
  readonly dontFragment?: boolean;
  /** IPv4 DSCP/ECN or IPv6 traffic class bits; default 0. */
  readonly dscp?: number;
  readonly ecn?: number;
  readonly flowLabel?: number;
  /** Raw IPv4 option bytes (padded to 4). */
  readonly ipv4Options?: Uint8Array;
  /** IPv6 extension headers before TCP. */
  readonly ipv6Extensions?: readonly Ipv6ExtHeader[];
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  /** Default 0. */
  readonly ack?: number;
  /** TcpFlag bits, or letters as flagLetters prints them ("RA", "S", "FA"…). */
  readonly flags: number | string;
  /** Default 0. */
  readonly window?: number;
  readonly urgentPointer?: number;
  readonly options?: readonly TcpOption[];
  readonly payload?: Uint8Array;
}

const LETTER: Record<string, number> = {
  F: TcpFlag.FIN,
  S: TcpFlag.SYN,
  R: TcpFlag.RST,
  P: TcpFlag.PSH,
  A: TcpFlag.ACK,
  U: TcpFlag.URG,
  E: TcpFlag.ECE,
  C: TcpFlag.CWR,
  N: TcpFlag.NS,
};

/** "RA" → RST|ACK; the inverse of flagLetters. Throws RangeError on an unknown letter. */
export function parseFlagLetters(letters: string): number {
  let f = 0;
  for (const ch of letters) {
    const bit = LETTER[ch.toUpperCase()];
    if (bit === undefined) throw new RangeError(`unknown TCP flag letter "${ch}" in "${letters}": expected some of SFRPAUECN`);
    f |= bit;
  }
  return f;
}

/** Emits the frame with a correct IPv4 header checksum and TCP checksum over the pseudo-header. */
export function buildTcpFrame(spec: TcpFrameSpec): Buffer {
  const src = ipBytes(spec.src);
  const dst = ipBytes(spec.dst);
  if (src.length !== dst.length) throw new RangeError('buildTcpFrame: src and dst must be the same IP family');
  const v4 = src.length === 4;
  const ttl = spec.ttl ?? 64;
  const ip = v4
    ? {
        version: 4 as const,
        dscp: spec.dscp ?? 0,
        ecn: spec.ecn ?? 0,
        identification: spec.ipId ?? 0,
        flags: spec.dontFragment === false ? 0 : Ipv4Flag.DF,
        fragmentOffset: 0,
        ttl,
        protocol: IpProtocol.TCP,
        src,
        dst,
        options: spec.ipv4Options ?? new Uint8Array(0),
      }
    : {
        version: 6 as const,
        trafficClass: ((spec.dscp ?? 0) << 2) | (spec.ecn ?? 0),
        flowLabel: spec.flowLabel ?? 0,
        hopLimit: ttl,
        src,
        dst,
        extensions: spec.ipv6Extensions ?? [],
        protocol: IpProtocol.TCP,
      };
  return emitFrameRepr({
    ethernet: {
      dst: macBytes(spec.dstMac ?? '02:00:00:00:00:02'),
      src: macBytes(spec.srcMac ?? '02:00:00:00:00:01'),
      ethertype: v4 ? EtherType.IPV4 : EtherType.IPV6,
      ...(spec.outerVlan ? { outerVlan: vlanTag(spec.outerVlan) } : {}),
      ...(spec.vlan ? { vlan: vlanTag(spec.vlan) } : {}),
    },
    ip,
    tcp: {
      srcPort: spec.srcPort,
      dstPort: spec.dstPort,
      seq: spec.seq >>> 0,
      ack: (spec.ack ?? 0) >>> 0,
      flags: typeof spec.flags === 'string' ? parseFlagLetters(spec.flags) : spec.flags,
      reserved: 0,
      window: spec.window ?? 0,
      urgentPointer: spec.urgentPointer ?? 0,
      options: spec.options ?? [],
    },
    payload: spec.payload ?? new Uint8Array(0),
    trailer: new Uint8Array(0),
  });
}

export interface ForgeRstOptions {
  readonly seq: number;
  /** When given, the ACK flag is set too (unless `flags` says otherwise). */
  readonly ack?: number;
  /** Default RST, or RST|ACK when `ack` is given. */
  readonly flags?: number | string;
  /**
   * 'reverse' (default): from the frame's receiver back to its sender (MACs,
   * addresses and ports swapped). 'same': as if sent by the frame's sender.
   */
  readonly direction?: 'reverse' | 'same';
  /** Default 64. */
  readonly ttl?: number;
  /** Default 0. */
  readonly window?: number;
}

/**
 * A RST (no options, no payload) for the connection of a seen frame, keeping
 * its VLAN tags (both of a QinQ frame, TPIDs as they were) and family. Linux accepts a RST only when seq == rcv_nxt of
 * the receiver (RFC 5961 §3.2); the caller supplies that number.
 */
export function forgeRstFrom(frame: TcpFrame, opts: ForgeRstOptions): Buffer {
  const b = frame.buf;
  const reverse = (opts.direction ?? 'reverse') === 'reverse';
  // A bare IP packet (decodeIpPacket) has no MACs: use zeros.
  const hasLink = frame.linkHeaderLength >= 14;
  const macA = hasLink ? b.subarray(6, 12) : new Uint8Array(6); // the frame's source MAC
  const macB = hasLink ? b.subarray(0, 6) : new Uint8Array(6);
  const alen = frame.ipVersion === 4 ? 4 : 16;
  const ipA = b.subarray(frame.srcAddrOffset, frame.srcAddrOffset + alen);
  const ipB = b.subarray(frame.dstAddrOffset, frame.dstAddrOffset + alen);
  const flags = opts.flags ?? (opts.ack !== undefined ? TcpFlag.RST | TcpFlag.ACK : TcpFlag.RST);
  // The tags sit between the MACs and the IP header: TPID and TCI, 4 bytes each.
  const tagAt = (off: number): VlanTag => tciToVlan(u16(b, off + 2), u16(b, off));
  const tags = hasLink && frame.vlanId !== undefined ? (frame.linkHeaderLength - 14) / 4 : 0;
  return buildTcpFrame({
    srcMac: reverse ? macB : macA,
    dstMac: reverse ? macA : macB,
    ...(tags === 2 ? { outerVlan: tagAt(12), vlan: tagAt(16) } : tags === 1 ? { vlan: tagAt(12) } : {}),
    src: reverse ? ipB : ipA,
    dst: reverse ? ipA : ipB,
    srcPort: reverse ? frame.dstPort : frame.srcPort,
    dstPort: reverse ? frame.srcPort : frame.dstPort,
    seq: opts.seq,
    ack: opts.ack ?? 0,
    flags,
    window: opts.window ?? 0,
    ttl: opts.ttl ?? 64,
  });
}

export interface TcpHeaderChanges {
  /** TcpFlag bits (all nine), or letters. */
  readonly flags?: number | string;
  readonly seq?: number;
  readonly ack?: number;
  readonly window?: number;
}

/**
 * Rewrites header fields of the segment `frame` describes, in place in `buf`
 * (the frame's own buffer or a same-layout copy of it), updating the TCP
 * checksum incrementally (RFC 1624 eqn. 3). A segment whose checksum was
 * wrong stays wrong by the same amount: rewriting never launders a bad frame.
 */
export function rewriteTcpHeader(buf: Uint8Array, frame: TcpFrame, changes: TcpHeaderChanges): void {
  const t = frame.tcpOffset;
  let hc = u16(buf, t + TCP_FIELD.CHECKSUM);
  if (changes.seq !== undefined) {
    const old = u32(buf, t + TCP_FIELD.SEQ);
    const nu = changes.seq >>> 0;
    hc = checksumUpdate32(hc, old, nu);
    put32(buf, t + TCP_FIELD.SEQ, nu);
  }
  if (changes.ack !== undefined) {
    const old = u32(buf, t + TCP_FIELD.ACK);
    const nu = changes.ack >>> 0;
    hc = checksumUpdate32(hc, old, nu);
    put32(buf, t + TCP_FIELD.ACK, nu);
  }
  if (changes.flags !== undefined) {
    const flags = typeof changes.flags === 'string' ? parseFlagLetters(changes.flags) : changes.flags;
    // Flags share a 16-bit word with the data offset and reserved bits; keep those.
    const old = u16(buf, t + TCP_FIELD.OFFSET_FLAGS);
    const nu = (old & ~0x1ff) | (flags & 0x1ff);
    hc = checksumUpdate16(hc, old, nu);
    put16(buf, t + TCP_FIELD.OFFSET_FLAGS, nu);
  }
  if (changes.window !== undefined) {
    const old = u16(buf, t + TCP_FIELD.WINDOW);
    const nu = changes.window & 0xffff;
    hc = checksumUpdate16(hc, old, nu);
    put16(buf, t + TCP_FIELD.WINDOW, nu);
  }
  put16(buf, t + TCP_FIELD.CHECKSUM, hc);
}
