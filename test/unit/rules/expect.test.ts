import { describe, expect, it } from 'vitest';
import { allMet, check, formatReport, matchSubsequence, ruleCounts } from '../../../src/rules/expect.js';
import { ExpectSchema } from '../../../src/rules/schema.js';
import type { TcpmitmEvent, StateSource } from '../../../src/engine/events.js';
import type { Endpoint, TcpState } from '../../../src/tcp/state.js';

function states(endpoint: Endpoint, source: StateSource, seq: [TcpState, number][], conn = 1): TcpmitmEvent[] {
  let from: TcpState = 'CLOSED';
  return seq.map(([to, t]) => {
    const e: TcpmitmEvent = { type: 'state', t, conn, endpoint, from, to, source };
    from = to;
    return e;
  });
}
const app = (endpoint: Endpoint, event: string, t: number): TcpmitmEvent => ({ type: 'app', t, endpoint, event });

// A normal four-way close as the inference and a 10 ms kernel poller report it:
// the kernel misses the server's ~1 ms LAST-ACK.
const fourWay: TcpmitmEvent[] = [
  ...states('client', 'inferred', [['SYN-SENT', 0.001], ['ESTAB', 0.002], ['FIN-WAIT-1', 0.01], ['FIN-WAIT-2', 0.05], ['TIME-WAIT', 0.35]]),
  ...states('server', 'inferred', [['SYN-RECV', 0.001], ['ESTAB', 0.002], ['CLOSE-WAIT', 0.01], ['LAST-ACK', 0.35], ['CLOSED', 0.351]]),
  ...states('client', 'kernel', [['ESTAB', 0.01], ['FIN-WAIT-1', 0.02], ['FIN-WAIT-2', 0.06], ['TIME-WAIT', 0.36]]),
  ...states('server', 'kernel', [['ESTAB', 0.01], ['CLOSE-WAIT', 0.02], ['CLOSED', 0.36]]),
].sort((a, b) => a.t - b.t);

const passthrough = ExpectSchema.parse({
  client: { states: ['ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'], within: '5s' },
  server: { states: ['ESTAB', 'CLOSE-WAIT', 'LAST-ACK?', 'CLOSED'], within: '5s' },
});

