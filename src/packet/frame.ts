// The per-frame entry point of the engine: decodeFrame() classifies one
// captured Ethernet frame as a TCP segment (with offsets into the original
// buffer, checksum flags and a fragment flag) or as something to pass
// through untouched. Hot path: one frame object and one result, no copies.
import type { SegmentInfo } from '../tcp/segment.js';
import { TcpFlag } from '../tcp/segment.js';
import { formatIpv4, formatIpv6 } from './addr.js';
import { u16, u32 } from './bytes.js';
import { finishChecksum, foldSum, internetChecksum, onesSum } from './checksum.js';
import { ETH_FIELD, EtherType, isVlanTpid } from './ethernet.js';
import { IPV4_FIELD, IpProtocol, Ipv4Flag, checkIpv4 } from './ipv4.js';
import { IPV6_FIELD, checkIpv6, walkIpv6Extensions } from './ipv6.js';
import { type DecodeResult, fail } from './result.js';
import { TCP_FIELD, checkTcp, findWindowScale, parseTcpOptions, type TcpOption } from './tcp.js';

/** Why a frame is not a TCP segment we can act on. */
export type OtherReason =
  /** Not IPv4/IPv6 (ARP, LLDP, a third VLAN tag, an 802.3 length field…). */
  | 'not-ip'
  /** IP, but the upper layer is not TCP (ICMP, ICMPv6 ND, UDP, ESP…). */
  | 'not-tcp'
  /** A TCP fragment other than the first: it carries no TCP header. */
  | 'later-fragment';

export interface OtherFrame {
  readonly kind: 'other';
  readonly buf: Uint8Array;
  readonly reason: OtherReason;
  readonly linkHeaderLength: number;
  /** VLAN id (the inner tag's when double-tagged), or undefined when untagged. */
  readonly vlanId: number | undefined;
  /** The outer tag's VLAN id of a double-tagged (QinQ) frame, else undefined. */
  readonly outerVlanId: number | undefined;
  /** EtherType of the link payload (inside the tags). */
  readonly ethertype: number;
  /** For 'not-tcp' and 'later-fragment': the IP version and upper-layer protocol. */
  readonly ipVersion: 4 | 6 | undefined;
  readonly protocol: number | undefined;
}

/**
 * A TCP segment as offsets into `buf` (the captured frame, not copied). The
 * header fields are getters reading the buffer; addresses are formatted on
 * demand. Offsets are absolute (from the start of `buf`).
 */
export class TcpFrame {
  readonly kind = 'tcp' as const;
  constructor(
    readonly buf: Uint8Array,
    /** 14, 18 with one VLAN tag, 22 with two (0 for a bare IP packet, see decodeIpPacket). */
    readonly linkHeaderLength: number,
    /** VLAN id (the inner tag's when double-tagged), or undefined when untagged. */
    readonly vlanId: number | undefined,
    /** The outer tag's VLAN id of a double-tagged (QinQ) frame. */
    readonly outerVlanId: number | undefined,
    readonly ipVersion: 4 | 6,
    readonly ipOffset: number,
    /** Offset of the TCP header; for IPv6 this is past all extension headers. */
    readonly tcpOffset: number,
    readonly tcpHeaderLength: number,
    readonly payloadOffset: number,
    readonly payloadLength: number,
    /** The first fragment of a fragmented datagram (payload is incomplete). */
    readonly fragment: boolean,
  ) {}

  private ipSumOk: boolean | undefined;
  private tcpSumOk: boolean | undefined;

  /**
   * IPv4 header checksum verifies; always true for IPv6 (no header checksum).
   * Computed on first use: forwarding never needs it, and a pass over every
   * payload would be the most expensive step of decoding.
   */
  get ipChecksumOk(): boolean {
    if (this.ipSumOk === undefined) {
      this.ipSumOk = this.ipVersion === 6 || internetChecksum(this.buf, this.ipOffset, (this.buf[this.ipOffset]! & 0x0f) * 4) === 0;
    }
    return this.ipSumOk;
  }

