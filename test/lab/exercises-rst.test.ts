// Exercise 22 (rst-challenge: four forged RSTs at an idle server, RFC 5961 as
// Linux does it) through the real CLI on real namespaces, as
// exercises.test.ts runs the others: right answers (IPv4) score full, wrong
// ones (IPv6, in Chinese) nothing, exit 0 either way, the checks confirmed
// by the tracepoint probe, the reveal quoting this run's lines and the
// server namespace's TcpExt counters. Then the try-next variant,
// tcp_invalid_ratelimit = 0 in the server's namespace: C draws a challenge
// ACK of its own.
//
// What is asserted is what the server's kernel did, from the segments it
// sent (by the stream's order, not by times) and its own counters: A (right
// of the window) nothing, B one challenge ACK, C nothing under the 500 ms
// per-socket limit (TCPACKSkippedChallenge), D the reset and ECONNRESET.

import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/lab.js';
import type { LabEvent } from '../helpers/run-lab.js';
import { exerciseRunner, expectKernelConfirmed as kernelConfirmed, logLines, reveal, type ExerciseRun } from '../helpers/exercise-lab.js';

const root = requireRoot();
// One lab at a time: the RSTs are timed 100 ms apart, a busy machine would only blur them.
const runner = exerciseRunner('xrst', 1);

const RIGHT = 'answers:\n  rst-a: silent\n  rst-b: challenge\n  rst-c: withheld\n  challenge-acks: 1\n  rst-d: econnreset\n';
const WRONG = 'answers:\n  rst-a: challenge\n  rst-b: reset\n  rst-c: challenge\n  challenge-acks: 3\n  rst-d: withheld\n';

/** Confirmed by the kernel, and no check failed at all (the server program's exit 0 says its recv() got ECONNRESET). */
function expectKernelConfirmed(r: ExerciseRun): void {
  kernelConfirmed(r);
  expect(r.result.checks.results.filter((c) => c.status !== 'met')).toEqual([]);
}

const appEvents = (r: ExerciseRun, endpoint: string): string[] => r.events.filter((e) => e.type === 'app' && e.endpoint === endpoint).map((e) => String(e.event));

/**
 * What the server's kernel did with A, B, C and D, with `challenges` challenge
 * ACKs (1 under the 500 ms limit, 2 without it) and the pinned sysctls.
 */
function expectRstChallenge(r: ExerciseRun, ratelimit: string, challenges: 1 | 2): void {
  const start = r.events.find((e) => e.type === 'start')!;
  expect(start.sysctls).toMatchObject({ server: { 'net.ipv4.tcp_invalid_ratelimit': ratelimit, 'net.ipv4.tcp_challenge_ack_limit': '2147483647' } });
  // The four RSTs, rules 1–4 in order, at the server's rcv_nxt + 1000000, + 1, + 2 and + 0 (mod 2^32).
  const forged = r.events.filter((e) => e.type === 'segment' && e.verdict === 'forged');
  expect(forged.map((e) => `${String(e.from)} ${String(e.flags)} rule ${String(e.rule)}`)).toEqual(['client RA rule 1', 'client RA rule 2', 'client RA rule 3', 'client RA rule 4']);
  const seqs = r.events.filter((e) => e.type === 'action' && e.action === 'rst').map((e) => Number(/seq=(\d+)/.exec(String(e.detail))![1]));
  const exact = seqs[3]!;
  expect(seqs).toEqual([(exact + 1_000_000) >>> 0, (exact + 1) >>> 0, (exact + 2) >>> 0, exact]);
  // Everything the server sent, and what each forged RST was followed by: by the stream's order.
  const fromServer = r.events.filter((e) => e.type === 'segment' && e.from === 'server');
  expect(fromServer.map((e) => e.role)).toEqual(['syn-ack', ...Array<string>(challenges).fill('ack'), 'rst']);
  const next = (ev: LabEvent): LabEvent | undefined => r.events.slice(r.events.indexOf(ev) + 1).find((e) => e.type === 'segment');
  const [a, b, c, d] = forged;
  // A: nothing in answer, B comes next. B: the challenge ACK, a pure ACK of what the server has received (nothing: ack 1).
  expect(next(a!)).toBe(b);
  const challenge = next(b!)!;
  expect(challenge).toMatchObject({ from: 'server', flags: 'A', ack: 1, len: 0, role: 'ack' });
  expect(challenge.t - b!.t).toBeLessThan(0.05);
  // C: withheld under the limit (D comes next), or answered without it.
  if (challenges === 1) expect(next(c!)).toBe(d);
  else expect(next(c!)).toMatchObject({ from: 'server', flags: 'A', ack: 1, role: 'ack' });
  // D: the reset, at once, in the kernel's view and the inference; never CLOSE-WAIT.
  for (const source of ['kernel', 'inferred']) {
    const states = r.events.filter((e) => e.type === 'state' && e.endpoint === 'server' && e.source === source);
    expect(states.map((e) => e.to).slice(-2)).toEqual(['ESTAB', 'CLOSED']);
    expect(states.at(-1)!.t).toBeGreaterThanOrEqual(d!.t - 0.002);
    expect(states.at(-1)!.t - d!.t).toBeLessThan(0.02);
  }
  // The program's own words: its recv() raised ECONNRESET; the namespace's counters before and after.
  expect(appEvents(r, 'server')).toEqual([
    'listening',
    'accepted',
    'before:TCPChallengeACK=0,TCPACKSkippedChallenge=0',
    'ECONNRESET',
    `after:TCPChallengeACK=${challenges},TCPACKSkippedChallenge=${2 - challenges}`,
  ]);
  // The count is measured on the run, from the segments.
  expect(r.result.predictions[3]!.measured).toBe(challenges);
}

