// Running exercises through the real CLI for the lab tests, as a grader runs
// them: `exercise run EX --answers FILE --json RESULT --events EVENTS` on a lab
// of its own, removed afterwards whatever happened, with the result, the
// events and the reveal read back for the assertions.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { uniqueLabId } from './lab.js';
import { limiter } from './limit.js';
import { labDown, leftovers, readEvents, runCli, type CliRun, type LabEvent } from './run-lab.js';
import { TextLogFormatter } from '../../src/io/text-log.js';
import type { TcpmitmEvent } from '../../src/engine/events.js';
import type { ExerciseResult } from '../../src/exercise/result.js';

export interface ExerciseRun extends CliRun {
  readonly id: string;
  readonly result: ExerciseResult;
  readonly events: LabEvent[];
}

export interface ExerciseRunner {
  /** Where the answers, results and events go (removed by `cleanup`). */
  readonly dir: string;
  /** `name` names the files; `extra` are more flags (`--lang` defaults to en). */
  run(exercise: string, name: string, answers: string, extra?: readonly string[], timeoutMs?: number): Promise<ExerciseRun>;
  /** Removes every lab this runner made and its folder. */
  cleanup(): void;
}

/** A runner whose labs are named `prefix…` and of which at most `concurrency` run at once (the machine has 2 cores). */
export function exerciseRunner(prefix: string, concurrency = 2): ExerciseRunner {
  const dir = mkdtempSync(join(tmpdir(), `tcpmitm-${prefix}-`));
  const ids = new Set<string>();
  const limited = limiter(concurrency);
  return {
    dir,
    async run(exercise, name, answers, extra = [], timeoutMs = 60_000) {
      const id = uniqueLabId(prefix);
      ids.add(id);
      const answersFile = join(dir, `${name}.answers.yaml`);
      const json = join(dir, `${name}.result.json`);
      const events = join(dir, `${name}.events.jsonl`);
      writeFileSync(answersFile, answers);
      try {
        const lang = extra.includes('--lang') ? [] : ['--lang', 'en'];
        const run = await limited(() =>
          runCli(['exercise', 'run', exercise, '--answers', answersFile, '--json', json, '--events', events, '--kernel-probe', 'trace', '--id', id, ...lang, ...extra], timeoutMs),
        );
        if (run.code !== 0 && run.code !== 3) throw new Error(`${name}: exit ${run.code}\n${run.stdout}\n${run.stderr}`);
        const result = JSON.parse(readFileSync(json, 'utf8')) as ExerciseResult;
        console.log(`${name}: exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s\n${result.reveal}`);
        return { ...run, id, result, events: readEvents(events) };
      } finally {
        labDown(id);
        expect(leftovers(id)).toEqual([]);
      }
    },
    cleanup() {
      for (const id of ids) labDown(id);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every check the kernel probe answered was met, there are some for both ends, and the run confirmed the exercise's checks. */
export function expectKernelConfirmed(r: ExerciseRun): void {
  const kernel = r.result.checks.results.filter((c) => c.subject.endsWith('(kernel)'));
  expect(kernel.map((c) => c.subject.replace(/ #\d+ /, ' '))).toEqual(expect.arrayContaining(['client states (kernel)', 'server states (kernel)']));
  expect(kernel.filter((c) => c.status !== 'met')).toEqual([]);
  expect(r.result.checks.confirmed).toBe(true);
}

/** The text-log lines of this run's events that `pred` picks (segments only unless `all`): what the reveal must quote. */
export function logLines(r: ExerciseRun, pred: (e: LabEvent) => boolean, all = false): string[] {
  const log = new TextLogFormatter({ segments: true });
  return r.events.filter((e) => (all || e.type === 'segment') && pred(e)).map((e) => log.format(e as unknown as TcpmitmEvent)!);
}

/** The reveal as printed: it is the end of stdout, and the result file holds the same text. */
export function reveal(r: ExerciseRun): string {
  expect(r.stdout.endsWith(r.result.reveal)).toBe(true);
  return r.result.reveal;
}