  /**
   * TCP checksum over the pseudo-header verifies (computed on first use). False
   * for a fragment: the checksum covers the whole datagram, so one fragment cannot verify it.
   */
  get tcpChecksumOk(): boolean {
    if (this.tcpSumOk === undefined) {
      if (this.fragment) {
        this.tcpSumOk = false;
      } else {
        // The pseudo-header uses the upper-layer length (RFC 8200 §8.1:
        // extension headers excluded). src and dst are adjacent in both
        // versions: one pass over both addresses.
        const tcpLen = this.ipEnd - this.tcpOffset;
        const alen = this.ipVersion === 4 ? 8 : 32;
        const sum = onesSum(this.buf, this.srcAddrOffset, alen, IpProtocol.TCP + tcpLen);
        this.tcpSumOk = finishChecksum(onesSum(this.buf, this.tcpOffset, tcpLen, sum)) === 0;
      }
    }
    return this.tcpSumOk;
  }

  /**
   * The checksum field holds only the folded pseudo-header sum: what Linux
   * writes for a segment whose checksum it leaves to the device (checksum
   * offload, CHECKSUM_PARTIAL: tcp_v4_send_check / __tcp_v6_send_check). A
   * capture on a veth whose peer has tx offload on sees exactly that.
   */
  get checksumLeftToDevice(): boolean {
    if (this.fragment) return false;
    const alen = this.ipVersion === 4 ? 8 : 32;
    const pseudo = foldSum(onesSum(this.buf, this.srcAddrOffset, alen, IpProtocol.TCP + (this.ipEnd - this.tcpOffset)));
    return this.tcpChecksum === pseudo && !this.tcpChecksumOk;
  }

  /** End of the IP packet: bytes past it (Ethernet padding) are not part of the segment. */
  get ipEnd(): number {
    return this.payloadOffset + this.payloadLength;
  }
  get srcPort(): number {
    return u16(this.buf, this.tcpOffset + TCP_FIELD.SRC_PORT);
  }
  get dstPort(): number {
    return u16(this.buf, this.tcpOffset + TCP_FIELD.DST_PORT);
  }
  get seq(): number {
    return u32(this.buf, this.tcpOffset + TCP_FIELD.SEQ);
  }
  get ack(): number {
    return u32(this.buf, this.tcpOffset + TCP_FIELD.ACK);
  }
  /** TcpFlag bits, NS included. */
  get flags(): number {
    return u16(this.buf, this.tcpOffset + TCP_FIELD.OFFSET_FLAGS) & 0x1ff;
  }
  get window(): number {
    return u16(this.buf, this.tcpOffset + TCP_FIELD.WINDOW);
  }
  get tcpChecksum(): number {
    return u16(this.buf, this.tcpOffset + TCP_FIELD.CHECKSUM);
  }
  /** Offset of the source address in `buf` (4 or 16 bytes). */
  get srcAddrOffset(): number {
    return this.ipOffset + (this.ipVersion === 4 ? IPV4_FIELD.SRC : IPV6_FIELD.SRC);
  }
  get dstAddrOffset(): number {
    return this.ipOffset + (this.ipVersion === 4 ? IPV4_FIELD.DST : IPV6_FIELD.DST);
  }
  get srcAddr(): string {
    return this.ipVersion === 4 ? ipv4Text(this.buf, this.srcAddrOffset) : formatIpv6(this.buf, this.srcAddrOffset);
  }
  get dstAddr(): string {
    return this.ipVersion === 4 ? ipv4Text(this.buf, this.dstAddrOffset) : formatIpv6(this.buf, this.dstAddrOffset);
  }
  /** IPv4 TTL or IPv6 hop limit. */
  get ttl(): number {
    return this.buf[this.ipOffset + (this.ipVersion === 4 ? IPV4_FIELD.TTL : IPV6_FIELD.HOP_LIMIT)]!;
  }
  /** Window-scale shift if the header carries the option (any segment; see toSegmentInfo for the SYN rule). */
  get windowScaleOption(): number | undefined {
    return findWindowScale(this.buf, this.tcpOffset + TCP_FIELD.OPTIONS, this.tcpOffset + this.tcpHeaderLength);
  }
  /** The TCP options, decoded (a malformed rest is one 'malformed' option, as Linux reads it). */
  get tcpOptions(): TcpOption[] {
    return parseTcpOptions(this.buf, this.tcpOffset + TCP_FIELD.OPTIONS, this.tcpOffset + this.tcpHeaderLength);
  }
  toSegmentInfo(): SegmentInfo {
    return toSegmentInfo(this);
  }
}

