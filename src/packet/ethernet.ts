// Ethernet II framing with up to two VLAN tags: none, one 802.1Q (or a lone
// 802.1ad S-tag), or QinQ (an outer 802.1ad or 802.1Q tag, then an inner
// 802.1Q tag). Byte offsets, a zero-copy view and a plain repr with
// parse/emit/bufferLen (smoltcp style). ARP and every other EtherType are
// carried as opaque payload, as is a third tag.
import { copyBytes, put16, u16 } from './bytes.js';
import { type DecodeResult, fail, ok } from './result.js';

/** Byte offsets of an Ethernet II header, and of its tags when present. */
export const ETH_FIELD = {
  DST: 0,
  SRC: 6,
  ETHERTYPE: 12,
  /** With a tag: its TPID sits at ETHERTYPE, then the TCI, then the next EtherType (or the inner tag's TPID). */
  VLAN_TCI: 14,
  VLAN_ETHERTYPE: 16,
  /** With two tags: the inner TCI, then the payload's EtherType. */
  INNER_VLAN_TCI: 18,
  INNER_VLAN_ETHERTYPE: 20,
  HEADER_LEN: 14,
  VLAN_HEADER_LEN: 18,
  QINQ_HEADER_LEN: 22,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  /** IEEE 802.1ad service tag (the outer tag of QinQ). */
  QINQ: 0x88a8,
  IPV6: 0x86dd,
} as const;

/** A TPID that starts a VLAN tag. */
export function isVlanTpid(ethertype: number): boolean {
  return ethertype === EtherType.VLAN || ethertype === EtherType.QINQ;
}

export interface VlanTag {
  /** Priority code point, 0..7. */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
  /** VLAN id, 0..4095. */
  readonly id: number;
  /** The tag's TPID: 0x8100 (802.1Q, the default) or 0x88a8 (802.1ad). */
  readonly tpid?: number;
}

export interface EthernetRepr {
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  /** The outer tag of a double-tagged (QinQ) frame. */
  readonly outerVlan?: VlanTag;
  /** The (inner, with outerVlan) tag. */
  readonly vlan?: VlanTag;
  /** The EtherType of the payload (inside the tags when tagged). */
  readonly ethertype: number;
}

/** How many tags (0..2) the frame at `off` carries, judged by TPIDs only (unchecked length). */
function tagCount(buf: Uint8Array, off: number): 0 | 1 | 2 {
  if (buf.length < off + ETH_FIELD.HEADER_LEN || !isVlanTpid(u16(buf, off + ETH_FIELD.ETHERTYPE))) return 0;
  // An inner tag is always 802.1Q (a C-tag); 0x88a8 inside a tag is opaque payload.
  return buf.length >= off + ETH_FIELD.VLAN_HEADER_LEN && u16(buf, off + ETH_FIELD.VLAN_ETHERTYPE) === EtherType.VLAN ? 2 : 1;
}

const HEADER_LEN_BY_TAGS = [ETH_FIELD.HEADER_LEN, ETH_FIELD.VLAN_HEADER_LEN, ETH_FIELD.QINQ_HEADER_LEN] as const;

/** A length-checked window onto an Ethernet header; getters cannot fail. */
export class EthernetView {
  private constructor(
    readonly buf: Uint8Array,
    readonly offset: number,
    /** 0, 1 or 2 VLAN tags. */
    readonly tags: 0 | 1 | 2,
  ) {}

  static check(buf: Uint8Array, off = 0): DecodeResult<EthernetView> {
    const len = buf.length - off;
    if (len < ETH_FIELD.HEADER_LEN) return fail('ethernet', 'truncated', off, `frame of ${len} bytes < 14`);
    const tags = tagCount(buf, off);
    if (tags === 1 && len < ETH_FIELD.VLAN_HEADER_LEN) {
      return fail('ethernet', 'truncated-vlan', off + ETH_FIELD.ETHERTYPE, `VLAN-tagged frame of ${len} bytes < 18`);
    }
    if (tags === 2 && len < ETH_FIELD.QINQ_HEADER_LEN) {
      return fail('ethernet', 'truncated-vlan', off + ETH_FIELD.VLAN_ETHERTYPE, `double-tagged (QinQ) frame of ${len} bytes < 22`);
    }
    return ok(new EthernetView(buf, off, tags));
  }

