// The pcapng encoder (pure) and the --pcap writer: block lengths and 32-bit
// padding, byte-exact small blocks checked by hand against the format
// (draft-ietf-opsawg-pcapng), and a written file walked block by block: one
// interface per side, captured packets with what tcpmitm did as comments,
// forged ones as packets of their own.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { enhancedPacket, interfaceDescription, sectionHeader } from '../../../src/packet/pcapng.js';
import { PcapngWriter, commentFor } from '../../../src/io/pcapng-writer.js';
import { TapPcapngWriter } from '../../../src/io/tap-pcapng-writer.js';
import type { SegmentEvent } from '../../../src/engine/events.js';
import { tempDir } from '../../helpers/temp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('pcapng blocks', () => {
  it('an enhanced packet block, byte for byte: 3-byte frame and 2-byte comment padded to 4', () => {
    const b = enhancedPacket(1, 0x1_0000_0002n, Uint8Array.of(0xde, 0xad, 0xbe), ['ab']);
    expect(b.toString('hex')).toBe(
      hex(`
        06000000 30000000
        01000000
        01000000 02000000
        03000000 03000000
        deadbe00
        0100 0200 61620000
        0000 0000
        30000000`).toString('hex'),
    );
  });

  it('a section header block, byte for byte: little-endian magic, version 1.0, unknown section length', () => {
    expect(sectionHeader('tcpmitm').toString('hex')).toBe(
      hex(`
        0a0d0d0a 2c000000
        4d3c2b1a 0100 0000
        ffffffff ffffffff
        0400 0700 7463706d 69746d00
        0000 0000
        2c000000`).toString('hex'),
    );
  });

  it('an interface description block: Ethernet, snaplen, name, description and nanosecond resolution', () => {
    expect(interfaceDescription('m0', 'client side').toString('hex')).toBe(
      hex(`
        01000000 38000000
        0100 0000 00000400
        0200 0200 6d300000
        0300 0b00 636c69656e742073696465 00
        0900 0100 09000000
        0000 0000
        38000000`).toString('hex'),
    );
  });

  it('a frame whose last bytes the capture lacks is recorded cut short: captured length < original length, only the bytes it has', () => {
    const b = enhancedPacket(0, 0n, Uint8Array.of(1, 2, 3, 4, 5, 0, 0), [], undefined, 2);
    expect(b.readUInt32LE(8 + 12)).toBe(5);
    expect(b.readUInt32LE(8 + 16)).toBe(7);
    expect([...b.subarray(28, 36)]).toEqual([1, 2, 3, 4, 5, 0, 0, 0]);
    expect(b.length).toBe(12 + 20 + 8);
  });

  it('an EPB without comments has no options at all (not even end-of-options)', () => {
    const b = enhancedPacket(0, 0n, new Uint8Array(4));
    // 12 (type, length, trailing length) + 20 (interface, timestamp, lengths) + 4 (frame).
    expect(b.length).toBe(36);
    expect(b.readUInt32LE(4)).toBe(36);
  });

  it('every block is a multiple of 4 long, with equal leading and trailing lengths', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 70 }),
        fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (frame, comments, ts) => {
          const b = enhancedPacket(1, ts, frame, comments);
          const total = b.readUInt32LE(4);
          expect(total).toBe(b.length);
          expect(total % 4).toBe(0);
          expect(b.readUInt32LE(total - 4)).toBe(total);
          expect(b.readUInt32LE(20)).toBe(frame.length);
          expect((BigInt(b.readUInt32LE(12)) << 32n) | BigInt(b.readUInt32LE(16))).toBe(ts);
          expect(Buffer.from(b.subarray(28, 28 + frame.length)).equals(Buffer.from(frame))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});

interface Block {
  type: number;
  body: Buffer;
}

/** Walks a little-endian pcapng file into blocks, checking each block's two lengths. */
function blocks(buf: Buffer): Block[] {
  const out: Block[] = [];
  let off = 0;
  while (off < buf.length) {
    const type = buf.readUInt32LE(off);
    const len = buf.readUInt32LE(off + 4);
    expect(len % 4).toBe(0);
    expect(buf.readUInt32LE(off + len - 4)).toBe(len);
    out.push({ type, body: buf.subarray(off + 8, off + len - 4) });
    off += len;
  }
  expect(off).toBe(buf.length);
  return out;
}

function epbComments(body: Buffer): string[] {
  const caplen = body.readUInt32LE(12);
  let off = 20 + ((caplen + 3) & ~3);
  const comments: string[] = [];
  while (off < body.length) {
    const code = body.readUInt16LE(off);
    const len = body.readUInt16LE(off + 2);
    if (code === 0) break;
    if (code === 1) comments.push(body.subarray(off + 4, off + 4 + len).toString('utf8'));
    off += 4 + ((len + 3) & ~3);
  }
  return comments;
}

