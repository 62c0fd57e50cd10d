// Synthetic frames for what real captures on this machine cannot show: typed
// errors, 802.1Q, IPv4 options and fragments, IPv6 extension chains, every
// TCP option, exact emitted bytes, builders, RST forging and in-place rewrites.
import { describe, expect, it } from 'vitest';
import { formatIpv6, ipBytes, parseIpv6Text } from '../../../src/packet/addr.js';
import { buildTcpFrame, forgeRstFrom, parseFlagLetters, rewriteTcpHeader } from '../../../src/packet/build.js';
import { checksumUpdate16, internetChecksum } from '../../../src/packet/checksum.js';
import { type TcpFrame, decodeFrame, decodeIpPacket } from '../../../src/packet/frame.js';
import { formatEndpoint } from '../../../src/packet/addr.js';

const flowKey = (f: TcpFrame): string => `${formatEndpoint(f.srcAddr, f.srcPort)}>${formatEndpoint(f.dstAddr, f.dstPort)}`;
import { emitFrameRepr, parseFrameRepr } from '../../../src/packet/repr.js';
import { type TcpOption, type TcpRepr, emitTcpRepr, parseTcpOptions } from '../../../src/packet/tcp.js';
import { TcpFlag, flagLetters } from '../../../src/tcp/segment.js';
import { u16 } from '../../../src/packet/bytes.js';
import { loadFixtures } from './fixtures.js';

const base = { src: '198.18.0.1', dst: '198.18.0.2', srcPort: 43210, dstPort: 8080, seq: 1000, ack: 2000, flags: 'A', window: 512 } as const;
const base6 = { ...base, src: '2001:2::1', dst: '2001:2::2' } as const;

function tcpOf(buf: Uint8Array): TcpFrame {
  const r = decodeFrame(buf);
  if (!r.ok) throw new Error(r.error.message);
  if (r.value.kind !== 'tcp') throw new Error(`not tcp: ${r.value.reason}`);
  return r.value;
}
function errOf(buf: Uint8Array) {
  const r = decodeFrame(buf);
  if (r.ok) throw new Error('expected an error');
  return r.error;
}
function roundTrips(buf: Uint8Array): boolean {
  const r = parseFrameRepr(buf);
  if (!r.ok) throw new Error(r.error.message);
  return emitFrameRepr(r.value).equals(buf);
}

describe('typed errors', () => {
  it('reports a bad TCP data offset with layer, code, offset and message', () => {
    const b = buildTcpFrame(base);
    b[34 + 12] = 0x40; // data offset 4 words = 16 bytes
    expect(errOf(b)).toEqual({ layer: 'tcp', code: 'bad-data-offset', offset: 34, message: 'tcp: data offset 16 < 20 (at byte 34)' });
  });
  it('rejects short and inconsistent headers at every layer', () => {
    expect(errOf(Buffer.alloc(10))).toMatchObject({ layer: 'ethernet', code: 'truncated', offset: 0 });
    const tagged = Buffer.alloc(16);
    tagged.writeUInt16BE(0x8100, 12);
    expect(errOf(tagged)).toMatchObject({ layer: 'ethernet', code: 'truncated-vlan', offset: 12 });
    const b = buildTcpFrame(base);
    expect(errOf(b.subarray(0, 30))).toMatchObject({ layer: 'ipv4', code: 'truncated', offset: 14 });
    const v = Buffer.from(b);
    v[14] = 0x65;
    expect(errOf(v)).toMatchObject({ layer: 'ipv4', code: 'bad-version', message: 'ipv4: version 6 != 4 (at byte 14)' });
    const ihl = Buffer.from(b);
    ihl[14] = 0x44;
    expect(errOf(ihl)).toMatchObject({ layer: 'ipv4', code: 'bad-header-length' });
    expect(errOf(b.subarray(0, b.length - 1))).toMatchObject({ layer: 'ipv4', code: 'truncated', offset: 16 });
    const tl = Buffer.from(b);
    tl.writeUInt16BE(19, 16);
    expect(errOf(tl)).toMatchObject({ layer: 'ipv4', code: 'bad-total-length' });
    const short = Buffer.from(b);
    short.writeUInt16BE(20 + 12, 16); // TCP gets 12 bytes
    expect(errOf(short)).toMatchObject({ layer: 'tcp', code: 'truncated', message: 'tcp: segment of 12 bytes < 20 (at byte 34)' });
    const b6 = buildTcpFrame(base6);
    expect(errOf(b6.subarray(0, 50))).toMatchObject({ layer: 'ipv6', code: 'truncated', offset: 14 });
    const big = Buffer.from(b6);
    big[54 + 12] = 0xf0; // 60-byte header in a 20-byte segment
    expect(errOf(big)).toMatchObject({ layer: 'tcp', code: 'truncated', message: 'tcp: data offset 60 > segment length 20 (at byte 54)' });
  });
  it('treats a bad checksum as a flag, not an error', () => {
    const b = buildTcpFrame({ ...base, payload: Buffer.from('hi') });
    b[b.length - 1]! ^= 1;
    b[14 + 8]! ^= 1; // TTL: breaks the IPv4 header checksum
    const f = tcpOf(b);
    expect([f.ipChecksumOk, f.tcpChecksumOk]).toEqual([false, false]);
  });
});

