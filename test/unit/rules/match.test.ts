import { describe, expect, it } from 'vitest';
import { compileProfile, mulberry32, parseFlags, RuleSet, toPlan, type MatchContext } from '../../../src/rules/match.js';
import { ProfileSchema, type Rule } from '../../../src/rules/schema.js';
import { TcpFlag } from '../../../src/tcp/segment.js';
import { loadProfile } from '../../../src/rules/load.js';

const F = TcpFlag;
const base: MatchContext = {
  conn: 1,
  from: 'client',
  role: 'data',
  flags: F.ACK | F.PSH,
  senderState: 'ESTAB',
  receiverState: 'ESTAB',
  srcPort: 43210,
  dstPort: 8080,
  payloadLength: 100,
  senderBytes: 100,
};
const ctx = (over: Partial<MatchContext>): MatchContext => ({ ...base, ...over });

function rules(...rs: unknown[]): RuleSet {
  const p = ProfileSchema.parse({ name: 't', description: 'd', rules: rs });
  return compileProfile(p);
}

describe('RuleSet.decide', () => {
  it('passes with no rule index when nothing matches', () => {
    const d = rules({ match: { role: 'fin' }, action: 'drop' }).decide(base);
    expect(d.rule).toBeUndefined();
    expect(d.plan).toEqual({ kind: 'pass' });
  });

  it('first matching rule wins, with its 1-based index and label', () => {
    const rs = rules(
      { match: { role: 'syn' }, action: 'drop' },
      { id: 'slow', match: { from: 'client' }, action: { delay: { ms: 200 } } },
      { match: { from: 'client' }, action: 'drop' },
    );
    const d = rs.decide(base);
    expect(d.rule).toBe(2);
    expect(d.label).toBe('slow');
    expect(d.plan).toEqual({ kind: 'delay', ms: 200, reorder: false });
  });

  it("flags 'FIN,!RST' need FIN set and RST clear", () => {
    const rs = rules({ match: { flags: 'FIN,!RST' }, action: 'drop' });
    expect(rs.decide(ctx({ flags: F.FIN | F.ACK })).rule).toBe(1);
    expect(rs.decide(ctx({ flags: F.FIN })).rule).toBe(1);
    expect(rs.decide(ctx({ flags: F.FIN | F.RST })).rule).toBeUndefined();
    expect(rs.decide(ctx({ flags: F.ACK })).rule).toBeUndefined();
    expect(parseFlags('ACK,!SYN,!FIN')).toEqual({ set: F.ACK, clear: F.SYN | F.FIN });
  });

  it('roles, sender and receiver states accept one value or a list', () => {
    const rs = rules(
      { match: { role: ['fin', 'fin-ack'], senderState: 'FIN-WAIT-1' }, action: 'drop' },
      { match: { from: 'client', receiverState: ['LAST-ACK', 'CLOSING'] }, action: 'duplicate' },
    );
    expect(rs.decide(ctx({ role: 'fin-ack', senderState: 'FIN-WAIT-1' })).rule).toBe(1);
    expect(rs.decide(ctx({ role: 'fin', senderState: 'LAST-ACK' })).rule).toBeUndefined();
    expect(rs.decide(ctx({ role: 'last-ack', receiverState: 'LAST-ACK' })).rule).toBe(2);
    expect(rs.decide(ctx({ from: 'server', role: 'last-ack', receiverState: 'LAST-ACK' })).rule).toBeUndefined();
  });

  it('port matches either end; conn picks the nth connection', () => {
    const rs = rules({ match: { port: 8080, conn: 2 }, action: 'drop' });
    expect(rs.decide(ctx({ conn: 2 })).rule).toBe(1);
    expect(rs.decide(ctx({ conn: 2, srcPort: 8080, dstPort: 43210 })).rule).toBe(1);
    expect(rs.decide(ctx({ conn: 1 })).rule).toBeUndefined();
    expect(rs.decide(ctx({ conn: 2, srcPort: 1, dstPort: 2 })).rule).toBeUndefined();
  });

  it('afterBytes matches only once the sender has sent at least N payload bytes', () => {
    const rs = rules({ match: { from: 'client', afterBytes: 1000 }, action: { rst: { to: 'server' } } });
    expect(rs.decide(ctx({ senderBytes: 999 })).rule).toBeUndefined();
    expect(rs.decide(ctx({ senderBytes: 1000 })).rule).toBe(1);
    expect(rs.decide(ctx({ from: 'server', senderBytes: 5000 })).rule).toBeUndefined();
  });

  it('times and after count matches per connection per rule; an exhausted rule falls through', () => {
    const rs = rules({ match: { role: 'data' }, action: 'drop', after: 1, times: 2 }, { action: 'duplicate' });
    const seq = (conn: number) => [1, 2, 3, 4].map(() => rs.decide(ctx({ conn })).rule);
    expect(seq(1)).toEqual([2, 1, 1, 2]);
    // Connection 2 has its own counters.
    expect(seq(2)).toEqual([2, 1, 1, 2]);
    expect(rs.matches(1, 1)).toBe(4);
    rs.forget(1);
    expect(rs.matches(1, 1)).toBe(0);
    expect(seq(1)).toEqual([2, 1, 1, 2]);
  });

  it("times: 'all' never runs out", () => {
    const rs = rules({ action: 'drop', times: 'all' });
    for (let i = 0; i < 1000; i++) expect(rs.decide(base).rule).toBe(1);
  });

  it('probability uses the seeded rng: same seed, same decisions; different seed, different ones', () => {
    const profile = ProfileSchema.parse({ name: 't', description: 'd', seed: 42, rules: [{ action: 'drop', probability: 0.3 }] });
    const run = (seed?: number) => {
      const rs = compileProfile(seed === undefined ? profile : { ...profile, seed });
      return Array.from({ length: 200 }, () => rs.decide(base).rule ?? 0).join('');
    };
    expect(run()).toBe(run());
    expect(run()).not.toBe(run(43));
    const hits = [...run()].filter((c) => c === '1').length;
    expect(hits).toBeGreaterThan(35);
    expect(hits).toBeLessThan(85);
  });

  it('probability 0 never acts; an injected rng overrides the seeded one', () => {
    const rs = rules({ action: 'drop', probability: 0 }, { action: 'hold', probability: 0.5 });
    expect(rs.decide(base, () => 0.49).rule).toBe(2);
    expect(rs.decide(base, () => 0.5).rule).toBeUndefined();
  });

  it('counts matches before the probability roll', () => {
    const rs = rules({ action: 'drop', times: 2, probability: 0.5 });
    const rolls = [0.9, 0.1, 0.1];
    const out = rolls.map((r) => rs.decide(base, () => r).rule);
    // Match 1: rolled out; match 2: acts; match 3: beyond times.
    expect(out).toEqual([undefined, 1, undefined]);
  });

  it('mulberry32 is deterministic and in [0, 1)', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    for (let i = 0; i < 1000; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x >= 0 && x < 1).toBe(true);
    }
  });

  it('returns the same frozen decision object each time (no allocation per segment)', () => {
    const rs = rules({ match: { role: 'data' }, action: 'drop' });
    expect(rs.decide(base)).toBe(rs.decide(base));
    expect(Object.isFrozen(rs.decide(base))).toBe(true);
    expect(rules().decide(base)).toBe(rules({ match: { role: 'fin' }, action: 'drop' }).decide(base));
  });

  it('evaluates ten non-matching rules per segment quickly', () => {
    const ten = Array.from({ length: 10 }, (_, i) => ({ match: { role: 'fin', senderState: 'LAST-ACK', port: 1000 + i }, action: 'drop' }));
    const rs = rules(...ten);
    const n = 1_000_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) rs.decide(base);
    const perSegNs = ((performance.now() - t0) * 1e6) / n;
    // Generous bound so a loaded CI machine passes; typically ~20–40 ns.
    expect(perSegNs).toBeLessThan(2000);
  });
});

