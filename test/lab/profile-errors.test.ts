// Bad profiles never start a run: `tcpmitm lab --profile BAD` exits 2 with
// file:line:col, the bad value and what was expected — and no namespace of
// its lab id ever appears (watched while the command runs, and afterwards).

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO, netnsList, requireRoot, uniqueLabId } from '../helpers/lab.js';
import { labDown, leftovers, startCli } from '../helpers/run-lab.js';
import { writeProfile } from '../helpers/profile-lab.js';

const root = requireRoot();

interface Case {
  readonly title: string;
  /** Profile text (written to a temp file), or a built-in name. */
  readonly text?: string;
  readonly builtin?: string;
  readonly set?: readonly string[];
  /** Each: [line, col, fragment that must follow on the same line]. */
  readonly problems: ReadonlyArray<readonly [number, number, RegExp]>;
}

const head = 'name: bad\ndescription: a broken profile\n';

const cases: Case[] = [
  {
    title: 'unknown field',
    text: `${head}rules:\n  - match: {from: client, rolee: fin}\n    action: drop\n`,
    problems: [[4, 27, /rules\[0\]\.match\.rolee: unknown field 'rolee' \(did you mean 'role'\?\); expected one of from, role, flags/]],
  },
  {
    title: 'wrong type, unknown role, flag and action, negative and absurd delay',
    text:
      `${head}rules:\n` +
      "  - match: {from: nobody, role: finn, flags: 'FIN,!BOGUS'}\n" +
      '    action: {delay: {ms: -5}}\n' +
      '  - action: explode\n' +
      '  - action: {delay: {ms: 99999999}}\n' +
      '    probability: high\n',
    problems: [
      [4, 19, /'nobody' is not a known sender; expected one of client, server, any/],
      [4, 33, /'finn' is not a known role \(did you mean 'fin'\?\); expected one of syn, syn-ack/],
      [4, 46, /'FIN,!BOGUS' has unknown flag '!BOGUS'; expected names from FIN/],
      [5, 26, /rules\[0\]\.action\.delay\.ms: -5 is negative; expected a delay in ms from 0 to 600000/],
      [6, 13, /'explode' is not a known action; expected one of pass, drop/],
      [7, 26, /99999999 is too large; expected a delay in ms from 0 to 600000/],
      [8, 18, /'high' is a string; expected a probability from 0 to 1/],
    ],
  },
  {
    title: 'an expectation naming no TCP state',
    text: `${head}rules: []\nexpect:\n  client: {states: [ESTAB, FIN_WAIT_2]}\n`,
    problems: [[5, 28, /'FIN_WAIT_2'.*expected one of .*FIN-WAIT-2/]],
  },
  {
    title: 'a parameter set to a negative delay (reported at the placeholder)',
    builtin: 'delay-fin',
    set: ['ms=-5'],
    problems: [[-1, 13, /rules\[0\]\.action\.delay\.ms: -5 is negative; expected a delay in ms from 0 to 600000 \(from parameter ms = -5\)/]],
  },
];

describe.skipIf(root.skip)('bad profiles never start a run', () => {
  let id = '';
  afterEach(() => labDown(id));

  for (const c of cases) {
    it(`${c.title}: exit 2 with file:line:col, and no namespace`, async () => {
      id = uniqueLabId('p4');
      const file = c.builtin ?? writeProfile(`bad-${id}.yaml`, c.text!);
      const sets = (c.set ?? []).flatMap((s) => ['--set', s]);
      const cli = startCli(['lab', '--id', id, '--no-ui', '--profile', file, ...sets], 20_000);
      // Watch for the lab's namespaces for as long as the command runs.
      let seen: string[] = [];
      let running = true;
      void cli.done.then(() => (running = false));
      while (running) {
        seen = seen.concat(netnsList().filter((n) => n.startsWith(`${id}-`)));
        await new Promise((r) => setTimeout(r, 10));
      }
      const run = await cli.done;
      console.log(`${c.title}: exit ${run.code}\n${run.stderr}`);
      expect(run.code).toBe(2);
      expect(seen).toEqual([]);
      expect(leftovers(id)).toEqual([]);
      expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
      const shown = c.builtin ? `profiles/${c.builtin}.yaml` : file;
      for (const [line0, col, what] of c.problems) {
        let line = line0;
        if (line < 0) {
          // The placeholder's own line in the built-in file.
          line = readFileSync(`${REPO}/${shown}`, 'utf8').split('\n').findIndex((l) => l.includes('${ms}')) + 1;
        }
        const at = `${shown}:${line}:${col}: `;
        const hit = run.stderr.split('\n').find((l) => l.includes(at));
        expect(hit, `no line with ${at} in:\n${run.stderr}`).toBeDefined();
        expect(hit!).toMatch(what);
      }
    });
  }

  it('an unknown --set key or profile name: exit 2 saying what is known', async () => {
    id = uniqueLabId('p4');
    const a = await startCli(['lab', '--id', id, '--no-ui', '--profile', 'delay-fin', '--set', 'sid=client'], 20_000).done;
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--set sid=client: no parameter 'sid' \(did you mean 'side'\?\); expected one of side, ms/);
    const b = await startCli(['lab', '--id', id, '--no-ui', '--profile', 'no-such-profile'], 20_000).done;
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/'no-such-profile' is neither a built-in profile nor a file; expected one of .*drop-last-ack/);
    const c = await startCli(['lab', '--id', id, '--no-ui', '--profile', 'drop-lastack'], 20_000).done;
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/'drop-lastack' is neither a built-in profile nor a file \(did you mean 'drop-last-ack'\?\)/);
    expect(leftovers(id)).toEqual([]);
  });
});