describe('ethernet', () => {
  it('decodes one 802.1Q tag and keeps it through parse/emit', () => {
    const b = buildTcpFrame({ ...base, vlan: { id: 100, pcp: 5 } });
    expect(b.subarray(12, 18).toString('hex')).toBe('8100a0640800');
    const f = tcpOf(b);
    expect(f).toMatchObject({ linkHeaderLength: 18, vlanId: 100, ipOffset: 18, tcpOffset: 38, ipChecksumOk: true, tcpChecksumOk: true });
    const r = parseFrameRepr(b);
    expect(r.ok && r.value.ethernet.vlan).toEqual({ pcp: 5, dei: false, id: 100, tpid: 0x8100 });
    expect(roundTrips(b)).toBe(true);
  });
  it('decodes QinQ (802.1ad or 802.1Q outer tag, 802.1Q inner) like a single tag, and keeps both through parse/emit', () => {
    for (const tpid of [0x88a8, 0x8100]) {
      const b = buildTcpFrame({ ...base, outerVlan: { id: 100, pcp: 3, tpid }, vlan: { id: 200, dei: true }, payload: Buffer.from('hi') });
      expect(b.subarray(12, 22).toString('hex')).toBe(`${tpid.toString(16)}6064${'8100'}10c80800`);
      expect(tcpOf(b)).toMatchObject({ linkHeaderLength: 22, vlanId: 200, outerVlanId: 100, ipOffset: 22, tcpOffset: 42, payloadLength: 2, ipChecksumOk: true, tcpChecksumOk: true });
      const r = parseFrameRepr(b);
      expect(r.ok && [r.value.ethernet.outerVlan, r.value.ethernet.vlan]).toEqual([
        { pcp: 3, dei: false, id: 100, tpid },
        { pcp: 0, dei: true, id: 200, tpid: 0x8100 },
      ]);
      expect(roundTrips(b)).toBe(true);
      // The RST forged from it carries both tags, TPIDs as they were.
      const rst = forgeRstFrom(tcpOf(b), { seq: 5 });
      expect(rst.subarray(12, 22).toString('hex')).toBe(b.subarray(12, 22).toString('hex'));
      expect(tcpOf(rst)).toMatchObject({ vlanId: 200, outerVlanId: 100, seq: 5, tcpChecksumOk: true });
    }
    // A lone 802.1ad tag is one tag; its TPID survives.
    const s = buildTcpFrame({ ...base6, vlan: { id: 9, tpid: 0x88a8 } });
    expect(tcpOf(s)).toMatchObject({ linkHeaderLength: 18, vlanId: 9, outerVlanId: undefined, ipVersion: 6 });
    expect(roundTrips(s)).toBe(true);
    expect(u16(forgeRstFrom(tcpOf(s), { seq: 1 }), 12)).toBe(0x88a8);
  });
  it('refuses QinQ cut short, and an outer tag without an inner one', () => {
    const b = buildTcpFrame({ ...base, outerVlan: { id: 1 }, vlan: { id: 2 } });
    expect(errOf(b.subarray(0, 20))).toMatchObject({ layer: 'ethernet', code: 'truncated-vlan', message: 'ethernet: double-tagged (QinQ) frame of 20 bytes < 22 (at byte 16)' });
    expect(parseFrameRepr(b.subarray(0, 21))).toMatchObject({ ok: false, error: { code: 'truncated-vlan' } });
    expect(() => buildTcpFrame({ ...base, outerVlan: { id: 1 } })).toThrow('an outer VLAN tag needs an inner one');
  });
  it('passes a third tag, ARP and 802.3 length frames as opaque', () => {
    const triple = Buffer.alloc(64);
    triple.writeUInt16BE(0x88a8, 12);
    triple.writeUInt16BE(0x8100, 16);
    triple.writeUInt16BE(0x8100, 20);
    expect(decodeFrame(triple)).toMatchObject({ ok: true, value: { kind: 'other', reason: 'not-ip', vlanId: 0, outerVlanId: 0, ethertype: 0x8100 } });
    const sTagInS = Buffer.alloc(64); // 0x88a8 inside a tag is not a C-tag: opaque payload of one tag
    sTagInS.writeUInt16BE(0x88a8, 12);
    sTagInS.writeUInt16BE(0x88a8, 16);
    expect(decodeFrame(sTagInS)).toMatchObject({ ok: true, value: { kind: 'other', reason: 'not-ip', vlanId: 0, outerVlanId: undefined, ethertype: 0x88a8 } });
    const llc = Buffer.alloc(60);
    llc.writeUInt16BE(46, 12);
    expect(decodeFrame(llc)).toMatchObject({ ok: true, value: { kind: 'other', reason: 'not-ip', ethertype: 46 } });
    expect(roundTrips(triple) && roundTrips(sTagInS) && roundTrips(llc)).toBe(true);
  });
  it('ignores Ethernet padding after the IP packet', () => {
    const b = buildTcpFrame({ ...base, flags: 'R' });
    const padded = Buffer.concat([b, Buffer.alloc(60 - b.length, 0xee)]);
    expect(b.length).toBe(54);
    const f = tcpOf(padded);
    expect([f.payloadLength, f.ipEnd, f.tcpChecksumOk]).toEqual([0, 54, true]);
    expect(roundTrips(padded)).toBe(true);
  });
});