describe('check', () => {
  it('passes a four-way close on both sources, the kernel allowed to miss LAST-ACK?', () => {
    const r = check(passthrough, fourWay);
    expect(r.map((x) => [x.subject, x.ok])).toEqual([
      ['client states (inferred)', true],
      ['client states (kernel)', true],
      ['server states (inferred)', true],
      ['server states (kernel)', true],
    ]);
    expect(allMet(r)).toBe(true);
    expect(r[0]!.t).toBe(0.36);
  });

  it("'STATE?' is required of the inference: an inference that skips LAST-ACK fails", () => {
    const events = fourWay.filter((e) => !(e.type === 'state' && e.source === 'inferred' && e.to === 'LAST-ACK'));
    const r = check(passthrough, events);
    const bad = r.filter((x) => !x.ok);
    expect(bad.map((x) => x.subject)).toEqual(['server states (inferred)']);
    expect(bad[0]!.expected).toBe('ESTAB → CLOSE-WAIT → LAST-ACK → CLOSED within 5s');
    expect(bad[0]!.observed).toContain('(missing LAST-ACK)');
  });

  it('a required state the kernel missed fails the kernel check only', () => {
    const events = fourWay.filter((e) => !(e.type === 'state' && e.source === 'kernel' && e.to === 'FIN-WAIT-2'));
    const r = check(passthrough, events);
    expect(r.filter((x) => !x.ok).map((x) => x.subject)).toEqual(['client states (kernel)']);
  });

  it('order matters: a subsequence, not a set', () => {
    const x = ExpectSchema.parse({ client: { states: ['TIME-WAIT', 'FIN-WAIT-2'], source: 'inferred' } });
    expect(allMet(check(x, fourWay))).toBe(false);
  });

  it('within: a sequence completed too late fails and says when it completed', () => {
    const x = ExpectSchema.parse({ client: { states: ['ESTAB', 'TIME-WAIT'], within: '300ms', source: 'inferred' } });
    const [r] = check(x, fourWay);
    expect(r!.ok).toBe(false);
    expect(r!.observed).toContain('(complete only at 0.350s)');
    const y = ExpectSchema.parse({ client: { states: ['ESTAB', 'TIME-WAIT'], within: '0.4s', source: 'inferred' } });
    expect(check(y, fourWay)[0]!.ok).toBe(true);
  });

  it('not: a forbidden state fails (the three-way close must skip FIN-WAIT-2)', () => {
    const x = ExpectSchema.parse({ client: { states: ['FIN-WAIT-1', 'TIME-WAIT'], not: ['FIN-WAIT-2'] } });
    const r = check(x, fourWay);
    expect(r.map((e) => [e.subject, e.ok])).toEqual([
      ['client states (inferred)', true],
      ['client never (inferred)', false],
      ['client states (kernel)', true],
      ['client never (kernel)', false],
    ]);
    expect(r[1]!.observed).toMatch(/^FIN-WAIT-2@0\.050s in /);
  });

  it('app events are a subsequence too', () => {
    const events = [...fourWay, app('client', 'connected', 0.002), app('client', 'ECONNRESET', 0.4), app('client', 'exit', 0.41)];
    const ok = ExpectSchema.parse({ client: { app: ['ECONNRESET', 'exit'] } });
    expect(check(ok, events).map((e) => [e.subject, e.ok])).toEqual([['client app', true]]);
    const bad = ExpectSchema.parse({ client: { app: ['EPIPE'] } });
    const [r] = check(bad, events);
    expect(r!.ok).toBe(false);
    expect(r!.observed).toBe('connected@0.002s → ECONNRESET@0.400s → exit@0.410s  (missing EPIPE)');
  });

  it('source selects the stream; conn selects the connection', () => {
    const two = [...fourWay, ...states('client', 'inferred', [['ESTAB', 1], ['CLOSED', 1.1]], 2)];
    const x = ExpectSchema.parse({ client: { states: ['ESTAB', 'CLOSED'], source: 'inferred', conn: 2 } });
    expect(check(x, two).map((e) => [e.subject, e.ok])).toEqual([['client #2 states (inferred)', true]]);
    const y = ExpectSchema.parse({ client: { states: ['ESTAB', 'CLOSED'], source: 'inferred' } });
    expect(check(y, two)[0]!.ok).toBe(false);
  });

  it('without a kernel probe, both checks the inference and reports the kernel half not checked, saying why', () => {
    const noKernel = fourWay.filter((e) => !(e.type === 'state' && e.source === 'kernel'));
    const r = check(passthrough, noKernel, { kernel: '--kernel-probe off' });
    expect(r.map((e) => [e.subject, e.status])).toEqual([
      ['client states (inferred)', 'met'],
      ['client states (kernel)', 'not-checked'],
      ['server states (inferred)', 'met'],
      ['server states (kernel)', 'not-checked'],
    ]);
    expect(r[1]).toMatchObject({ ok: false, observed: 'not checked: --kernel-probe off' });
    // A check not made is neither a pass nor a failure.
    expect(allMet(r)).toBe(true);
    const k = ExpectSchema.parse({ client: { states: ['ESTAB'], source: 'kernel' } });
    expect(check(k, noKernel, { kernel: 'no probe here' })[0]).toMatchObject({ status: 'not-checked', ok: false });
    // With the probe on but silent, the kernel check fails on what it saw: nothing.
    expect(check(k, noKernel)[0]).toMatchObject({ status: 'failed', ok: false, observed: '(nothing)  (missing ESTAB)' });
  });

  it('app events only a built-in peer reports are not checked where a custom command runs', () => {
    const x = ExpectSchema.parse({ client: { app: ['ECONNRESET'] }, server: { app: ['eof', 'EPIPE'] } });
    const events = [app('client', 'output', 0.1), app('client', 'stderr', 0.2)];
    const r = check(x, events, { app: { client: '--client is a custom command' } });
    expect(r.map((e) => [e.subject, e.status, e.observed])).toEqual([
      ['client app', 'not-checked', 'not checked: --client is a custom command'],
      ['server app', 'failed', '(nothing)  (missing eof)'],
    ]);
  });

  describe('exits', () => {
    const exit = (endpoint: Endpoint, t: number, e: { code?: number; signal?: string; by?: 'self' | 'tcpmitm'; notStarted?: string }): TcpmitmEvent => ({
      type: 'exit', t, endpoint, command: `prog-${endpoint}`, by: e.by ?? 'self', ...e,
    });
    const both = { programs: { client: true, server: true } } as const;

    it('every program must exit 0 by itself unless tcpmitm stopped it; a signal it did not send fails', () => {
      const r = check(undefined, [exit('client', 1, { code: 7 }), exit('server', 2, { signal: 'TERM', by: 'tcpmitm' })], both);
      expect(r.map((e) => [e.subject, e.status, e.expected, e.observed])).toEqual([
        ['client exit', 'failed', 'exit 0', 'prog-client: exit 7 at 1.000s'],
        ['server exit', 'met', 'exit 0', 'prog-server: still running at the end of the run: stopped by tcpmitm (SIGTERM) at 2.000s'],
      ]);
      const killed = check(undefined, [exit('client', 1, { signal: 'KILL' })], { programs: { client: true } });
      expect(killed[0]).toMatchObject({ status: 'failed', observed: 'prog-client: killed by SIGKILL at 1.000s' });
      expect(check(undefined, [], { programs: { client: true } })[0]).toMatchObject({ status: 'failed', observed: 'no exit seen' });
    });

    it('the profile may expect a status, any non-zero one, or a signal (a shell reports one as 128+n)', () => {
      const ev = [exit('client', 1, { code: 7 }), exit('server', 2, { code: 137 })];
      const want = (client: object, server: object) => ExpectSchema.parse({ client, server });
      expect(check(want({ exit: 7 }, { signal: 'KILL' }), ev, both).map((e) => e.status)).toEqual(['met', 'met']);
      expect(check(want({ exit: 'nonzero' }, { exit: 'any' }), ev, both).map((e) => e.status)).toEqual(['met', 'met']);
      expect(check(want({ exit: 0 }, { signal: 'TERM' }), ev, both).map((e) => [e.expected, e.status])).toEqual([['exit 0', 'failed'], ['killed by SIGTERM', 'failed']]);
      // Stopped by tcpmitm is not the exit a profile asked for.
      expect(check(want({ exit: 7 }, {}), [exit('client', 1, { signal: 'TERM', by: 'tcpmitm' })], { programs: { client: true } })[0]!.status).toBe('failed');
      expect(() => ExpectSchema.parse({ client: { exit: 1, signal: 'KILL' } })).toThrow(/both exit and signal/);
    });

    it('a program that could not start fails whatever was expected; no program, no check unless asked', () => {
      const r = check(ExpectSchema.parse({ client: { exit: 'any' } }), [exit('client', 0.1, { code: 127, notStarted: 'sh: 1: nope: not found' })], { programs: { client: true } });
      expect(r[0]).toMatchObject({ status: 'failed', observed: 'prog-client: could not start (exit 127): sh: 1: nope: not found' });
      expect(check(undefined, [], { programs: { client: 'attach runs no programs' } })).toEqual([]);
      expect(check(ExpectSchema.parse({ server: { exit: 3 } }), [], { programs: { server: 'attach runs no programs' } })[0]).toMatchObject({
        subject: 'server exit',
        status: 'not-checked',
        observed: 'not checked: attach runs no programs',
      });
    });
  });

  it('no expectations, no results', () => {
    expect(check(undefined, fourWay)).toEqual([]);
  });
});

