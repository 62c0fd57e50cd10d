// How the supervisor hands the session its config (issue 12 §5): on the
// session link, not in an environment variable, so whatever `profiles check`
// accepts `lab` runs — here 3 000 rules, whose config is far past the 128 KiB
// an environment variable may hold (execve: E2BIG). And the session's entry
// point refuses, with exit 2, to be started any other way.

import { spawnSync } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveLabProfile } from '../../src/lab/peer-args.js';
import { REPO, requireRoot, uniqueLabId } from '../helpers/lab.js';
import { type RunningCli, ensureBuilt, leftovers, readEvents, runCli, stopRunsAndLabs } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('cl-handoff-');
const ids: string[] = [];
const running: RunningCli[] = [];

/** MAX_ARG_STRLEN: the most one environment string may hold (include/uapi/linux/binfmts.h). */
const MAX_ARG_STRLEN = 32 * 4096;

describe.skipIf(root.skip)('the session\'s config hand-off (real namespaces)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => stopRunsAndLabs(running, ids));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a 3 000-rule profile that `profiles check` accepts runs in `lab`', async () => {
    const lines = ['name: cl-big', 'description: 3000 rules that never match in this lab', 'rules:'];
    for (let i = 0; i < 3000; i++) {
      lines.push(`  - id: never-${i}`, `    match: {role: window-probe, from: server, port: ${10001 + i}}`, '    action: drop');
    }
    const file = join(dir, 'big.yaml');
    writeFileSync(file, lines.join('\n') + '\n');
    expect(statSync(file).size).toBeGreaterThan(200_000);
    // The profile alone, as the session gets it, would not fit in an environment variable.
    expect(JSON.stringify(await resolveLabProfile(file)).length).toBeGreaterThan(MAX_ARG_STRLEN);

    const check = await runCli(['profiles', 'check', file], 30_000);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('3000 rule(s)');

    const id = uniqueLabId('clh');
    ids.push(id);
    const json = join(dir, `${id}.jsonl`);
    const run = await runCli(['lab', '--no-ui', '--id', id, '--profile', file, '--json', json], 60_000);
    expect(run.stderr).not.toContain('E2BIG');
    expect(run.code, run.stderr.slice(0, 2000)).toBe(0);
    const evs = readEvents(json);
    expect(evs[0]).toMatchObject({ type: 'start', lab: id, profile: 'cl-big' });
    expect(evs.at(-1)).toMatchObject({ type: 'end', reason: 'all connections closed', exitCode: 0 });
    // The built-in client and server really talked through it.
    expect(evs.some((e) => e.type === 'state' && e.endpoint === 'client' && e.source === 'inferred' && e.to === 'TIME-WAIT')).toBe(true);
    expect(leftovers(id)).toEqual([]);
  });

  it('inner-main started by hand: exit 2 and what it is', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'dist/lab/inner-main.js')], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('inner-main is started by `tcpmitm lab`, not by hand');
  });
});
