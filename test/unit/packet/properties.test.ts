// fast-check properties over random and mutated frames: decoding never
// throws and always answers with a value or a typed error; whatever parses
// re-emits byte-identical; the fast decoder and the repr parser agree; built
// frames and in-place rewrites carry correct checksums. Run counts are fixed
// below (RUNS): 100k random and mutated frames, 125k in all (plus the seq laws).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTcpFrame, rewriteTcpHeader } from '../../../src/packet/build.js';
import { decodeFrame } from '../../../src/packet/frame.js';
import { emitFrameRepr, parseFrameRepr } from '../../../src/packet/repr.js';
import type { DecodeResult } from '../../../src/packet/result.js';
import type { TcpOption } from '../../../src/packet/tcp.js';
import { tcpOptionLen } from '../../../src/packet/tcp.js';
import { loadFixtures } from './fixtures.js';

export const RUNS = { random: 40_000, mutated: 60_000, built: 15_000, rewrite: 10_000 } as const;

const fixtures = loadFixtures().map((f) => f.bytes);
const LAYERS = new Set(['ethernet', 'ipv4', 'ipv6', 'tcp']);

function checkTyped(r: DecodeResult<unknown>, len: number): void {
  if (r.ok) return;
  const e = r.error;
  expect(LAYERS.has(e.layer)).toBe(true);
  expect(e.code).toMatch(/^[a-z-]+$/);
  expect(Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= len).toBe(true);
  expect(e.message.startsWith(`${e.layer}: `) && e.message.endsWith(`(at byte ${e.offset})`)).toBe(true);
}

/** Decoders never throw, agree with each other, and every parse re-emits the same bytes. */
function checkFrame(buf: Buffer): void {
  const fast = decodeFrame(buf);
  const full = parseFrameRepr(buf);
  checkTyped(fast, buf.length);
  checkTyped(full, buf.length);
  expect(fast.ok).toBe(full.ok);
  if (!fast.ok && !full.ok) expect(fast.error).toEqual(full.error);
  if (full.ok) {
    expect(emitFrameRepr(full.value).equals(buf)).toBe(true);
    if (fast.ok && fast.value.kind === 'tcp') {
      const t = full.value.tcp!;
      const f = fast.value;
      expect([f.srcPort, f.dstPort, f.seq, f.ack, f.flags, f.window]).toEqual([t.srcPort, t.dstPort, t.seq, t.ack, t.flags, t.window]);
      expect(f.payloadLength).toBe(full.value.payload.length);
      f.toSegmentInfo(); // never throws either
    } else if (fast.ok) {
      expect(full.value.tcp).toBeUndefined();
    }
  }
}

// Mutations of a real frame: flip, overwrite, truncate, extend, and writes
// aimed at the length fields and offsets the decoders trust.
const mutation = fc.oneof(
  fc.record({ op: fc.constant('xor' as const), at: fc.nat(), v: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('hot' as const), at: fc.constantFrom(12, 13, 14, 16, 17, 20, 18, 19, 23, 46, 47, 66, 67, 54, 55, 58, 59, 60), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), v: fc.constant(0) }),
  fc.record({ op: fc.constant('extend' as const), at: fc.integer({ min: 1, max: 64 }), v: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(src: Buffer, ms: readonly { op: string; at: number; v: number }[]): Buffer {
  let b = Buffer.from(src);
  for (const m of ms) {
    if (m.op === 'truncate') b = b.subarray(0, b.length ? m.at % (b.length + 1) : 0);
    else if (m.op === 'extend') b = Buffer.concat([b, Buffer.alloc(m.at, m.v)]);
    else if (b.length) {
      const i = m.op === 'hot' ? m.at : m.at % b.length;
      if (i < b.length) b[i] = m.op === 'xor' ? b[i]! ^ m.v : m.v;
    }
  }
  return b;
}

const optionArb: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant({ kind: 'nop' } as const),
  fc.integer({ min: 0, max: 0xffff }).map((value) => ({ kind: 'mss', value }) as const),
  fc.integer({ min: 0, max: 14 }).map((shift) => ({ kind: 'window-scale', shift }) as const),
  fc.constant({ kind: 'sack-permitted' } as const),
  fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), { minLength: 1, maxLength: 3 }).map((blocks) => ({ kind: 'sack', blocks }) as const),
  fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })).map(([tsval, tsecr]) => ({ kind: 'timestamps', tsval, tsecr }) as const),
  fc.tuple(fc.integer({ min: 9, max: 254 }), fc.uint8Array({ maxLength: 6 })).map(([type, data]) => ({ kind: 'unknown', type, data }) as const),
);
const optionsArb = fc.array(optionArb, { maxLength: 8 }).map((os) => {
  const out: TcpOption[] = [];
  let n = 0;
  for (const o of os) if ((n += tcpOptionLen(o)) <= 40) out.push(o);
    else break;
  return out;
});
const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const specArb = fc.record({
  addrs: fc.oneof(fc.tuple(v4, v4), fc.tuple(v6, v6)),
  vlan: fc.option(fc.record({ id: fc.integer({ min: 0, max: 4095 }), pcp: fc.integer({ min: 0, max: 7 }), dei: fc.boolean() }), { nil: undefined }),
  // QinQ's outer tag (used only with vlan): 802.1ad or 802.1Q.
  outerVlan: fc.option(fc.record({ id: fc.integer({ min: 0, max: 4095 }), tpid: fc.constantFrom(0x88a8, 0x8100) }), { nil: undefined }),
  srcPort: fc.integer({ min: 0, max: 0xffff }),
  dstPort: fc.integer({ min: 0, max: 0xffff }),
  seq: fc.nat({ max: 0xffffffff }),
  ack: fc.nat({ max: 0xffffffff }),
  flags: fc.integer({ min: 0, max: 0x1ff }),
  window: fc.integer({ min: 0, max: 0xffff }),
  ttl: fc.integer({ min: 0, max: 255 }),
  options: optionsArb,
  payload: fc.uint8Array({ maxLength: 300 }),
});