const seg = (over: Partial<SegmentEvent>): SegmentEvent => ({
  type: 'segment', t: 0, conn: 1, dir: 'c2s', from: 'client', flags: 'A', seq: 1, ack: 1, len: 0, win: 64, role: 'ack', verdict: 'pass', ...over,
});

describe('PcapngWriter', () => {
  it('comments say what tcpmitm did', () => {
    expect(commentFor(seg({ verdict: 'pass' }))).toBeUndefined();
    expect(commentFor(seg({ verdict: 'drop', rule: 1, role: 'last-ack' }))).toBe('dropped by rule 1 (last-ack)');
    expect(commentFor(seg({ verdict: 'delay', detail: '200 ms' }))).toBe('delayed 200 ms');
    expect(commentFor(seg({ verdict: 'forged', detail: 'RST to server', role: 'rst', rule: 2 }))).toBe('forged RST to server by rule 2');
    expect(commentFor(seg({ verdict: 'coalesce', rule: 1 }))).toBe('coalesced ACK into FIN by rule 1');
  });

  const writer = () => {
    const path = join(tempDir('t7-pcapng-'), 'w.pcapng');
    let ns = 1_700_000_000_000_000_000n;
    const w = new PcapngWriter({ path, names: { a: 'm0', b: 'm1' }, wallNs: () => (ns += 1000n), onFailure: (m) => expect.fail(m) });
    const packets = () => {
      const bs = blocks(readFileSync(path));
      expect(bs.slice(0, 4).map((b) => b.type)).toEqual([0x0a0d0d0a, 1, 1, 1]);
      return bs.filter((b) => b.type === 6).map((b) => ({
        iface: b.body.readUInt32LE(0),
        ts: (BigInt(b.body.readUInt32LE(4)) << 32n) | BigInt(b.body.readUInt32LE(8)),
        len: b.body.readUInt32LE(12),
        fill: b.body[20],
        comments: epbComments(b.body),
        direction: epbDirection(b.body),
      }));
    };
    return { w, packets };
  };

  it('writes each frame twice: its arrival (inbound) and its departure on the other side (outbound)', () => {
    const { w, packets } = writer();
    const f1 = Buffer.alloc(60, 1);
    w.beginCaptured('a', f1);
    w.sent('b', f1);
    w.endCaptured();
    w.close();
    expect(w.count).toBe(2);
    const ps = packets();
    expect(ps.map((p) => [p.iface, p.direction, p.comments, p.len])).toEqual([
      [0, 'inbound', ['passed'], 60],
      [1, 'outbound', ['passed'], 60],
    ]);
    expect(ps[0]!.ts).toBe(1_700_000_000_000_001_000n);
    expect(ps[1]!.ts).toBeGreaterThan(ps[0]!.ts);
  });

  it('a forged RST is a departure only, written after the arrival that caused it (strict time order)', () => {
    const { w, packets } = writer();
    const f2 = Buffer.alloc(54, 2);
    const rst = Buffer.alloc(54, 3);
    w.beginCaptured('b', f2);
    w.onEvent(seg({ verdict: 'drop', rule: 1, role: 'last-ack', dir: 's2c', from: 'server' }));
    w.onEvent(seg({ verdict: 'forged', rule: 1, role: 'rst', detail: 'RST to server' }));
    w.sent('b', rst);
    w.dropped('b', f2);
    w.endCaptured();
    w.close();
    const ps = packets();
    expect(ps.map((p) => [p.iface, p.direction, p.comments, p.fill])).toEqual([
      [1, 'inbound', ['dropped by rule 1 (last-ack)'], 2],
      [1, 'outbound', ['forged RST to server by rule 1'], 3],
    ]);
    expect(ps[1]!.ts).toBeGreaterThan(ps[0]!.ts);
  });

  it('a delayed frame leaves when it is released, naming its arrival; frames in between keep time order', () => {
    const { w, packets } = writer();
    const fin = Buffer.alloc(60, 4);
    const other = Buffer.alloc(60, 5);
    w.beginCaptured('b', fin);
    w.onEvent(seg({ verdict: 'delay', rule: 1, role: 'fin', detail: '3000 ms', dir: 's2c', from: 'server' }));
    w.endCaptured();
    w.beginCaptured('a', other);
    w.sent('b', other);
    w.endCaptured();
    // The release comes from a timer, outside any capture; the engine's copy is another buffer.
    w.onEvent({ type: 'action', t: 3, conn: 1, rule: 1, action: 'release', detail: 'released fin from server after 3000 ms' });
    w.sent('a', Buffer.from(fin));
    w.close();
    const ps = packets();
    expect(ps.map((p) => [p.iface, p.direction, p.comments[0], p.fill])).toEqual([
      [1, 'inbound', 'delayed 3000 ms by rule 1', 4],
      [0, 'inbound', 'passed', 5],
      [1, 'outbound', 'passed', 5],
      [0, 'outbound', 'delayed 3000 ms by rule 1; released fin from server after 3000 ms (arrived as frame 1)', 4],
    ]);
    expect([...ps.map((p) => p.ts)].sort((x, y) => (x < y ? -1 : 1))).toEqual(ps.map((p) => p.ts));
  });

  it('a held frame dropped by hand is recorded on interface 2 ("tcpmitm") at that moment, naming its arrival', () => {
    const { w, packets } = writer();
    const held = Buffer.alloc(60, 6);
    w.beginCaptured('a', held);
    w.onEvent(seg({ verdict: 'hold', role: 'fin', detail: 'waiting to be released' }));
    w.endCaptured();
    const copy = Buffer.from(held);
    w.dropped('a', copy);
    w.onEvent({ type: 'action', t: 3, conn: 1, action: 'drop', detail: 'dropped held fin from client' });
    w.close();
    const ps = packets();
    expect(ps.map((p) => [p.iface, p.direction, p.comments[0]])).toEqual([
      [0, 'inbound', 'held (fin, waiting to be released)'],
      [2, undefined, 'held (fin, waiting to be released); then dropped by hand (held fin from client) (arrived as frame 1)'],
    ]);
  });
});