export type Frame = TcpFrame | OtherFrame;

/**
 * IPv4 addresses as text, remembered: every segment needs both of its
 * addresses as strings (connection keys, events), and a run sees few distinct
 * ones. Bounded, so a scan of many addresses cannot grow it without limit.
 */
const ipv4Texts = new Map<number, string>();
/** The last two addresses asked for: a connection's frames alternate between its two ends, and a map lookup per address cost ~6 % of a frame. */
let key0 = -1;
let text0 = '';
let key1 = -1;
let text1 = '';
function ipv4Text(buf: Uint8Array, off: number): string {
  const key = u32(buf, off);
  if (key === key0) return text0;
  if (key === key1) return text1;
  const text = ipv4TextOf(buf, off, key);
  key1 = key0;
  text1 = text0;
  key0 = key;
  text0 = text;
  return text;
}

function ipv4TextOf(buf: Uint8Array, off: number, key: number): string {
  let text = ipv4Texts.get(key);
  if (text === undefined) {
    if (ipv4Texts.size >= 4096) ipv4Texts.clear();
    text = formatIpv4(buf, off);
    ipv4Texts.set(key, text);
  }
  return text;
}

function other(
  buf: Uint8Array,
  reason: OtherReason,
  linkHeaderLength: number,
  tags: Tags,
  ethertype: number,
  ipVersion: 4 | 6 | undefined,
  protocol: number | undefined,
): DecodeResult<Frame> {
  const f: OtherFrame = { kind: 'other', buf, reason, linkHeaderLength, vlanId: tags.vlanId, outerVlanId: tags.outerVlanId, ethertype, ipVersion, protocol };
  return { ok: true, value: f };
}

/** The VLAN ids of a frame's tags. */
interface Tags {
  readonly vlanId: number | undefined;
  readonly outerVlanId: number | undefined;
}
const UNTAGGED: Tags = { vlanId: undefined, outerVlanId: undefined };

/**
 * Decodes one Ethernet II frame (untagged, one VLAN tag, or QinQ: an outer
 * 802.1ad/802.1Q tag and an inner 802.1Q tag). Never throws. Malformed
 * Ethernet/IP/TCP headers give a typed error; everything that is not TCP
 * comes back as kind 'other'. Checksums are verified and reported as flags.
 * Bytes after the IP packet (Ethernet padding) are ignored.
 */
export function decodeFrame(buf: Uint8Array): DecodeResult<Frame> {
  const len = buf.length;
  if (len < ETH_FIELD.HEADER_LEN) return fail('ethernet', 'truncated', 0, `frame of ${len} bytes < 14`);
  let ethertype = u16(buf, ETH_FIELD.ETHERTYPE);
  let link: number = ETH_FIELD.HEADER_LEN;
  let tags = UNTAGGED;
  if (isVlanTpid(ethertype)) {
    if (len < ETH_FIELD.VLAN_HEADER_LEN) {
      return fail('ethernet', 'truncated-vlan', ETH_FIELD.ETHERTYPE, `VLAN-tagged frame of ${len} bytes < 18`);
    }
    const tci = u16(buf, ETH_FIELD.VLAN_TCI);
    ethertype = u16(buf, ETH_FIELD.VLAN_ETHERTYPE);
    link = ETH_FIELD.VLAN_HEADER_LEN;
    if (ethertype === EtherType.VLAN) {
      // QinQ: the inner tag is 802.1Q (IEEE 802.1ad's C-tag).
      if (len < ETH_FIELD.QINQ_HEADER_LEN) {
        return fail('ethernet', 'truncated-vlan', ETH_FIELD.VLAN_ETHERTYPE, `double-tagged (QinQ) frame of ${len} bytes < 22`);
      }
      tags = { vlanId: u16(buf, ETH_FIELD.INNER_VLAN_TCI) & 0x0fff, outerVlanId: tci & 0x0fff };
      ethertype = u16(buf, ETH_FIELD.INNER_VLAN_ETHERTYPE);
      link = ETH_FIELD.QINQ_HEADER_LEN;
    } else {
      tags = { vlanId: tci & 0x0fff, outerVlanId: undefined };
    }
  }
  if (ethertype !== EtherType.IPV4 && ethertype !== EtherType.IPV6) {
    return other(buf, 'not-ip', link, tags, ethertype, undefined, undefined);
  }
  return decodeIp(buf, link, tags, ethertype);
}

