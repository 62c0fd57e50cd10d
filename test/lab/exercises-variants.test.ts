// Try-next variants through the real CLI on real namespaces, as a grader runs
// them: `exercise run N --try K --answers FILE --json RESULT`. The variant runs
// with its own parameters and sysctls and is scored with its own key: the
// variant's right answers score full and its checks are confirmed by the
// kernel; the exercise's own right answers, on the variant, score what the
// variant's kernel says of them. The result records which variant ran, and
// `exercise grade --csv` keeps it in a column of its own.
//
//   12 time-wait-assassination --try 1 (tcp_rfc1337=1 at the client): the RST is ignored, the client stays in
//      TIME-WAIT and re-ACKs the server's next FIN, and the server closes on that ACK.
//   16 old-duplicate --try 1 (tcp_timestamps=0 at both ends): no PAWS, the sequence check rejects the old segment.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../helpers/lab.js';
import { runCli } from '../helpers/run-lab.js';
import { exerciseRunner, expectKernelConfirmed, reveal, type ExerciseRun } from '../helpers/exercise-lab.js';

const root = requireRoot();
const runner = exerciseRunner('exgvar', 1);

const kernelStates = (r: ExerciseRun, endpoint: string): string[] =>
  r.events.filter((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === endpoint && e.conn === 1).map((e) => String(e.to));

describe.skipIf(root.skip)('try-next variants on real labs, scored with their own key', { timeout: 240_000 }, () => {
  afterAll(() => runner.cleanup());
  const results: string[] = [];

  it("12 --try 1 (tcp_rfc1337=1), the variant's right answers: full score, exit 0; the kernel keeps TIME-WAIT through the RST and re-ACKs the next FIN", async () => {
    const r = await runner.run('12', 'ex12-v1-right', 'student: alice\nanswers:\n  client-does: ignores\n  time-wait-ms: 60000\n  server-next-fin: ack\n', ['--try', '1']);
    results.push(join(runner.dir, 'ex12-v1-right.result.json'));
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expect(r.result.variant).toMatchObject({ number: 1, set: { rfc1337: '1' } });
    expect(r.result.predictions.map((p) => [p.id, p.answer])).toEqual([
      ['client-does', 'ignores'],
      ['time-wait-ms', 60000],
      ['server-next-fin', 'ack'],
    ]);
    // The variant's checks (its own: TIME-WAIT is not ended, the server closes), confirmed by the kernel.
    expectKernelConfirmed(r);
    expect(r.events.find((e) => e.type === 'start')).toMatchObject({ sysctls: { client: { 'net.ipv4.tcp_rfc1337': '1' } } });
    // What the kernel did: the client never left TIME-WAIT; its answer to the server's FIN after the RST was an
    // ACK (no RST from it), and the server went CLOSED after that ACK.
    expect(kernelStates(r, 'client').at(-1)).toBe('TIME-WAIT');
    const forged = r.events.find((e) => e.type === 'segment' && e.verdict === 'forged')!;
    expect(r.events.filter((e) => e.type === 'segment' && e.from === 'client' && String(e.flags).includes('R'))).toEqual([]);
    const ack = r.events.find((e) => e.type === 'segment' && e.from === 'client' && e.role === 'last-ack' && e.t > forged.t && e.verdict === 'pass')!;
    expect(ack).toBeDefined();
    const serverClosed = r.events.find((e) => e.type === 'state' && e.source === 'kernel' && e.endpoint === 'server' && e.to === 'CLOSED')!;
    expect(serverClosed.t).toBeGreaterThanOrEqual(ack.t - 0.005);
    const text = reveal(r);
    expect(text.split('\n')[0]).toBe('Reveal — Exercise 12 (variant 1): A RST in TIME-WAIT: can it be cut short?');
    expect(text).toContain('ignores: Right. With tcp_rfc1337 = 1');
    // The only variant ran: nothing else to try.
    expect(text).not.toContain('Try next');
  });

  it("12 --try 1 with the exercise's own right answers: the variant's kernel says otherwise, so no points", async () => {
    const r = await runner.run('12', 'ex12-v1-base', 'student: bob\nanswers:\n  client-does: ends-time-wait\n  time-wait-ms: 200\n  server-next-fin: rst\n', ['--try', '1']);
    results.push(join(runner.dir, 'ex12-v1-base.result.json'));
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 0, of: 3 });
    expectKernelConfirmed(r);
    expect(reveal(r)).toContain('ends-time-wait: That is tcp_rfc1337 = 0');
  });

  it("16 --try 1 (timestamps off): the sequence check is the right answer; full score, the same duplicate ACK", async () => {
    const r = await runner.run('16', 'ex16-v1-right', 'student: carol\nanswers:\n  new-syn: opens\n  old-segment: dup-ack\n  first-check: sequence\n', ['--try', '1'], 90_000);
    results.push(join(runner.dir, 'ex16-v1-right.result.json'));
    expect(r.code).toBe(0);
    expect(r.result.score).toEqual({ points: 3, of: 3 });
    expect(r.result.variant).toMatchObject({ number: 1, sysctls: { both: { 'net.ipv4.tcp_timestamps': 0 } } });
    expectKernelConfirmed(r);
    // The run's header: each end's namespace had timestamps off (over the exercise's pinned 1).
    expect(r.events.find((e) => e.type === 'start')).toMatchObject({ sysctls: { client: { 'net.ipv4.tcp_timestamps': '0' }, server: { 'net.ipv4.tcp_timestamps': '0' } } });
    const copy = r.events.find((e) => e.type === 'segment' && e.verdict === 'replay')!;
    expect(copy).toMatchObject({ conn: 2, len: 100 });
    const answer = r.events.find((e) => e.type === 'segment' && e.conn === 2 && e.from === 'server' && e.t >= copy.t)!;
    expect(answer).toMatchObject({ flags: 'A', ack: 51, len: 0 });
    expect(reveal(r)).toContain('sequence: Right. Without timestamps');
  });

  it('grade --csv: each run in its row, the variant in its own column', async () => {
    expect(results).toHaveLength(3);
    const base = join(runner.dir, 'base-like.result.json');
    // A run of the exercise itself, for contrast: the same file with no variant.
    const { readFileSync } = await import('node:fs');
    const one = JSON.parse(readFileSync(results[0]!, 'utf8')) as Record<string, unknown>;
    delete one['variant'];
    writeFileSync(base, JSON.stringify(one));
    const g = await runCli(['exercise', 'grade', '--csv', ...results, base], 15_000);
    expect(g.code).toBe(0);
    const rows = g.stdout.trimEnd().split('\r\n').map((l) => l.split(','));
    expect(rows[0]!.slice(0, 6)).toEqual(['file', 'student', 'exercise', 'variant', 'points', 'of']);
    expect(rows.slice(1).map((c) => c.slice(1, 6))).toEqual([
      ['alice', 'time-wait-assassination', '1', '3', '3'],
      ['bob', 'time-wait-assassination', '1', '0', '3'],
      ['carol', 'old-duplicate', '1', '3', '3'],
      ['alice', 'time-wait-assassination', '', '3', '3'],
    ]);
  });
});