describe('ipv4', () => {
  it('skips options to reach TCP', () => {
    const b = buildTcpFrame({ ...base, ipv4Options: Uint8Array.of(0x94, 0x04, 0x00, 0x00) }); // router alert
    expect(tcpOf(b)).toMatchObject({ tcpOffset: 38, ipChecksumOk: true, tcpChecksumOk: true });
    expect(roundTrips(b)).toBe(true);
  });
  it('flags a first fragment and passes later fragments without a TCP header', () => {
    const b = buildTcpFrame({ ...base, payload: Buffer.alloc(100, 7) });
    const first = Buffer.from(b);
    first.writeUInt16BE(0x2000, 20); // MF, offset 0
    first.writeUInt16BE(0, 24);
    first.writeUInt16BE(internetChecksum(first, 14, 20), 24);
    expect(tcpOf(first)).toMatchObject({ fragment: true, tcpChecksumOk: false, ipChecksumOk: true, payloadLength: 100 });
    const later = Buffer.from(b);
    later.writeUInt16BE(0x0003, 20); // offset 24 bytes, last fragment
    expect(decodeFrame(later)).toMatchObject({ ok: true, value: { kind: 'other', reason: 'later-fragment', ipVersion: 4, protocol: 6 } });
    expect(roundTrips(first) && roundTrips(later)).toBe(true);
  });
});

