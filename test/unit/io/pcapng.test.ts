// The pcapng encoder (pure) and the --pcap writer: block lengths and 32-bit
// padding, byte-exact small blocks checked by hand against the format
// (draft-ietf-opsawg-pcapng), and a written file walked block by block: one
// interface per side, captured packets with what tcpmitm did as comments,
// forged ones as packets of their own.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enhancedPacket, interfaceDescription, sectionHeader } from '../../../src/packet/pcapng.js';
import { PcapngWriter, commentFor } from '../../../src/io/pcapng-writer.js';
import type { SegmentEvent } from '../../../src/engine/events.js';

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

  it('writes one interface per side, captured packets with comments, forged packets on the side they were sent', () => {
    const path = join(mkdtempSync(join(tmpdir(), 't7-pcapng-')), 'w.pcapng');
    let ns = 1_700_000_000_000_000_000n;
    const w = new PcapngWriter({ path, names: { a: 'm0', b: 'm1' }, wallNs: () => (ns += 1000n), onFailure: (m) => expect.fail(m) });
    const f1 = Buffer.alloc(60, 1);
    const f2 = Buffer.alloc(54, 2);
    const rst = Buffer.alloc(54, 3);
    // A passed frame from the client side: no comment.
    w.beginCaptured('a', f1);
    w.onEvent(seg({ verdict: 'pass' }));
    w.endCaptured();
    // A dropped frame from the server side that also triggers a forged RST sent back on port b.
    w.beginCaptured('b', f2);
    w.onEvent(seg({ verdict: 'drop', rule: 1, role: 'last-ack', dir: 's2c', from: 'server' }));
    w.onEvent(seg({ verdict: 'forged', rule: 1, role: 'rst', detail: 'RST to server' }));
    w.sent('b', rst);
    w.endCaptured();
    // A forwarded copy sent without a forged event is not recorded twice.
    w.sent('a', f2);
    w.close();
    expect(w.count).toBe(3);

    const bs = blocks(readFileSync(path));
    expect(bs.map((b) => b.type)).toEqual([0x0a0d0d0a, 1, 1, 6, 6, 6]);
    const epbs = bs.filter((b) => b.type === 6);
    // Interface 0 is the client side, 1 the server side; the RST was sent on port b.
    expect(epbs.map((b) => b.body.readUInt32LE(0))).toEqual([0, 1, 1]);
    expect(epbs.map((b) => b.body.readUInt32LE(12))).toEqual([60, 54, 54]);
    expect(epbs.map((b) => epbComments(b.body))).toEqual([[], ['forged RST to server by rule 1'], ['dropped by rule 1 (last-ack)']]);
    expect(epbs[1]!.body[20]).toBe(3);
    expect(epbs[2]!.body[20]).toBe(2);
    // Nanosecond timestamps from the injected clock.
    const ts = (b: Block) => (BigInt(b.body.readUInt32LE(4)) << 32n) | BigInt(b.body.readUInt32LE(8));
    expect(ts(epbs[0]!)).toBe(1_700_000_000_000_001_000n);
  });
});