function epbDirection(body: Buffer): 'inbound' | 'outbound' | undefined {
  const caplen = body.readUInt32LE(12);
  let off = 20 + ((caplen + 3) & ~3);
  while (off < body.length) {
    const code = body.readUInt16LE(off);
    const len = body.readUInt16LE(off + 2);
    if (code === 0) break;
    if (code === 2) return (['inbound', 'outbound'] as const)[(body.readUInt32LE(off + 4) & 3) - 1];
    off += 4 + ((len + 3) & ~3);
  }
  return undefined;
}

describe('TapPcapngWriter (tap --pcap)', () => {
  const tapWriter = (linkType: 'ETHERNET' | 'RAW') => {
    const path = join(tempDir('t7-pcapng-'), 'tap.pcapng');
    let ns = 1_700_000_000_000_000_000n;
    const w = new TapPcapngWriter({ path, iface: 'lo', linkType, wallNs: () => (ns += 1000n), onFailure: (m) => expect.fail(m) });
    const read = () => {
      const bs = blocks(readFileSync(path));
      expect(bs.slice(0, 3).map((b) => b.type)).toEqual([0x0a0d0d0a, 1, 1]);
      return {
        linkTypes: bs.filter((b) => b.type === 1).map((b) => b.body.readUInt16LE(0)),
        packets: bs.filter((b) => b.type === 6).map((b) => ({
          iface: b.body.readUInt32LE(0),
          ts: (BigInt(b.body.readUInt32LE(4)) << 32n) | BigInt(b.body.readUInt32LE(8)),
          len: b.body.readUInt32LE(12),
          comments: epbComments(b.body),
          direction: epbDirection(b.body),
        })),
      };
    };
    return { w, read };
  };

  it("interface 0 is what the capture saw; a forged RST is on interface 1 as sent, and again on 0 where the capture saw it, naming it", () => {
    const { w, read } = tapWriter('ETHERNET');
    const ip = Buffer.alloc(40, 7);
    const data = Buffer.concat([Buffer.alloc(14, 1), Buffer.alloc(40, 2)]);
    w.captured(data);
    w.onEvent(seg({ verdict: 'forged', rule: 2, role: 'rst', detail: 'RST to server' }));
    w.forged(Buffer.concat([Buffer.alloc(14, 3), ip]), 14);
    // The capture shows it with the link header the kernel gave it (loopback's zeroes).
    w.captured(Buffer.concat([Buffer.alloc(14, 0), ip]));
    w.captured(data);
    w.close();
    expect(w.count).toBe(4);
    const { linkTypes, packets } = read();
    expect(linkTypes).toEqual([1, 1]);
    expect(packets.map((p) => [p.iface, p.direction, p.comments, p.len])).toEqual([
      [0, undefined, [], 54],
      [1, 'outbound', ['forged RST to server by rule 2'], 54],
      [0, undefined, ["tcpmitm's own: forged RST to server by rule 2 (sent as frame 2)"], 54],
      [0, undefined, [], 54],
    ]);
    // Strict time order: each record is written when it happens.
    for (let i = 1; i < packets.length; i++) expect(packets[i]!.ts).toBeGreaterThan(packets[i - 1]!.ts);
  });

  it('a raw-IP capture (no link header) records both interfaces as LINKTYPE_RAW and still recognises its RSTs', () => {
    const { w, read } = tapWriter('RAW');
    const ip = Buffer.alloc(40, 9);
    w.forged(ip, 0);
    w.captured(Buffer.from(ip));
    w.close();
    const { linkTypes, packets } = read();
    expect(linkTypes).toEqual([101, 101]);
    expect(packets.map((p) => [p.iface, p.comments])).toEqual([
      [1, ['forged by tcpmitm']],
      [0, ["tcpmitm's own: forged by tcpmitm (sent as frame 1)"]],
    ]);
  });

  it('a file with no packet still has its header (valid for tshark)', () => {
    const { w, read } = tapWriter('ETHERNET');
    w.close();
    expect(read().packets).toEqual([]);
  });
});
