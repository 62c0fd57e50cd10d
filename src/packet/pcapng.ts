// pcapng block encoding (draft-ietf-opsawg-pcapng): section header, interface
// description and enhanced packet blocks, with packet comments (opt_comment)
// so Wireshark and `tshark -e frame.comment` show what tcpmitm did. Pure.

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const OPT_COMMENT = 1;
const IF_NAME = 2;
/** epb_flags: bits 0-1 are the direction (1 inbound, 2 outbound). */
const EPB_FLAGS = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const SHB_USERAPPL = 4;
/** LINKTYPE_ETHERNET. */
export const LINKTYPE_ETHERNET = 1;
/** LINKTYPE_RAW: an IPv4 or IPv6 packet with no link-layer header (a tun device, `cap`'s RAW). */
export const LINKTYPE_RAW = 101;

const encoder = new TextEncoder();

function pad4(n: number): number {
  return (n + 3) & ~3;
}

interface Opt {
  readonly code: number;
  readonly value: Uint8Array;
}

function optsLength(opts: readonly Opt[]): number {
  if (opts.length === 0) return 0;
  let n = 4; // opt_endofopt
  for (const o of opts) n += 4 + pad4(o.value.length);
  return n;
}

function writeOpts(buf: Buffer, off: number, opts: readonly Opt[]): number {
  if (opts.length === 0) return off;
  for (const o of opts) {
    buf.writeUInt16LE(o.code, off);
    buf.writeUInt16LE(o.value.length, off + 2);
    buf.set(o.value, off + 4);
    buf.fill(0, off + 4 + o.value.length, off + 4 + pad4(o.value.length));
    off += 4 + pad4(o.value.length);
  }
  buf.writeUInt16LE(OPT_END, off);
  buf.writeUInt16LE(0, off + 2);
  return off + 4;
}

function block(type: number, bodyLen: number, fill: (buf: Buffer, off: number) => void): Buffer {
  const total = 12 + bodyLen;
  // Not zero-filled (a third of a passthrough frame's cost in the pcapng): every byte is written below, padding included.
  const buf = Buffer.allocUnsafe(total);
  buf.writeUInt32LE(type, 0);
  buf.writeUInt32LE(total, 4);
  fill(buf, 8);
  buf.writeUInt32LE(total, total - 4);
  return buf;
}

/** Section Header Block, little-endian, section length unknown (-1). */
export function sectionHeader(application: string): Buffer {
  const opts: Opt[] = [{ code: SHB_USERAPPL, value: encoder.encode(application) }];
  return block(SHB, 16 + optsLength(opts), (b, off) => {
    b.writeUInt32LE(BYTE_ORDER_MAGIC, off);
    b.writeUInt16LE(1, off + 4);
    b.writeUInt16LE(0, off + 6);
    b.writeInt32LE(-1, off + 8);
    b.writeInt32LE(-1, off + 12);
    writeOpts(b, off + 16, opts);
  });
}

/** Interface Description Block with nanosecond timestamps (if_tsresol = 9). */
export function interfaceDescription(name: string, description: string, snaplen = 262_144, linkType = LINKTYPE_ETHERNET): Buffer {
  const opts: Opt[] = [
    { code: IF_NAME, value: encoder.encode(name) },
    { code: IF_DESCRIPTION, value: encoder.encode(description) },
    { code: IF_TSRESOL, value: Uint8Array.of(9) },
  ];
  return block(IDB, 8 + optsLength(opts), (b, off) => {
    b.writeUInt16LE(linkType, off);
    b.writeUInt16LE(0, off + 2);
    b.writeUInt32LE(snaplen, off + 4);
    writeOpts(b, off + 8, opts);
  });
}

/** The comment of most packets, encoded once. */
const PASSED = { text: 'passed', bytes: encoder.encode('passed') };

/** Which way a packet crossed its interface (epb_flags bits 0-1). */
export type PacketDirection = 'inbound' | 'outbound';
const DIRECTION_FLAGS: Record<PacketDirection, Uint8Array> = {
  inbound: Uint8Array.of(1, 0, 0, 0),
  outbound: Uint8Array.of(2, 0, 0, 0),
};

/**
 * Enhanced Packet Block; `tsNs` is nanoseconds since the Unix epoch; `direction` goes in epb_flags.
 * `missing`: the frame's last bytes the capture did not have: recorded cut
 * short (captured length < original length), as a snap length would.
 */
export function enhancedPacket(interfaceId: number, tsNs: bigint, frame: Uint8Array, comments: readonly string[] = [], direction?: PacketDirection, missing = 0): Buffer {
  const opts: Opt[] = comments.map((c) => ({ code: OPT_COMMENT, value: c === PASSED.text ? PASSED.bytes : encoder.encode(c) }));
  if (direction !== undefined) opts.push({ code: EPB_FLAGS, value: DIRECTION_FLAGS[direction] });
  const captured = missing > 0 ? frame.subarray(0, frame.length - missing) : frame;
  const bodyLen = 20 + pad4(captured.length) + optsLength(opts);
  return block(EPB, bodyLen, (b, off) => {
    b.writeUInt32LE(interfaceId, off);
    b.writeUInt32LE(Number(tsNs >> 32n) >>> 0, off + 4);
    b.writeUInt32LE(Number(tsNs & 0xffffffffn) >>> 0, off + 8);
    b.writeUInt32LE(captured.length, off + 12);
    b.writeUInt32LE(frame.length, off + 16);
    b.set(captured, off + 20);
    b.fill(0, off + 20 + captured.length, off + 20 + pad4(captured.length));
    writeOpts(b, off + 20 + pad4(captured.length), opts);
  });
}