describe('properties', () => {
  it(`random bytes (${RUNS.random} runs): value or typed error, never a throw`, () => {
    const framey = fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      // Random bytes behind a plausible Ethernet header, to get past layer 2 often.
      fc.tuple(fc.constantFrom(0x0800, 0x86dd, 0x8100, 0x88a8), fc.uint8Array({ maxLength: 120 })).map(([et, rest]) => {
        const b = Buffer.alloc(14 + rest.length);
        b.writeUInt16BE(et, 12);
        b.set(rest, 14);
        return b;
      }),
    );
    fc.assert(fc.property(framey, (u) => checkFrame(Buffer.from(u))), { numRuns: RUNS.random });
  });

  it(`mutated real frames (${RUNS.mutated} runs): decoders agree, parse→emit is identity`, () => {
    fc.assert(
      fc.property(fc.nat({ max: fixtures.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, ms) => {
        checkFrame(mutate(fixtures[i]!, ms));
      }),
      { numRuns: RUNS.mutated },
    );
  });

  it(`built frames (${RUNS.built} runs): fields read back, checksums verify, re-emit is identity`, () => {
    fc.assert(
      fc.property(specArb, (s) => {
        const { outerVlan, ...rest } = s;
        const buf = buildTcpFrame({ ...rest, ...(s.vlan && outerVlan ? { outerVlan } : {}), src: s.addrs[0], dst: s.addrs[1] });
        const r = decodeFrame(buf);
        if (!r.ok || r.value.kind !== 'tcp') throw new Error('built frame did not decode as tcp');
        const f = r.value;
        expect([f.srcPort, f.dstPort, f.seq, f.ack, f.flags, f.window, f.ttl]).toEqual([s.srcPort, s.dstPort, s.seq, s.ack, s.flags, s.window, s.ttl]);
        expect([f.ipChecksumOk, f.tcpChecksumOk, f.fragment, f.vlanId, f.outerVlanId]).toEqual([true, true, false, s.vlan?.id, s.vlan && outerVlan?.id]);
        expect(Buffer.from(buf.subarray(f.payloadOffset, f.payloadOffset + f.payloadLength)).equals(Buffer.from(s.payload))).toBe(true);
        checkFrame(buf);
      }),
      { numRuns: RUNS.built },
    );
  });

  it(`incremental rewrite (${RUNS.rewrite} runs) equals a full checksum recomputation`, () => {
    const tcpFixtures = fixtures.filter((b) => {
      const r = decodeFrame(b);
      return r.ok && r.value.kind === 'tcp';
    });
    const changesArb = fc.record(
      {
        flags: fc.integer({ min: 0, max: 0x1ff }),
        seq: fc.nat({ max: 0xffffffff }),
        ack: fc.nat({ max: 0xffffffff }),
        window: fc.integer({ min: 0, max: 0xffff }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.nat({ max: tcpFixtures.length - 1 }), changesArb, (i, ch) => {
        const b = Buffer.from(tcpFixtures[i]!);
        const r = decodeFrame(b);
        if (!r.ok || r.value.kind !== 'tcp') throw new Error('fixture not tcp');
        rewriteTcpHeader(b, r.value, ch);
        const p = parseFrameRepr(b);
        if (!p.ok) throw new Error(p.error.message);
        const { checksum, ...noSum } = p.value.tcp!;
        const full = emitFrameRepr({ ...p.value, tcp: noSum });
        expect(full.equals(b)).toBe(true);
        expect(checksum).not.toBe(0xffff);
      }),
      { numRuns: RUNS.rewrite },
    );
  });
});