describe('ipv6 extension headers', () => {
  const hbh = { type: 0, body: Uint8Array.of(0, 1, 4, 0, 0, 0, 0) }; // PadN
  const routing = { type: 43, body: Uint8Array.of(0, 4, 0, 0, 0, 0, 0) }; // segments left 0
  const dest = { type: 60, body: Uint8Array.of(0, 1, 4, 0, 0, 0, 0) };
  const ah = { type: 51, body: Uint8Array.of(4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, ...new Array(12).fill(0xab)) }; // 24 bytes
  const atomicFrag = { type: 44, body: Uint8Array.of(0, 0, 0, 0, 0, 0, 42) };

  it('walks hop-by-hop, routing, destination options, AH and an atomic fragment to TCP', () => {
    const b = buildTcpFrame({ ...base6, ipv6Extensions: [hbh, routing, dest, ah, atomicFrag], payload: Buffer.from('x') });
    const f = tcpOf(b);
    expect(f).toMatchObject({ ipVersion: 6, tcpOffset: 54 + 8 + 8 + 8 + 24 + 8, tcpChecksumOk: true, fragment: false, payloadLength: 1 });
    const r = parseFrameRepr(b);
    expect(r.ok && r.value.ip?.version === 6 && r.value.ip.extensions.map((e) => e.type)).toEqual([0, 43, 60, 51, 44]);
    expect(roundTrips(b)).toBe(true);
  });
  it('rejects a hop-by-hop header that is not first, and truncated chains', () => {
    const b = buildTcpFrame({ ...base6, ipv6Extensions: [dest, hbh] });
    expect(errOf(b)).toMatchObject({ layer: 'ipv6', code: 'misplaced-hop-by-hop', offset: 62 });
    const t = buildTcpFrame({ ...base6, ipv6Extensions: [dest] });
    t[55] = 200; // dest-opts claims 1608 bytes
    expect(errOf(t)).toMatchObject({ layer: 'ipv6', code: 'truncated-extension', offset: 54 });
  });
  it('flags a first fragment; a later one has no TCP header', () => {
    const first = buildTcpFrame({ ...base6, ipv6Extensions: [{ type: 44, body: Uint8Array.of(0, 0, 1, 0, 0, 0, 7) }] });
    expect(tcpOf(first)).toMatchObject({ fragment: true, tcpChecksumOk: false });
    const later = buildTcpFrame({ ...base6, ipv6Extensions: [{ type: 44, body: Uint8Array.of(0, 0, 0x18, 0, 0, 0, 7) }] });
    expect(decodeFrame(later)).toMatchObject({ ok: true, value: { kind: 'other', reason: 'later-fragment', ipVersion: 6 } });
    expect(roundTrips(first) && roundTrips(later)).toBe(true);
  });
  it('stops at ESP: opaque upper layer', () => {
    const b = buildTcpFrame(base6);
    b[20] = 50;
    expect(decodeFrame(b)).toMatchObject({ ok: true, value: { kind: 'other', reason: 'not-tcp', protocol: 50 } });
  });
});

