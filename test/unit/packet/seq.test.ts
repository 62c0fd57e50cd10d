// Laws of the sequence-number arithmetic in src/packet/seq.ts (RFC 1982
// serial arithmetic, as gVisor's seqnum), checked with fast-check across the
// 2^32 wrap. 10,000 runs in total (5 properties x 2,000).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Seq, seq, seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt } from '../../../src/packet/seq.js';

export const SEQ_RUNS = 2_000;
const s = fc.nat({ max: 0xffffffff }).map(seq);
// Distances whose comparison is defined: |d| < 2^31.
const d = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 });

describe('Seq laws', () => {
  it('add and diff are inverse, modulo 2^32', () => {
    fc.assert(
      fc.property(s, d, (a, n) => {
        const b = seqAdd(a, n);
        expect(b >= 0 && b < 2 ** 32).toBe(true);
        expect(seqDiff(a, b)).toBe(n);
        expect(seqAdd(b, -n)).toBe(a);
      }),
      { numRuns: SEQ_RUNS },
    );
  });
  it('a + n > a exactly when 0 < n < 2^31 (wrap-around included)', () => {
    fc.assert(
      fc.property(s, d, (a, n) => {
        const b = seqAdd(a, n);
        expect(seqGt(b, a)).toBe(n > 0);
        expect(seqLt(b, a)).toBe(n < 0);
        expect(seqGe(b, a)).toBe(n >= 0);
        expect(seqLe(b, a)).toBe(n <= 0);
      }),
      { numRuns: SEQ_RUNS },
    );
  });
  it('comparisons are antisymmetric and total for |a - b| != 2^31', () => {
    fc.assert(
      fc.property(s, s, (a, b) => {
        fc.pre(((a - b) >>> 0) !== 2 ** 31);
        expect(seqLt(a, b)).toBe(seqGt(b, a));
        expect(seqLt(a, b) && seqLt(b, a)).toBe(false);
        expect([seqLt(a, b), a === b, seqGt(a, b)].filter(Boolean)).toHaveLength(1);
      }),
      { numRuns: SEQ_RUNS },
    );
  });
  it('order is transitive along a short walk', () => {
    fc.assert(
      fc.property(s, fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 2 ** 30 }), (a, x, y) => {
        const b = seqAdd(a, x);
        const c = seqAdd(b, y);
        expect(seqLt(a, b) && seqLt(b, c) && seqLt(a, c)).toBe(true);
      }),
      { numRuns: SEQ_RUNS },
    );
  });
  it('inWindow(start + k, start, size) iff k < size', () => {
    fc.assert(
      fc.property(s, fc.nat({ max: 2 ** 31 }), fc.nat({ max: 2 ** 31 }), (start, k, size) => {
        expect(seqInWindow(seqAdd(start, k), start, size)).toBe(k < size);
      }),
      { numRuns: SEQ_RUNS },
    );
  });
  it('wraps at 2^32 as Linux does (before() in include/net/tcp.h)', () => {
    const max = seq(0xffffffff) as Seq;
    expect(seqAdd(max, 1)).toBe(0);
    expect(seqLt(max, seq(0))).toBe(true);
    expect(seqDiff(max, seq(5))).toBe(6);
    expect(seqInWindow(seq(3), max, 10)).toBe(true);
    expect(seqInWindow(max, seq(3), 10)).toBe(false);
  });
});
