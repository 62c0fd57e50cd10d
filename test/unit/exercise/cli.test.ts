// `tcpmitm exercise …` in-process (no lab): list, show, the answers template,
// check, grade, and run's refusals of bad input before anything starts.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerExercise } from '../../../src/cli/commands/exercise.js';
import { TcpmitmError } from '../../../src/cli/errors.js';
import { BASE } from './cases.js';
import { tempDir } from '../../helpers/temp.js';

let out = '';
let dir = '';
beforeEach(() => {
  out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  dir = tempDir('tcpmitm-exercise-cli-');
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<void> {
  const program = new Command('tcpmitm').exitOverride();
  registerExercise(program);
  await program.parseAsync(['node', 'tcpmitm', 'exercise', ...args]);
}

async function refusal(...args: string[]): Promise<TcpmitmError> {
  try {
    await run(...args);
  } catch (e) {
    if (e instanceof TcpmitmError) return e;
    throw e;
  }
  throw new Error(`exercise ${args.join(' ')} was accepted`);
}

describe('tcpmitm exercise', () => {
  it('list: the built-ins in order, in the language asked for', async () => {
    await run('list', '--lang', 'en');
    expect(out.split('\n')[0]).toMatch(/^ 1  four-way-close {2,}Normal four-way close: who gets TIME-WAIT\?$/);
    out = '';
    await run('list', '--lang', 'zh');
    expect(out.split('\n')[2]).toMatch(/^ 3  last-ack-lost {2,}最后一个 ACK 丢失：LAST-ACK 会怎么做？$/);
  });

  it('show: the story and the questions, never the answers', async () => {
    await run('show', '3', '--lang', 'en');
    expect(out).toMatch(/^Exercise 3: The last ACK is lost/);
    expect(out).toContain('     retransmit: it stays in LAST-ACK and retransmits its FIN, with growing gaps');
    expect(out).not.toMatch(/correct|Right\./);
  });

  it("show --yaml's copy names a schema that is there wherever it is saved; schema prints it", async () => {
    await run('show', '3', '--yaml');
    const schemaPath = /^# yaml-language-server: \$schema=(.+)$/m.exec(out)?.[1];
    expect(schemaPath).toMatch(/^\/.*\/exercises\/schema\.json$/);
    out = '';
    await run('schema');
    expect(out).toBe(readFileSync(schemaPath!, 'utf8'));
  });

  it('show --try: the variant as run --try asks it — what it changes, and its choice texts', async () => {
    await run('show', '19', '--try', '1', '--lang', 'en');
    expect(out).toContain('\nVariant 1:\n  tcp_fin_timeout 10 s:');
    expect(out).toContain('     dropped: after tcp_fin_timeout (10 s here) the kernel drops it, without sending anything');
    expect(out).toContain("     rst: it answers the server's late data with a RST, and is gone");
    const e = await refusal('show', '19', '--try', '2');
    expect([e.exitCode, e.message]).toEqual([2, "--try 2: that variant is exercise 'fin-delayed', which is scored with its own key"]);
  });

  it('show --answers-template writes a file run accepts', async () => {
    await run('show', 'four-way-close', '--answers-template', '--lang', 'en');
    expect(out).toContain('exercise: four-way-close\n');
    expect(out).toContain('  #   one of: client, server, both, neither\n  time-wait: \n');
  });

  it('check: ok per file, or every problem with file:line:col (exit 2)', async () => {
    await run('check', '1', '2', '3');
    expect(out.split('\n').filter((l) => l.startsWith('ok  '))).toHaveLength(3);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, BASE.replace('tolerance: 100', 'tolerance: -1'));
    const e = await refusal('check', bad);
    expect([e.code, e.exitCode]).toEqual(['E_EXERCISE', 2]);
    expect(e.message).toBe(`${bad}:24:16: predictions[1].tolerance: -1 is negative; expected a tolerance from 0`);
  });

  it('run without --answers off a terminal says the answers must come from a file (exit 2)', async () => {
    const e = await refusal('run', '1');
    expect([e.code, e.exitCode, e.message]).toEqual(['E_USAGE', 2, 'exercise run without --answers asks the predictions on the terminal, and this is not one']);
    expect(e.hint).toBe('write the answers first: tcpmitm exercise show 1 --answers-template > answers.yaml, then --answers answers.yaml');
  });

  it('run refuses --kernel-probe off: the evidence and the checks are the kernel\'s', async () => {
    await expect(run('run', '1', '--answers', 'x.yaml', '--kernel-probe', 'off')).rejects.toThrow(/Allowed choices are auto, trace, proc/);
  });

  it('run refuses a bad answers file before anything starts (exit 2, file:line:col)', async () => {
    const answers = join(dir, 'answers.yaml');
    writeFileSync(answers, 'answers:\n  time-wait: maybe\n');
    const e = await refusal('run', '1', '--answers', answers);
    expect([e.code, e.exitCode]).toEqual(['E_ANSWERS', 2]);
    expect(e.message).toBe(`${answers}:2:14: answers.time-wait: 'maybe' is not a choice of time-wait; expected one of client, server, both, neither`);
  });

  it('run refuses --set of a parameter the profile does not have', async () => {
    const answers = join(dir, 'answers.yaml');
    writeFileSync(answers, 'answers: {}\n');
    const e = await refusal('run', '3', '--answers', answers, '--set', 'colour=red');
    expect([e.code, e.exitCode]).toEqual(['E_PROFILE', 2]);
    expect(e.message).toContain("--set colour=red: no parameter 'colour'; expected one of times");
  });

  it('run --try refuses a variant that does not exist, and one that is another exercise (exit 2, before anything starts)', async () => {
    const answers = join(dir, 'answers.yaml');
    writeFileSync(answers, 'answers: {}\n');
    const none = await refusal('run', '12', '--answers', answers, '--try', '2');
    expect([none.code, none.exitCode, none.message]).toEqual(['E_USAGE', 2, '--try 2: exercise time-wait-assassination has try-next variants 1 to 1']);
    const other = await refusal('run', '21', '--answers', answers, '--try', '2');
    expect(other.message).toBe("--try 2: that variant is exercise 'dead-peer', which is scored with its own key");
    expect(other.hint).toBe('run it: tcpmitm exercise run dead-peer');
  });

  it('grade refuses a file that is not a result (exit 2)', async () => {
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/exercise/passthrough.jsonl'), 'utf8').split('\n')[0]!) as object;
    const notResult = join(dir, 'events.json');
    writeFileSync(notResult, JSON.stringify(fixture));
    const e = await refusal('grade', notResult);
    expect([e.code, e.exitCode]).toEqual(['E_RESULT', 2]);
  });
});