/** The lab ran on 2001:2::/48. */
function expectIpv6(r: ExerciseRun): void {
  const conn = r.events.find((e) => e.type === 'connection')!;
  expect([conn.client, conn.server]).toEqual([expect.stringMatching(/^\[2001:2::1\]:\d+$/), '[2001:2::2]:8080']);
}

/** The reveal quotes this run: the forged RSTs (segments and actions), the server's answers, its counters and ECONNRESET. */
function expectQuoted(r: ExerciseRun): void {
  const text = reveal(r);
  const quoted = [
    ...logLines(r, (e) => e.verdict === 'forged' || (e.from === 'server' && (e.role === 'ack' || e.role === 'rst'))),
    ...logLines(r, (e) => e.type === 'action' && e.action === 'rst', true),
  ];
  expect(quoted.length).toBeGreaterThanOrEqual(10);
  for (const line of quoted) expect(text).toContain(line);
  expect(text).toMatch(/before:TCPChallengeACK=0,TCPACKSkippedChallenge=0@\d+\.\d{3}s → ECONNRESET@\d+\.\d{3}s → after:TCPChallengeACK=\d,TCPACKSkippedChallenge=\d@\d+\.\d{3}s/);
  expect(text).toMatch(/ESTAB@\d+\.\d{3}s → CLOSED@\d+\.\d{3}s/);
}

describe.skipIf(root.skip)('exercise 22 (rst-challenge) on real labs', { timeout: 120_000 }, () => {
  afterAll(() => runner.cleanup());

  it('22 rst-challenge, right answers: full score; A unanswered, one challenge ACK for B, C withheld, D resets', async () => {
    const r = await runner.run('22', 'ex22-right', RIGHT);
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 5, of: 5 });
    expectKernelConfirmed(r);
    expectRstChallenge(r, '500', 1);
    expectQuoted(r);
    const text = reveal(r);
    expect(text).toContain('Score: 5 of 5');
    expect(text).toContain('On this run: 1, counted from the segments the server sent:');
    expect(text).toContain('tcpmitm exercise run rst-challenge --try 1 (--sysctl server:net.ipv4.tcp_invalid_ratelimit=0)');
  });

  it('22 rst-challenge, wrong answers in Chinese, over IPv6: no points, exit 0, the reveal says why', async () => {
    const r = await runner.run('rst-challenge', 'ex22-wrong-zh', WRONG, ['--lang', 'zh', '--ipv6']);
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 5 });
    expectKernelConfirmed(r);
    expectIpv6(r);
    expectRstChallenge(r, '500', 1);
    expectQuoted(r);
    const text = reveal(r);
    expect(text).toMatch(/^揭晓 — 练习 22：/);
    expect(text).toContain(' — 错误');
    // The comment on the choice made, and on the right one.
    expect(text).toContain('challenge: 挑战 ACK 是给窗口内的 RST（B）的。');
    expect(text).toContain('silent: 正确。窗口之外的报文段通不过第一项检查');
    expect(text).toContain('reset: 那是 RFC 793 的规则');
    expect(text).toContain('challenge: 如果晚 500 ms，或者 tcp_invalid_ratelimit = 0');
    expect(text).toContain('withheld: 正确。在发出挑战 ACK 之前');
    expect(text).toContain('withheld: 限流扣下的是挑战 ACK，而不是重置。');
    expect(text).toContain('本次运行：1 个，数的是服务器发出的报文段：');
  });

  it('22 rst-challenge --try 1 (tcp_invalid_ratelimit = 0): C draws a challenge ACK of its own, two in all, scored with the variant\'s key', async () => {
    const variantRight = RIGHT.replace('rst-c: withheld', 'rst-c: challenge').replace('challenge-acks: 1', 'challenge-acks: 2');
    const r = await runner.run('22', 'ex22-ratelimit-0', variantRight, ['--try', '1']);
    expect(r.code).toBe(0);
    expectKernelConfirmed(r);
    expectRstChallenge(r, '0', 2);
    expectQuoted(r);
    expect(r.result.variant?.number).toBe(1);
    expect(r.result.predictions.map((p) => p.correct)).toEqual([true, true, true, true, true]);
    expect(reveal(r)).toContain('On this run: 2, counted from the segments the server sent:');
    expect(reveal(r)).toContain('TCPACKSkippedChallenge stays 0: nothing withheld');
  });
});