  get dst(): Uint8Array {
    return this.buf.subarray(this.offset + ETH_FIELD.DST, this.offset + ETH_FIELD.DST + 6);
  }
  get src(): Uint8Array {
    return this.buf.subarray(this.offset + ETH_FIELD.SRC, this.offset + ETH_FIELD.SRC + 6);
  }
  get tagged(): boolean {
    return this.tags > 0;
  }
  /** The outer tag's TPID and TCI of a double-tagged frame, else undefined. */
  get outerVlan(): { tpid: number; tci: number } | undefined {
    if (this.tags < 2) return undefined;
    return { tpid: u16(this.buf, this.offset + ETH_FIELD.ETHERTYPE), tci: u16(this.buf, this.offset + ETH_FIELD.VLAN_TCI) };
  }
  /** The (inner, when double-tagged) tag's TPID and TCI, or undefined when untagged. */
  get vlan(): { tpid: number; tci: number } | undefined {
    if (this.tags === 0) return undefined;
    const at = this.tags === 2 ? ETH_FIELD.VLAN_ETHERTYPE : ETH_FIELD.ETHERTYPE;
    return { tpid: u16(this.buf, this.offset + at), tci: u16(this.buf, this.offset + at + 2) };
  }
  get ethertype(): number {
    return u16(this.buf, this.offset + this.headerLength - 2);
  }
  get headerLength(): number {
    return HEADER_LEN_BY_TAGS[this.tags];
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
}

export function tciToVlan(tci: number, tpid: number = EtherType.VLAN): VlanTag {
  return { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, id: tci & 0x0fff, tpid };
}

export function vlanToTci(v: VlanTag): number {
  return ((v.pcp & 7) << 13) | (v.dei ? 0x1000 : 0) | (v.id & 0x0fff);
}

export function parseEthernetRepr(buf: Uint8Array, off = 0): DecodeResult<EthernetRepr> {
  const r = EthernetView.check(buf, off);
  if (!r.ok) return r;
  const v = r.value;
  const outer = v.outerVlan;
  const inner = v.vlan;
  return ok({
    dst: copyBytes(buf, off, off + 6),
    src: copyBytes(buf, off + 6, off + 12),
    ...(outer ? { outerVlan: tciToVlan(outer.tci, outer.tpid) } : {}),
    ...(inner ? { vlan: tciToVlan(inner.tci, inner.tpid) } : {}),
    ethertype: v.ethertype,
  });
}

export function ethernetReprBufferLen(repr: EthernetRepr): number {
  if (!repr.vlan) return ETH_FIELD.HEADER_LEN;
  return repr.outerVlan ? ETH_FIELD.QINQ_HEADER_LEN : ETH_FIELD.VLAN_HEADER_LEN;
}

/**
 * Writes the header at `off`; returns the offset just past it. The outer tag
 * defaults to 802.1ad (0x88a8), the other to 802.1Q; an outer tag without an
 * inner one is not a frame (throws RangeError).
 */
export function emitEthernetRepr(repr: EthernetRepr, buf: Uint8Array, off = 0): number {
  buf.set(repr.dst.subarray(0, 6), off + ETH_FIELD.DST);
  buf.set(repr.src.subarray(0, 6), off + ETH_FIELD.SRC);
  if (repr.outerVlan && !repr.vlan) throw new RangeError('emitEthernetRepr: an outer VLAN tag needs an inner one (vlan)');
  let at = off + ETH_FIELD.ETHERTYPE;
  for (const [tag, tpid] of [
    [repr.outerVlan, EtherType.QINQ],
    [repr.vlan, EtherType.VLAN],
  ] as const) {
    if (!tag) continue;
    put16(buf, at, tag.tpid ?? tpid);
    put16(buf, at + 2, vlanToTci(tag));
    at += 4;
  }
  put16(buf, at, repr.ethertype);
  return at + 2;
}
