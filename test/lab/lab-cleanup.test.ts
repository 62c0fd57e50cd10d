// Cleanup of `tcpmitm lab` (issue 3): after a normal run, after SIGINT to the
// supervisor mid-run (the JSONL still ends with `end`), and after SIGKILL of
// the supervisor (the session then removes the lab itself), nothing of the run remains:
// no namespace, no veth (looked up by the MACs it had), no registry record,
// no process. The labs use a registry of their own (helpers/run-lab.ts).

import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import {
  type RunningCli, ensureBuilt, httpServerUp, labMacs, labNamespaces, leftovers, persistentTempVeths, readEvents, rootLinksWithMacs, runCli, startCli, stopRunsAndLabs, waitForEvents, waitForLab,
} from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('tcpmitm-l3-clean-');
const ids: string[] = [];
const running: RunningCli[] = [];

function newId(): string {
  const id = uniqueLabId('l3c');
  ids.push(id);
  return id;
}

/** The veths' MACs, once they have been moved into the lab's namespaces (bounded retry). */
async function macsOf(id: string): Promise<string[]> {
  const end = Date.now() + 5000;
  for (;;) {
    try {
      const macs = labMacs(id);
      if (macs.length === 4) return macs;
    } catch {
      // Not moved in yet.
    }
    if (Date.now() > end) throw new Error(`the veths of lab ${id} did not appear within 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every process in the lab's namespaces now. */
function labPids(id: string): number[] {
  return labNamespaces(id).flatMap((ns) =>
    spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean).map(Number),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function expectGone(id: string, macs: readonly string[], pids: readonly number[], tmpBefore: ReadonlySet<string>): Promise<void> {
  expect(labNamespaces(id)).toEqual([]);
  expect(leftovers(id)).toEqual([]);
  expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(`${id}-`);
  // A veth whose namespace is gone would have fallen back to the root namespace.
  expect(rootLinksWithMacs(macs)).toEqual([]);
  expect((await persistentTempVeths()).filter((n) => !tmpBefore.has(n))).toEqual([]);
  // Processes die asynchronously after SIGKILL: give them a moment.
  const end = Date.now() + 2000;
  while (pids.some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  expect(pids.filter(alive)).toEqual([]);
}

/** A run that stays up until signalled: a real server, and a client that only waits. */
function midRunArgs(id: string, json: string): string[] {
  return ['lab', '--no-ui', '--id', id, '--json', json, '--server', 'python3 -m http.server 8080 --bind 198.18.0.2', '--client', 'sleep 30'];
}

describe.skipIf(root.skip)('tcpmitm lab cleanup (real namespaces)', () => {
  let tmpBefore: Set<string>;
  beforeAll(async () => {
    ensureBuilt();
    tmpBefore = new Set(await persistentTempVeths());
  }, 120_000);
  afterEach(() => stopRunsAndLabs(running, ids));

  it('after a normal run', async () => {
    const id = newId();
    const json = join(dir, `${id}.jsonl`);
    const cli = startCli(['lab', '--no-ui', '--id', id, '--json', json], 20_000);
    running.push(cli);
    await waitForLab(id);
    const macs = await macsOf(id);
    const pids = labPids(id);
    const run = await cli.done;
    expect(run.code, run.stderr).toBe(0);
    expect(readEvents(json).at(-1)).toMatchObject({ type: 'end', reason: 'all connections closed', exitCode: 0 });
    await expectGone(id, macs, pids, tmpBefore);
  });

  it('after SIGINT to the supervisor mid-run: exit 130, the log ends with `end`', async () => {
    const id = newId();
    const json = join(dir, `${id}.jsonl`);
    const cli = startCli(midRunArgs(id, json), 20_000);
    running.push(cli);
    await httpServerUp(json);
    const macs = await macsOf(id);
    const pids = labPids(id);
    expect(pids.length).toBeGreaterThanOrEqual(5); // three holders, the session, the server (and the client)
    // Only the supervisor's pid, as `kill -INT <pid>` does (a terminal's Ctrl-C would reach the whole group).
    process.kill(cli.child.pid!, 'SIGINT');
    const run = await cli.done;
    expect(run.code, run.stderr).toBe(130);
    const evs = readEvents(json);
    expect(evs.at(-1)).toMatchObject({ type: 'end', reason: 'interrupted (Ctrl-C)', exitCode: 130 });
    await expectGone(id, macs, pids, tmpBefore);
  });

  it('after SIGINT to `lab up` (no peers), the log ends with `end`', async () => {
    const id = newId();
    const json = join(dir, `${id}.jsonl`);
    const cli = startCli(['lab', 'up', '--no-ui', '--id', id, '--json', json], 20_000);
    running.push(cli);
    await waitForEvents(json, (evs) => evs.some((e) => e.type === 'start' && e.lab === id));
    const macs = await macsOf(id);
    const pids = labPids(id);
    // It really is usable from outside meanwhile: from the client namespace a
    // SYN to a closed port of the server draws the kernel's RST back through
    // tcpmitm (ECONNREFUSED, errno 111), not a timeout (11) or no route.
    const probe = await runCli(['lab', 'exec', id, 'client', '--', 'python3', '-c',
      "import socket; s = socket.socket(); s.settimeout(3); print(s.connect_ex(('198.18.0.2', 9)))"], 10_000);
    expect(probe.stdout.trim(), probe.stderr).toBe('111');
    process.kill(cli.child.pid!, 'SIGINT');
    const run = await cli.done;
    expect(run.code, run.stderr).toBe(130);
    expect(readEvents(json).at(-1)).toMatchObject({ type: 'end', exitCode: 130 });
    await expectGone(id, macs, pids, tmpBefore);
  });

  it('after SIGKILL of the supervisor mid-run, the session ends the run and removes everything by itself', async () => {
    const id = newId();
    const json = join(dir, `${id}.jsonl`);
    const cli = startCli(midRunArgs(id, json), 20_000);
    running.push(cli);
    await httpServerUp(json);
    const macs = await macsOf(id);
    const pids = labPids(id);
    process.kill(cli.child.pid!, 'SIGKILL');
    await cli.exited;
    // No `lab down`: the session saw its link to the supervisor close (issue 12 §4).
    await waitForEvents(json, (evs) => evs.at(-1)?.type === 'end');
    expect(readEvents(json).at(-1)).toMatchObject({ type: 'end', reason: `the supervisor (tcpmitm lab, pid ${cli.child.pid}) died: the session removes the lab`, exitCode: 1 });
    const end = Date.now() + 15_000;
    while (leftovers(id).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    await expectGone(id, macs, pids, tmpBefore);
    // And `lab down --stale` finds nothing to do.
    const down = await runCli(['lab', 'down', '--stale'], 15_000);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toBe('no stale labs\n');
  });
});
