import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ObservationDecoder, ObservationEncoder } from '../../../src/io/kernel-observation-codec.js';
import type { KernelObservation } from '../../../src/engine/kernel-join.js';
import { TCP_STATES } from '../../../src/tcp/state.js';

const C = '198.18.0.1:40000';
const S = '198.18.0.2:8080';

/**
 * Decodes reads in order, as the forwarding thread does, shifting times by
 * `offset`; each observation's `tuple` is checked to be "local|remote" and
 * then left out, so the rest compares with what was encoded.
 */
function decodeAll(reads: ReturnType<ObservationEncoder['encode']>[], offset = 0): KernelObservation[] {
  const d = new ObservationDecoder();
  const out: KernelObservation[] = [];
  for (const r of reads) {
    d.define(r.defs);
    for (let i = 0; i < d.count(r.values); i++) {
      const { tuple, ...o } = d.observation(r.values, i, offset);
      expect(tuple).toBe(`${o.local}|${o.remote}`);
      out.push(o);
    }
  }
  return out;
}

describe('kernel observation codec', () => {
  it('a tuple travels once; later observations of its socket are numbers only; times are moved by the offset', () => {
    const e = new ObservationEncoder();
    const first = e.encode([{ ns: 'client', local: C, remote: S, from: 'CLOSED', to: 'SYN-SENT', t: 1 }]);
    const second = e.encode([
      { ns: 'client', local: C, remote: S, from: 'SYN-SENT', to: 'ESTAB', t: 1.5 },
      { ns: 'client', local: C, remote: S, from: 'FIN-WAIT-2', to: 'FIN-WAIT-2', t: 2, since: 1.9, orphan: true },
    ]);
    expect(first.defs).toEqual([0, 0, C, S]);
    expect(second.defs).toEqual([]);
    expect(decodeAll([first, second], 10)).toEqual([
      { ns: 'client', local: C, remote: S, from: 'CLOSED', to: 'SYN-SENT', t: 11 },
      { ns: 'client', local: C, remote: S, from: 'SYN-SENT', to: 'ESTAB', t: 11.5 },
      { ns: 'client', local: C, remote: S, from: 'FIN-WAIT-2', to: 'FIN-WAIT-2', t: 12, since: 11.9, orphan: true },
    ]);
  });

  it("an ended socket's number is reused only from the next read on, so each read decodes with its own tuples", () => {
    const e = new ObservationEncoder();
    const other = '198.18.0.1:40001';
    const r1 = e.encode([
      { ns: 'client', local: C, remote: S, from: 'LAST-ACK', to: 'CLOSED', t: 1 },
      { ns: 'client', local: other, remote: S, from: 'CLOSED', to: 'SYN-SENT', t: 1 },
    ]);
    expect(r1.defs).toEqual([0, 0, C, S, 1, 0, other, S]);
    const third = '198.18.0.1:40002';
    const r2 = e.encode([{ ns: 'server', local: S, remote: third, from: 'LISTEN', to: 'SYN-RECV', t: 2 }]);
    expect(r2.defs).toEqual([0, 1, S, third]);
    expect(decodeAll([r1, r2]).map((o) => `${o.ns} ${o.local} ${o.to}`)).toEqual([`client ${C} CLOSED`, `client ${other} SYN-SENT`, `server ${S} SYN-RECV`]);
    expect(e.size).toBe(2);
  });

  it('round-trips any sequence of reads exactly, and numbers only the sockets not yet CLOSED', () => {
    const state = fc.constantFrom(...TCP_STATES);
    const obs = fc.record({
      ns: fc.constantFrom('client' as const, 'server' as const),
      local: fc.constantFrom(C, '198.18.0.1:40001', '[2001:2::1]:40002'),
      remote: fc.constantFrom(S, '[2001:2::2]:8080'),
      from: state,
      to: state,
      t: fc.double({ min: 0, max: 1e6, noNaN: true }),
      since: fc.option(fc.double({ min: 0, max: 1e6, noNaN: true }), { nil: undefined }),
      orphan: fc.option(fc.constant(true), { nil: undefined }),
    }).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as KernelObservation);
    fc.assert(
      fc.property(fc.array(fc.array(obs, { maxLength: 8 }), { maxLength: 8 }), (reads) => {
        const e = new ObservationEncoder();
        const encoded = reads.map((r) => e.encode(r));
        expect(decodeAll(encoded)).toEqual(reads.flat());
        expect(e.size).toBeLessThanOrEqual(12);
      }),
    );
  });
});
