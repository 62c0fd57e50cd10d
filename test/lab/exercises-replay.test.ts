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

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { labDown, leftovers, readEvents, runCli, type CliRun, type LabEvent } from '../helpers/run-lab.js';
import { TextLogFormatter } from '../../src/io/text-log.js';
import type { TcpmitmEvent } from '../../src/engine/events.js';
import type { ExerciseResult } from '../../src/exercise/result.js';

const root = requireRoot();
const dir = mkdtempSync(join(tmpdir(), 'tcpmitm-exr-'));
const ids = new Set<string>();

interface ExerciseRun extends CliRun {
  readonly result: ExerciseResult;
  readonly events: LabEvent[];
}

/** `tcpmitm exercise run 16 --answers … --json … --events …` on a lab of its own, removed afterwards whatever happened. */
async function runExercise(name: string, answers: string, lang: 'en' | 'zh'): Promise<ExerciseRun> {
  const id = uniqueLabId('xrp');
  ids.add(id);
  const answersFile = join(dir, `${name}.answers.yaml`);
  const json = join(dir, `${name}.result.json`);
  const events = join(dir, `${name}.events.jsonl`);
  writeFileSync(answersFile, answers);
  try {
    const run = await runCli(['exercise', 'run', '16', '--answers', answersFile, '--json', json, '--events', events, '--kernel-probe', 'trace', '--id', id, '--lang', lang], 90_000);
    if (run.code !== 0 && run.code !== 3) throw new Error(`${name}: exit ${run.code}\n${run.stdout}\n${run.stderr}`);
    const result = JSON.parse(readFileSync(json, 'utf8')) as ExerciseResult;
    console.log(`${name}: exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s\n${result.reveal}`);
    return { ...run, result, events: readEvents(events) };
  } finally {
    labDown(id);
    expect(leftovers(id)).toEqual([]);
  }
}

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

/** The text-log lines of this run's segments that `pred` picks: what the reveal must quote. */
function segmentLines(r: ExerciseRun, pred: (e: LabEvent) => boolean): string[] {
  const log = new TextLogFormatter({ segments: true });
  return r.events.filter((e) => e.type === 'segment' && pred(e)).map((e) => log.format(e as unknown as TcpmitmEvent)!);
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
  for (const line of segmentLines(r, (e) => e.verdict === 'replay' || (e.conn === 2 && e.from === 'server'))) expect(text).toContain(line);
}

describe.skipIf(root.skip)('exercise 16 old-duplicate on real labs', { timeout: 300_000 }, () => {
  afterAll(() => {
    for (const id of ids) labDown(id);
    rmSync(dir, { recursive: true, force: true });
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
});