describe('toPlan: the engine form of each action', () => {
  const cases: [Rule['action'], unknown][] = [
    ['pass', { kind: 'pass' }],
    ['drop', { kind: 'drop' }],
    ['duplicate', { kind: 'duplicate' }],
    ['hold', { kind: 'hold' }],
    ['blackhole', { kind: 'blackhole' }],
    [{ delay: { ms: 200, reorder: true } }, { kind: 'delay', ms: 200, reorder: true }],
    [{ delay: { ms: 0 } }, { kind: 'delay', ms: 0, reorder: false }],
    [{ rst: { to: 'server' } }, { kind: 'rst', to: 'server', instead: false, seqOffset: 0 }],
    [{ rst: { to: 'both', instead: true, seqOffset: -1 } }, { kind: 'rst', to: 'both', instead: true, seqOffset: -1 }],
    [{ coalesce: { window_ms: 500 } }, { kind: 'coalesce', windowMs: 500 }],
    [{ await: { until: 'peer-fin', timeout_ms: 3000 } }, { kind: 'await-peer-fin', timeoutMs: 3000 }],
  ];
  it.each(cases)('%j', (action, plan) => {
    expect(toPlan(action)).toEqual(plan);
  });
});

describe('built-in profiles decide as their comments say', () => {
  it('drop-last-ack --set times=2 drops two of the client\'s pure ACKs to a LAST-ACK server, then passes', () => {
    const rs = compileProfile(loadProfile('drop-last-ack', { times: '2' }));
    const ack = ctx({ role: 'last-ack', flags: F.ACK, senderState: 'TIME-WAIT', receiverState: 'LAST-ACK', payloadLength: 0 });
    expect([1, 2, 3].map(() => rs.decide(ack).plan.kind)).toEqual(['drop', 'drop', 'pass']);
    // The server's FIN retransmission is not touched.
    expect(rs.decide(ctx({ from: 'server', role: 'retransmission', flags: F.FIN | F.ACK, senderState: 'LAST-ACK', receiverState: 'TIME-WAIT' })).plan.kind).toBe('pass');
  });

  it('coalesce-fin-ack holds the server\'s ACK of the client\'s FIN, not another ACK, not its FIN', () => {
    const rs = compileProfile(loadProfile('coalesce-fin-ack'));
    const ackOfFin = ctx({ from: 'server', role: 'ack-of-fin', flags: F.ACK, senderState: 'CLOSE-WAIT', receiverState: 'FIN-WAIT-1', payloadLength: 0 });
    expect(rs.decide(ackOfFin).plan).toEqual({ kind: 'coalesce', windowMs: 500 });
    // An ACK of the client's data that the server sends in CLOSE-WAIT is not the ACK of the FIN.
    expect(rs.decide({ ...ackOfFin, role: 'ack' }).plan.kind).toBe('pass');
    expect(rs.decide({ ...ackOfFin, role: 'fin', flags: F.FIN | F.ACK, senderState: 'LAST-ACK' }).plan.kind).toBe('pass');
  });

  it("simultaneous-close awaits the client's first FIN, drops its retransmissions until the server saw a FIN, passes the server's", () => {
    const rs = compileProfile(loadProfile('simultaneous-close'));
    const fin = ctx({ role: 'fin', flags: F.FIN | F.ACK, senderState: 'FIN-WAIT-1', receiverState: 'ESTAB' });
    expect(rs.decide(fin).plan).toEqual({ kind: 'await-peer-fin', timeoutMs: 5000 });
    expect(rs.decide({ ...fin, role: 'retransmission' }).plan.kind).toBe('drop');
    expect(rs.decide({ ...fin, from: 'server', receiverState: 'FIN-WAIT-1' }).plan.kind).toBe('pass');
    expect(rs.decide({ ...fin, role: 'retransmission', receiverState: 'CLOSING' }).plan.kind).toBe('pass');
  });
});
