// Exercises 14 (killed-on-cue: a signal rule kills the server as the
// client's request arrives) and 15 (sigpipe: a time-triggered RST, then a
// writer that keeps SIGPIPE's default action dies of it at its second write)
// through the real CLI on real namespaces, as exercises.test.ts runs the
// others: right answers score full, wrong ones nothing (exit 0, the reveal
// says why), the checks confirmed by the tracepoint probe, the reveal
// quoting this run's own log lines.

import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/lab.js';
import type { LabEvent } from '../helpers/run-lab.js';
import { exerciseRunner, expectKernelConfirmed as kernelConfirmed, logLines as lines, reveal, type ExerciseRun } from '../helpers/exercise-lab.js';

const root = requireRoot();
const runner = exerciseRunner('xcue', 1);
const runExercise = runner.run;

/** Confirmed by the kernel, and no check failed at all (the signal checks included). */
function expectKernelConfirmed(r: ExerciseRun): void {
  kernelConfirmed(r);
  expect(r.result.checks.results.filter((c) => c.status === 'failed')).toEqual([]);
}

/** Log lines of any event kind (actions too) that `pred` picks. */
const logLines = (r: ExerciseRun, pred: (e: LabEvent) => boolean): string[] => lines(r, pred, true);

const check = (r: ExerciseRun, subject: string) => r.result.checks.results.find((c) => c.subject === subject);

describe.skipIf(root.skip)('exercises 14 and 15 (cues) on real labs', { timeout: 180_000 }, () => {
  afterAll(() => runner.cleanup());

  it('14 killed-on-cue, right answers: full score; the kill on cue, the FIN, the held request, the RST, all quoted', async () => {
    const r = await runExercise('14', 'ex14-right', 'answers:\n  first-to-client: fin\n  request-meets: rst\n  server-order: [ESTAB, FIN-WAIT-1, CLOSED]\n');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expectKernelConfirmed(r);
    // The server's death is the rule's, and `signal: KILL` checks it.
    expect(check(r, 'server exit')).toMatchObject({ status: 'met', expected: 'killed by SIGKILL' });
    expect(r.events.find((e) => e.type === 'exit' && e.endpoint === 'server')).toMatchObject({ by: 'cue', rule: 1, signal: 'KILL' });
    const text = reveal(r);
    const quoted = logLines(
      r,
      (e) =>
        (e.type === 'action' && (e.action === 'signal' || e.action === 'release')) ||
        (e.type === 'segment' && e.from === 'server' && /[FR]/.test(String(e.flags))) ||
        (e.type === 'segment' && e.from === 'client' && e.role === 'data'),
    );
    expect(quoted.length).toBeGreaterThanOrEqual(5);
    for (const line of quoted) expect(text).toContain(line);
    expect(text).toContain('killed by SIGKILL, sent by tcpmitm on rule 1 (a signal rule)');
  });

  it('14 killed-on-cue, wrong answers in Chinese: 0 points, exit 0, the reveal says why', async () => {
    const r = await runExercise('killed-on-cue', 'ex14-wrong-zh', 'answers:\n  first-to-client: nothing\n  request-meets: ack\n  server-order: [ESTAB, CLOSED, FIN-WAIT-1]\n', ['--lang', 'zh']);
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 3 });
    expectKernelConfirmed(r);
    const text = reveal(r);
    expect(text).toContain(' — 错误');
    expect(text).toContain('发送的不是进程，而是它的内核');
    expect(text).toContain('正确。无论进程怎样死去');
  });

  it('14 killed-on-cue over IPv6 (--ipv6): the same verdicts, the connection on 2001:2::/48 (the programs are told the server address)', async () => {
    const r = await runExercise('14', 'ex14-v6', 'answers:\n  first-to-client: fin\n  request-meets: rst\n  server-order: [ESTAB, FIN-WAIT-1, CLOSED]\n', ['--ipv6']);
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expectKernelConfirmed(r);
    const conn = r.events.find((e) => e.type === 'connection')!;
    expect([conn.client, conn.server]).toEqual([expect.stringMatching(/^\[2001:2::1\]:\d+$/), '[2001:2::2]:8080']);
  });

  it('15 sigpipe, right answers: full score; ECONNRESET at the first write after the RST, killed by SIGPIPE at the next', async () => {
    const r = await runExercise('15', 'ex15-right', 'answers:\n  first-write: econnreset\n  next-write: killed\n  segments-after: 0\n');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expectKernelConfirmed(r);
    expect(check(r, 'client exit')).toMatchObject({ status: 'met', expected: 'killed by SIGPIPE' });
    // Killed by the kernel's SIGPIPE (by itself, not by tcpmitm), after exactly one ECONNRESET.
    expect(r.events.find((e) => e.type === 'exit' && e.endpoint === 'client')).toMatchObject({ by: 'self', signal: 'PIPE' });
    const app = r.events.filter((e) => e.type === 'app' && e.endpoint === 'client').map((e) => String(e.event));
    expect(app.filter((e) => e === 'ECONNRESET')).toHaveLength(1);
    expect(app.at(-1)).toBe('ECONNRESET');
    // Nothing the client wrote after the RST reached the wire.
    const rst = r.events.findIndex((e) => e.type === 'segment' && e.verdict === 'forged');
    expect(r.events.slice(rst).filter((e) => e.type === 'segment' && e.from === 'client' && e.verdict === 'pass')).toEqual([]);
    const text = reveal(r);
    for (const line of logLines(r, (e) => (e.type === 'segment' && String(e.flags).includes('R')) || (e.type === 'action' && e.action === 'rst'))) expect(text).toContain(line);
    expect(text).toMatch(/killed by SIGPIPE at \d+\.\d{3}s/);
  });

  it('15 sigpipe, wrong answers: 0 points, exit 0, the reveal says why', async () => {
    const r = await runExercise('sigpipe', 'ex15-wrong', 'answers:\n  first-write: sigpipe\n  next-write: epipe\n  segments-after: 2\n');
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 3 });
    expectKernelConfirmed(r);
    const text = reveal(r);
    expect(text).toContain('sigpipe: Not yet: a write that finds a pending error reports that error');
    expect(text).toContain('epipe: That is what Node and Python programs see, because they ignore SIGPIPE');
    expect(text).toContain('your answer: 2 segments — wrong');
  });
});