describe('tcp header and options', () => {
  const all: TcpOption[] = [
    { kind: 'mss', value: 1460 },
    { kind: 'sack-permitted' },
    { kind: 'timestamps', tsval: 0xdeadbeef, tsecr: 1 },
    { kind: 'nop' },
    { kind: 'window-scale', shift: 7 },
    { kind: 'sack', blocks: [[10, 20]] },
    { kind: 'unknown', type: 30, data: Uint8Array.of(1, 2, 3) },
  ];
  it('carries up to four SACK blocks (RFC 2018)', () => {
    const sack: TcpOption = { kind: 'sack', blocks: [[1, 2], [0xfffffff0, 5], [7, 8], [9, 10]] };
    const b = buildTcpFrame({ ...base, options: [{ kind: 'nop' }, { kind: 'nop' }, sack] });
    const r = parseFrameRepr(b);
    expect(r.ok && r.value.tcp!.options).toEqual([{ kind: 'nop' }, { kind: 'nop' }, sack]);
    expect(roundTrips(b)).toBe(true);
  });
  it('emits exact bytes into a buffer pre-filled with 0xa5 (smoltcp-style)', () => {
    const repr: TcpRepr = {
      srcPort: 0xabcd, dstPort: 80, seq: 0x01234567, ack: 0x89abcdef, flags: TcpFlag.SYN | TcpFlag.NS,
      reserved: 0, window: 0x0123, urgentPointer: 0, options: [{ kind: 'mss', value: 1460 }, { kind: 'nop' }], checksum: 0x1234,
    };
    const buf = Buffer.alloc(30, 0xa5);
    // 20 + 5 option bytes, zero-padded to 28: data offset 7 words.
    expect(emitTcpRepr(repr, buf, 1)).toBe(29);
    expect(buf.toString('hex')).toBe('a5' + 'abcd0050' + '01234567' + '89abcdef' + '7102' + '0123' + '1234' + '0000' + '020405b4' + '01000000' + 'a5');
  });
  it('parses and re-emits every option kind, keeping unknown ones byte for byte', () => {
    const b = buildTcpFrame({ ...base, flags: 'S', options: all });
    const r = parseFrameRepr(b);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.tcp!.options.slice(0, all.length)).toEqual(all);
    // 35 option bytes: one zero byte pads to 36 and reads back as EOL.
    expect(r.value.tcp!.options.slice(all.length)).toEqual([{ kind: 'eol' }]);
    expect(roundTrips(b)).toBe(true);
    expect(tcpOf(b).toSegmentInfo().windowScale).toBe(7);
  });
  it('keeps a malformed option tail as Linux does (stop parsing, accept the segment)', () => {
    const opts = parseTcpOptions(Uint8Array.of(1, 2, 1, 0xff, 0xee, 0xdd, 0xcc, 0xbb), 0, 8);
    expect(opts).toEqual([{ kind: 'nop' }, { kind: 'malformed', data: Uint8Array.of(2, 1, 0xff, 0xee, 0xdd, 0xcc, 0xbb) }]);
    const over = parseTcpOptions(Uint8Array.of(8, 10, 0, 0), 0, 4);
    expect(over).toEqual([{ kind: 'malformed', data: Uint8Array.of(8, 10, 0, 0) }]);
    const odd = parseTcpOptions(Uint8Array.of(2, 3, 9, 1), 0, 4); // MSS with length 3
    expect(odd).toEqual([{ kind: 'unknown', type: 2, data: Uint8Array.of(9) }, { kind: 'nop' }]);
  });
  it('carries all nine flags, NS included, and the reserved bits', () => {
    const b = buildTcpFrame({ ...base, flags: 'SFRPAUECN' });
    expect(tcpOf(b).flags).toBe(0x1ff);
    expect(flagLetters(tcpOf(b).flags)).toBe('SFRPAUECN');
    b[34 + 12]! |= 0x0e;
    const r = parseFrameRepr(b);
    expect(r.ok && r.value.tcp!.reserved).toBe(7);
    expect(roundTrips(b)).toBe(true);
    expect(() => parseFlagLetters('SX')).toThrow(/unknown TCP flag letter "X"/);
  });
  it('gives windowScale only on SYNs', () => {
    expect('windowScale' in tcpOf(buildTcpFrame({ ...base, flags: 'A', options: [{ kind: 'window-scale', shift: 3 }] })).toSegmentInfo()).toBe(false);
    expect(tcpOf(buildTcpFrame({ ...base, flags: 'SA', options: [{ kind: 'window-scale', shift: 3 }] })).toSegmentInfo().windowScale).toBe(3);
  });
});

