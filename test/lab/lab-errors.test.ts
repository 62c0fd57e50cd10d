// Failed starts of `tcpmitm lab` (issue 3 "Errors"): an id in use (exit 2, and
// the lab that owns it is left alone), a --server that exits before listening
// (exit 1 with its code and the tail of its stderr), and one that never
// listens (a bounded error). Nothing is left behind by any of them.

import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import {
  type RunningCli, ensureBuilt, httpServerUp, labNamespaces, leftovers, readEvents, runCli, startCli, stopRunsAndLabs,
} from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('tcpmitm-l3-err-');
const ids: string[] = [];
const running: RunningCli[] = [];

function newId(): string {
  const id = uniqueLabId('l3e');
  ids.push(id);
  return id;
}

describe.skipIf(root.skip)('tcpmitm lab errors (real namespaces)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => stopRunsAndLabs(running, ids));

  it('an id in use: exit 2 with a message, and the running lab is untouched', async () => {
    const id = newId();
    const json = join(dir, `${id}.jsonl`);
    const first = startCli(['lab', '--no-ui', '--id', id, '--json', json, '--server', 'python3 -m http.server 8080 --bind 198.18.0.2', '--client', 'sleep 30'], 20_000);
    running.push(first);
    await httpServerUp(json);
    const second = await runCli(['lab', '--no-ui', '--id', id], 15_000);
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toContain(`lab '${id}' is already in use`);
    expect(second.stderr).toMatch(/another --id/);
    // The failed start removed nothing of the owner's lab, which still works.
    expect(labNamespaces(id)).toHaveLength(3);
    const curl = await runCli(['lab', 'exec', id, 'client', '--', 'python3', '-c',
      "import urllib.request; print(urllib.request.urlopen('http://198.18.0.2:8080/', timeout=5).status)"], 15_000);
    expect(curl.stdout.trim(), curl.stderr).toBe('200');
    first.child.kill('SIGTERM');
    const run = await first.done;
    expect(run.code).toBe(143);
    expect(readEvents(json).at(-1)).toMatchObject({ type: 'end', exitCode: 143 });
    expect(leftovers(id)).toEqual([]);
  });

  it('--server that exits early: exit 1 with its exit code and the tail of its stderr', async () => {
    const id = newId();
    const run = await runCli(['lab', '--no-ui', '--id', id, '--server', 'echo "cannot bind: no such thing" >&2; exit 3'], 20_000);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/the server exited with code 3 before listening on port 8080/);
    expect(run.stderr).toContain('cannot bind: no such thing');
    expect(run.ms).toBeLessThan(10_000);
    expect(leftovers(id)).toEqual([]);
  });

  it('--server that never listens: a bounded error naming the port', async () => {
    const id = newId();
    const run = await runCli(['lab', '--no-ui', '--id', id, '--server', 'sleep 60', '--port', '8123'], 30_000);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/did not listen on port 8123 within 10 s/);
    // The 10 s wait, the lab's set-up and removal; far from the 60 s the server would run.
    expect(run.ms).toBeLessThan(15_000);
    expect(leftovers(id)).toEqual([]);
  });
});