describe('matchSubsequence with optional items', () => {
  const w = (s: string) => (s.endsWith('?') ? { v: s.slice(0, -1), optional: true } : { v: s, optional: false });
  const seen = (...v: string[]) => v.map((x, i) => ({ v: x, t: i }));
  it('taking an optional item never costs a required one', () => {
    expect(matchSubsequence(['A?', 'B'].map(w), seen('B', 'A', 'B'), true)).toEqual({ ok: true, lastT: 0 });
    expect(matchSubsequence(['A?', 'B', 'A'].map(w), seen('B', 'A'), true)).toEqual({ ok: true, lastT: 1 });
    expect(matchSubsequence(['A?', 'B?'].map(w), seen(), true)).toEqual({ ok: true, lastT: 0 });
    expect(matchSubsequence(['A?', 'B'].map(w), seen('A', 'C'), true)).toEqual({ ok: false, missing: 1 });
    expect(matchSubsequence(['A?', 'B'].map(w), seen('B'), false)).toEqual({ ok: false, missing: 0 });
  });
});

describe('formatReport', () => {
  it('prints expected vs observed per endpoint and source, and how often each rule fired', () => {
    const events: TcpmitmEvent[] = [
      ...fourWay,
      { type: 'segment', t: 0.35, conn: 1, dir: 'c2s', from: 'client', flags: 'A', seq: 102, ack: 302, len: 0, win: 500, role: 'last-ack', verdict: 'drop', rule: 1 },
      { type: 'segment', t: 0.56, conn: 1, dir: 'c2s', from: 'client', flags: 'A', seq: 102, ack: 302, len: 0, win: 500, role: 'last-ack', verdict: 'drop', rule: 1 },
      { type: 'segment', t: 0.77, conn: 1, dir: 'c2s', from: 'client', flags: 'A', seq: 102, ack: 302, len: 0, win: 500, role: 'last-ack', verdict: 'pass' },
    ];
    const x = ExpectSchema.parse({ client: { states: ['FIN-WAIT-1', 'TIME-WAIT'], not: ['FIN-WAIT-2'], source: 'kernel' } });
    const results = check(x, events);
    const text = formatReport(
      { name: 'demo', rules: [{ id: 'drop-last-ack', action: 'drop' }, { match: { role: 'fin', from: 'server' }, action: { delay: { ms: 5 } } }] },
      results,
      ruleCounts(events),
    );
    expect(text).toBe(
      [
        'profile demo: 1 of 2 checks failed',
        '  ok   client states (kernel)',
        '         expected: FIN-WAIT-1 → TIME-WAIT',
        '         observed: ESTAB@0.010s → FIN-WAIT-1@0.020s → FIN-WAIT-2@0.060s → TIME-WAIT@0.360s',
        '  FAIL client never (kernel)',
        '         expected: none of FIN-WAIT-2',
        '         observed: FIN-WAIT-2@0.060s in ESTAB@0.010s → FIN-WAIT-1@0.020s → FIN-WAIT-2@0.060s → TIME-WAIT@0.360s',
        '  rules:',
        '    1. drop-last-ack: drop ×2',
        '    2. delay fin from server: never fired',
      ].join('\n'),
    );
  });
});