describe('checksums', () => {
  it('matches the RFC 1071 §3 example', () => {
    // 0001 f203 f4f5 f6f7 sums to ddf2; the checksum is its complement.
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7), 0, 8)).toBe(0x220d);
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2), 0, 3)).toBe(~(0x0001 + 0xf200) & 0xffff);
  });
  it('RFC 1624 update never produces 0xffff from a valid checksum', () => {
    expect(checksumUpdate16(0x0000, 0x0000, 0x0000)).toBe(0x0000);
    expect(checksumUpdate16(0xdd2f, 0x5555, 0x3285)).toBe(0x0000); // RFC 1624 §4 worked example
  });
  it('rewriteTcpHeader equals a full recomputation on every real TCP frame', () => {
    const frames = loadFixtures().filter((f) => f.summary.includes('Flags ['));
    for (const fx of frames) {
      for (const changes of [{ flags: 'RA' }, { ack: 0xfffffffe }, { seq: 7 }, { window: 0 }, { flags: TcpFlag.FIN | TcpFlag.ACK, seq: 0x80000000, ack: 1, window: 65535 }]) {
        const b = Buffer.from(fx.bytes);
        const f = tcpOf(b);
        rewriteTcpHeader(b, f, changes);
        const r = parseFrameRepr(b);
        if (!r.ok) throw new Error(r.error.message);
        const { checksum: _c, ...noSum } = r.value.tcp!;
        expect(emitFrameRepr({ ...r.value, tcp: noSum }).equals(b)).toBe(true);
        expect(tcpOf(b).tcpChecksumOk).toBe(true);
      }
    }
  });
});

describe('builders', () => {
  it('forges a RST in the reverse or same direction of a seen frame', () => {
    const seen = tcpOf(buildTcpFrame({ ...base6, srcMac: '02:00:00:00:00:0a', dstMac: '02:00:00:00:00:0b', vlan: { id: 7 }, payload: Buffer.from('abc') }));
    const rev = tcpOf(forgeRstFrom(seen, { seq: 2000 }));
    expect([flowKey(rev), flagLetters(rev.flags), rev.seq, rev.ack, rev.window, rev.payloadLength, rev.vlanId]).toEqual([
      '[2001:2::2]:8080>[2001:2::1]:43210', 'R', 2000, 0, 0, 0, 7,
    ]);
    expect(Buffer.from(rev.buf.subarray(0, 12)).toString('hex')).toBe('02000000000a02000000000b');
    expect(rev.tcpChecksumOk).toBe(true);
    const same = tcpOf(forgeRstFrom(seen, { seq: 1003, ack: 2000, direction: 'same' }));
    expect([flowKey(same), flagLetters(same.flags), same.ack]).toEqual(['[2001:2::1]:43210>[2001:2::2]:8080', 'RA', 2000]);
  });
  it('decodes a bare IP packet (raw sockets) with the same classification', () => {
    const b = buildTcpFrame(base).subarray(14);
    expect(decodeIpPacket(b)).toMatchObject({ ok: true, value: { kind: 'tcp', linkHeaderLength: 0, tcpOffset: 20, tcpChecksumOk: true } });
  });
  it('rejects mixed families and bad literals', () => {
    expect(() => buildTcpFrame({ ...base, dst: '2001:2::2' })).toThrow(RangeError);
    expect(() => buildTcpFrame({ ...base, src: '198.18.0.256' })).toThrow(/invalid IP address "198.18.0.256"/);
    expect(() => buildTcpFrame({ ...base, srcMac: '02:00' })).toThrow(/invalid MAC address/);
  });
});

describe('addresses', () => {
  it.each([
    ['2001:2::1', '2001:2::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:198.18.0.1', '::ffff:198.18.0.1'],
  ])('%s prints as %s (RFC 5952)', (text, canon) => {
    expect(formatIpv6(parseIpv6Text(text)!)).toBe(canon);
  });
  it('rejects malformed IPv6 text', () => {
    for (const t of ['1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1:2:3:4:5:6:7']) expect(parseIpv6Text(t)).toBeUndefined();
    expect(ipBytes('198.18.0.1')).toEqual(Uint8Array.of(198, 18, 0, 1));
  });
});
