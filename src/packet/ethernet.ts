// Ethernet II framing with at most one IEEE 802.1Q tag: byte offsets, a
// zero-copy view and a plain repr with parse/emit/bufferLen (smoltcp style).
// ARP and every other EtherType are carried as opaque payload.
import { copyBytes, put16, u16 } from './bytes.js';
import { type DecodeResult, fail, ok } from './result.js';

/** Byte offsets of an Ethernet II header, and of the 802.1Q tag when present. */
export const ETH_FIELD = {
  DST: 0,
  SRC: 6,
  ETHERTYPE: 12,
  /** With a tag: TPID (0x8100) sits at ETHERTYPE, then the TCI, then the inner EtherType. */
  VLAN_TCI: 14,
  VLAN_ETHERTYPE: 16,
  HEADER_LEN: 14,
  VLAN_HEADER_LEN: 18,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
} as const;

export interface VlanTag {
  /** Priority code point, 0..7. */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
  /** VLAN id, 0..4095. */
  readonly id: number;
}

export interface EthernetRepr {
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly vlan?: VlanTag;
  /** The EtherType of the payload (inside the tag when tagged). */
  readonly ethertype: number;
}

/** Length of the Ethernet header starting at `off` (14, or 18 with one 802.1Q tag). Unchecked. */
export function ethernetHeaderLength(buf: Uint8Array, off = 0): number {
  return u16(buf, off + ETH_FIELD.ETHERTYPE) === EtherType.VLAN ? ETH_FIELD.VLAN_HEADER_LEN : ETH_FIELD.HEADER_LEN;
}

/** A length-checked window onto an Ethernet header; getters cannot fail. */
export class EthernetView {
  private constructor(
    readonly buf: Uint8Array,
    readonly offset: number,
  ) {}

  static check(buf: Uint8Array, off = 0): DecodeResult<EthernetView> {
    const len = buf.length - off;
    if (len < ETH_FIELD.HEADER_LEN) return fail('ethernet', 'truncated', off, `frame of ${len} bytes < 14`);
    if (u16(buf, off + ETH_FIELD.ETHERTYPE) === EtherType.VLAN && len < ETH_FIELD.VLAN_HEADER_LEN) {
      return fail('ethernet', 'truncated-vlan', off + ETH_FIELD.ETHERTYPE, `802.1Q-tagged frame of ${len} bytes < 18`);
    }
    return ok(new EthernetView(buf, off));
  }

  get dst(): Uint8Array {
    return this.buf.subarray(this.offset + ETH_FIELD.DST, this.offset + ETH_FIELD.DST + 6);
  }
  get src(): Uint8Array {
    return this.buf.subarray(this.offset + ETH_FIELD.SRC, this.offset + ETH_FIELD.SRC + 6);
  }
  get tagged(): boolean {
    return u16(this.buf, this.offset + ETH_FIELD.ETHERTYPE) === EtherType.VLAN;
  }
  /** The 802.1Q tag control information, or undefined when untagged. */
  get vlanTci(): number | undefined {
    return this.tagged ? u16(this.buf, this.offset + ETH_FIELD.VLAN_TCI) : undefined;
  }
  get ethertype(): number {
    return u16(this.buf, this.offset + (this.tagged ? ETH_FIELD.VLAN_ETHERTYPE : ETH_FIELD.ETHERTYPE));
  }
  get headerLength(): number {
    return this.tagged ? ETH_FIELD.VLAN_HEADER_LEN : ETH_FIELD.HEADER_LEN;
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
}

export function tciToVlan(tci: number): VlanTag {
  return { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, id: tci & 0x0fff };
}

export function vlanToTci(v: VlanTag): number {
  return ((v.pcp & 7) << 13) | (v.dei ? 0x1000 : 0) | (v.id & 0x0fff);
}

export function parseEthernetRepr(buf: Uint8Array, off = 0): DecodeResult<EthernetRepr> {
  const r = EthernetView.check(buf, off);
  if (!r.ok) return r;
  const v = r.value;
  const tci = v.vlanTci;
  const repr: EthernetRepr = {
    dst: copyBytes(buf, off, off + 6),
    src: copyBytes(buf, off + 6, off + 12),
    ethertype: v.ethertype,
  };
  return ok(tci === undefined ? repr : { ...repr, vlan: tciToVlan(tci) });
}

export function ethernetReprBufferLen(repr: EthernetRepr): number {
  return repr.vlan ? ETH_FIELD.VLAN_HEADER_LEN : ETH_FIELD.HEADER_LEN;
}

/** Writes the header at `off`; returns the offset just past it. */
export function emitEthernetRepr(repr: EthernetRepr, buf: Uint8Array, off = 0): number {
  buf.set(repr.dst.subarray(0, 6), off + ETH_FIELD.DST);
  buf.set(repr.src.subarray(0, 6), off + ETH_FIELD.SRC);
  if (repr.vlan) {
    put16(buf, off + ETH_FIELD.ETHERTYPE, EtherType.VLAN);
    put16(buf, off + ETH_FIELD.VLAN_TCI, vlanToTci(repr.vlan));
    put16(buf, off + ETH_FIELD.VLAN_ETHERTYPE, repr.ethertype);
    return off + ETH_FIELD.VLAN_HEADER_LEN;
  }
  put16(buf, off + ETH_FIELD.ETHERTYPE, repr.ethertype);
  return off + ETH_FIELD.HEADER_LEN;
}
