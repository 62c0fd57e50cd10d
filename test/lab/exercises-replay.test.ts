// Exercise 16 (old-duplicate) through the real CLI on real namespaces, as a
// grader runs it: `exercise run 16 --answers FILE --json RESULT`. With the
// right answers the score is full and the exit 0; with wrong ones (in
// Chinese) the score is 0, still exit 0, and the reveal says why. Either way
// the checks are confirmed by the kernel probe (tracepoint): the server's
// TIME-WAIT of the first connection gave way to the reconnect's SYN, the
// client's second connection ran its course, and the exercise's own server
// program read exactly what was sent on each connection (its exit 0). The
// reveal quotes this run's own lines: the replayed segment and the server's
// duplicate ACK right behind it.

import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/lab.js';
import { exerciseRunner, logLines, type ExerciseRun } from '../helpers/exercise-lab.js';

const root = requireRoot();
const runner = exerciseRunner('xrp', 1);
// Two copies at once (two students on one machine), each on a lab of its own.
const pair = exerciseRunner('exgpair', 2);

/** `tcpmitm exercise run 16` with these answers, in `lang`. */
const runExercise = (name: string, answers: string, lang: 'en' | 'zh'): Promise<ExerciseRun> => runner.run('16', name, answers, ['--lang', lang], 90_000);

/** Every check the kernel probe answered was met: the server's first connection and the client's second. */
function expectKernelConfirmed(r: ExerciseRun): void {
  const kernel = r.result.checks.results.filter((c) => c.subject.endsWith('(kernel)'));
  expect(kernel.map((c) => [c.subject, c.status])).toEqual([
    ['client #2 states (kernel)', 'met'],
    ['server states (kernel)', 'met'],
  ]);
  expect(r.result.checks.results.filter((c) => c.status !== 'met')).toEqual([]);
  expect(r.result.checks.confirmed).toBe(true);
}

/** What the kernel did, beyond the checks: the copy went into #2, a duplicate ACK answered it, the server read A×100 and B×50 only. */
function expectTheKernelsAnswer(r: ExerciseRun): void {
  const copies = r.events.filter((e) => e.type === 'segment' && e.verdict === 'replay');
  expect(copies).toHaveLength(1);
  const copy = copies[0]!;
  expect(copy).toMatchObject({ conn: 2, from: 'client', len: 100 });
  // What the reveal says of its ack: the server's new ISN is the TIME-WAIT's snd_nxt + 65537 (tw_isn), so the old
  // ack (the first ISN + 1; snd_nxt was + 2 after the FIN) reads 65538 before it.
  expect(copy.ack).toBe(2 ** 32 - 65538);
  const answer = r.events.find((e) => e.type === 'segment' && e.conn === 2 && e.from === 'server' && e.t >= copy.t)!;
  expect(answer).toMatchObject({ flags: 'A', ack: 51, len: 0 });
  expect(r.events.filter((e) => e.type === 'app' && e.endpoint === 'server' && e.event === 'data').map((e) => e.detail)).toEqual(['100 bytes', '50 bytes']);
  const text = r.result.reveal;
  for (const line of logLines(r, (e) => e.verdict === 'replay' || (e.conn === 2 && e.from === 'server'))) expect(text).toContain(line);
}

describe.skipIf(root.skip)('exercise 16 old-duplicate on real labs', { timeout: 300_000 }, () => {
  afterAll(() => {
    runner.cleanup();
    pair.cleanup();
  });

  it('right answers: full score, exit 0, the kernel confirms, the reveal quotes the replay and the duplicate ACK', async () => {
    const r = await runExercise('ex16-right', 'student: alice\nanswers:\n  new-syn: opens\n  old-segment: dup-ack\n  first-check: paws\n', 'en');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expectKernelConfirmed(r);
    expectTheKernelsAnswer(r);
    expect(r.stdout.endsWith(r.result.reveal)).toBe(true);
    expect(r.result.reveal).toContain('Score: 3 of 3');
    // The first connection's TIME-WAIT, cut short by the SYN, as the kernel saw it.
    expect(r.result.reveal).toMatch(/TIME-WAIT@\d+\.\d+s → CLOSED@\d+\.\d+s/);
  });

  it('wrong answers, in Chinese: no points, exit 0, the reveal says why and quotes the same kind of evidence', async () => {
    const r = await runExercise('ex16-wrong-zh', 'student: 李雷\nanswers:\n  new-syn: waits\n  old-segment: delivers\n  first-check: ack\n', 'zh');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 3 });
    expect(r.result.lang).toBe('zh');
    expectKernelConfirmed(r);
    expectTheKernelsAnswer(r);
    const text = r.result.reveal;
    expect(text).toMatch(/^揭晓 — 练习 16：/);
    expect(text).toContain('TIME-WAIT 防的是旧报文，而不是更新的连接');
    expect(text).toContain('四元组对得上，序号却对不上');
    expect(text).toContain('ACK 字段只有在报文段通过 PAWS 和序列号检查之后才会被查看');
    // The right choices' comments too.
    expect(text).toContain('tcp_timewait_state_process()');
    expect(text).toContain('tcp_validate_incoming()');
  });

  it('two copies at once, on two labs: each reconnects from the port its kernel picked, and both score full, confirmed by the kernel', async () => {
    const right = 'answers:\n  new-syn: opens\n  old-segment: dup-ack\n  first-check: paws\n';
    const [a, b] = await Promise.all([pair.run('16', 'ex16-a', `student: a\n${right}`, [], 90_000), pair.run('16', 'ex16-b', `student: b\n${right}`, [], 90_000)]);
    expect(a.id).not.toBe(b.id);
    // They ran at the same time: each started before the other ended.
    const span = (r: ExerciseRun): [number, number] => [Date.parse(r.result.wall), Date.parse(r.result.wall) + r.ms];
    expect(span(a)[0]).toBeLessThan(span(b)[1]);
    expect(span(b)[0]).toBeLessThan(span(a)[1]);
    const ports = [a, b].map((r) => {
      // Both connections of a run on one 4-tuple: the second came from the port the kernel picked for the first.
      const tuples = r.events.filter((e) => e.type === 'connection').map((e) => `${String(e.client)} → ${String(e.server)}`);
      expect(tuples).toHaveLength(2);
      expect(tuples[1]).toBe(tuples[0]);
      const port = Number(/:(\d+) →/.exec(tuples[0]!)![1]);
      // An ephemeral port (net.ipv4.ip_local_port_range, 32768-60999 by default), not a fixed one.
      expect(port).toBeGreaterThanOrEqual(32768);
      return port;
    });
    // Different 4-tuples: the host-wide tracepoint's transitions are each lab's own.
    expect(ports[0]).not.toBe(ports[1]);
    for (const r of [a, b]) {
      expect(r.code).toBe(0);
      expect(r.result.score).toEqual({ points: 3, of: 3 });
      expectKernelConfirmed(r);
      expectTheKernelsAnswer(r);
      // Exactly its two connections, no socket of the other lab's counted as its own.
      expect([...new Set(r.events.filter((e) => e.type === 'state' && e.source === 'kernel').map((e) => e.conn))].sort()).toEqual([1, 2]);
    }
  });
});