/**
 * Decodes a bare IPv4/IPv6 packet starting at `ipOffset` (e.g. from a raw IP
 * socket, or a link type without Ethernet): the same classification as
 * decodeFrame, with linkHeaderLength = ipOffset.
 */
export function decodeIpPacket(buf: Uint8Array, ipOffset = 0): DecodeResult<Frame> {
  if (buf.length <= ipOffset) return fail('ipv4', 'truncated', ipOffset, 'packet of 0 bytes < 20');
  const version = buf[ipOffset]! >>> 4;
  return decodeIp(buf, ipOffset, UNTAGGED, version === 6 ? EtherType.IPV6 : EtherType.IPV4);
}

function decodeIp(buf: Uint8Array, ipOff: number, tags: Tags, ethertype: number): DecodeResult<Frame> {
  const avail = buf.length - ipOff;
  let ipVersion: 4 | 6;
  let tcpOff: number;
  let ipEnd: number;
  let protocol: number;
  let fragment: boolean;
  if (ethertype === EtherType.IPV4) {
    const err = checkIpv4(buf, ipOff, avail);
    if (err) return err;
    ipVersion = 4;
    const ihl = (buf[ipOff]! & 0x0f) * 4;
    tcpOff = ipOff + ihl;
    ipEnd = ipOff + u16(buf, ipOff + IPV4_FIELD.TOTAL_LENGTH);
    protocol = buf[ipOff + IPV4_FIELD.PROTOCOL]!;
    const ff = u16(buf, ipOff + IPV4_FIELD.FLAGS_FRAG);
    const fragOffset = ff & 0x1fff;
    fragment = fragOffset !== 0 || ((ff >>> 13) & Ipv4Flag.MF) !== 0;
    if (fragOffset !== 0) {
      return other(buf, protocol === IpProtocol.TCP ? 'later-fragment' : 'not-tcp', ipOff, tags, ethertype, 4, protocol);
    }
  } else {
    const err = checkIpv6(buf, ipOff, avail);
    if (err) return err;
    const w = walkIpv6Extensions(buf, ipOff);
    if ('ok' in w) return w;
    ipVersion = 6;
    ipEnd = ipOff + IPV6_FIELD.HEADER_LEN + u16(buf, ipOff + IPV6_FIELD.PAYLOAD_LENGTH);
    tcpOff = w.upperOffset;
    protocol = w.protocol;
    fragment = w.fragment;
    if (w.laterFragment) {
      return other(buf, protocol === IpProtocol.TCP ? 'later-fragment' : 'not-tcp', ipOff, tags, ethertype, 6, protocol);
    }
  }
  if (protocol !== IpProtocol.TCP) return other(buf, 'not-tcp', ipOff, tags, ethertype, ipVersion, protocol);
  const tcpLen = ipEnd - tcpOff;
  const terr = checkTcp(buf, tcpOff, tcpLen);
  if (terr) return terr;
  const thl = (buf[tcpOff + TCP_FIELD.OFFSET_FLAGS]! >>> 4) * 4;
  const value = new TcpFrame(
    buf,
    ipOff,
    tags.vlanId,
    tags.outerVlanId,
    ipVersion,
    ipOff,
    tcpOff,
    thl,
    tcpOff + thl,
    tcpLen - thl,
    fragment,
  );
  return { ok: true, value };
}

/**
 * The tracker's view of a segment. windowScale is set only on a SYN that
 * carries the option (RFC 7323 §2.2: the option is meaningful only there).
 */
export function toSegmentInfo(f: TcpFrame): SegmentInfo {
  const flags = f.flags;
  const base = {
    family: f.ipVersion,
    srcAddr: f.srcAddr,
    dstAddr: f.dstAddr,
    srcPort: f.srcPort,
    dstPort: f.dstPort,
    seq: f.seq,
    ack: f.ack,
    flags,
    window: f.window,
    payloadLength: f.payloadLength,
  };
  if (flags & TcpFlag.SYN) {
    const windowScale = f.windowScaleOption;
    if (windowScale !== undefined) return { ...base, windowScale };
  }
  return base;
}
