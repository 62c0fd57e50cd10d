// The registry and `lab down` trust nothing they did not make (issue 12 §4):
// records planted in a private registry (TCPMITM_LAB_DIR) never make tcpmitm
// remove a live lab or a file outside the registry, ids with "/" or ".." are
// refused wherever one is taken, and `lab exec` exits with its documented
// codes (2 when it cannot run the command; the command's own otherwise).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, requireRoot, uniqueLabId } from '../helpers/lab.js';
import {
  BIN, REGISTRY, type RunningCli, cliEnv, ensureBuilt, labNamespaces, registryFile, runCli, startCli, stopRunsAndLabs, waitForEvents,
} from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('cl-trust-');
const ids: string[] = [];
const running: RunningCli[] = [];

function newId(): string {
  const id = uniqueLabId('clt');
  ids.push(id);
  return id;
}

/** Writes a record file into the private registry as someone else would. */
function plant(name: string, content: string, ageS = 0): string {
  mkdirSync(REGISTRY, { recursive: true });
  const file = join(REGISTRY, `${name}.json`);
  writeFileSync(file, content);
  if (ageS > 0) {
    const t = Date.now() / 1000 - ageS;
    utimesSync(file, t, t);
  }
  return file;
}

/** A live `lab up`, up and logging. */
async function liveLab(): Promise<{ id: string; cli: RunningCli; record: string }> {
  const id = newId();
  const json = join(dir, `${id}.jsonl`);
  const cli = startCli(['lab', 'up', '--no-ui', '--id', id, '--json', json], 60_000);
  running.push(cli);
  await waitForEvents(json, (evs) => evs.some((e) => e.type === 'start'), 20_000);
  return { id, cli, record: readFileSync(registryFile(id), 'utf8') };
}

describe.skipIf(root.skip)('the registry trusts nothing it did not make (real namespaces)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => stopRunsAndLabs(running, ids));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('planted records: a live lab, files outside the registry and foreign records are left alone; only a dead owner\'s lab goes', async () => {
    const live = await liveLab();
    const outside = join(dir, 'x');
    mkdirSync(outside, { recursive: true });
    const target = join(outside, 'target.json');
    writeFileSync(target, 'not tcpmitm\'s\n');
    // A record under another name that claims the live lab, with a dead owner.
    const claimsLive = newId();
    const claimsLiveFile = plant(claimsLive, JSON.stringify({ id: live.id, pid: 999999 }), 60);
    // A record whose id walks out of the registry (the traversal of the issue).
    const walker = newId();
    const walkerFile = plant(walker, JSON.stringify({ id: `../../../..${outside}/target`, pid: 999999 }), 60);
    // Not a record at all, and an empty one (a claim cut short) old enough to be litter, and a fresh empty one.
    const garbage = newId();
    const garbageFile = plant(garbage, '{"id": "', 60);
    const oldEmpty = newId();
    const oldEmptyFile = plant(oldEmpty, '', 60);
    const freshEmpty = newId();
    const freshEmptyFile = plant(freshEmpty, '');
    // A genuine stale record: its own name, its owner dead.
    const stale = newId();
    const staleFile = plant(stale, JSON.stringify({ id: stale, pid: 999999, created: new Date().toISOString(), ipv6: false, namespaces: [] }));
    // A file that is not named like a record is not looked at.
    const other = plant('not-a-lab.id', JSON.stringify({ id: live.id, pid: 999999 }), 60);

    const down = await runCli(['lab', 'down', '--stale'], 30_000);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toBe(`removed ${stale}\n`);
    expect(existsSync(staleFile)).toBe(false);
    expect(existsSync(oldEmptyFile)).toBe(false);
    expect(down.stderr).toContain(`removed ${oldEmptyFile} (empty: a claim cut short)`);
    // The live lab is whole and still works; nothing outside the registry was touched.
    expect(labNamespaces(live.id)).toHaveLength(3);
    expect(readFileSync(registryFile(live.id), 'utf8')).toBe(live.record);
    expect(live.cli.child.exitCode).toBeNull();
    expect(readFileSync(target, 'utf8')).toBe('not tcpmitm\'s\n');
    // Foreign records stay, each named with why.
    for (const f of [claimsLiveFile, walkerFile, garbageFile, freshEmptyFile, other]) expect(existsSync(f), f).toBe(true);
    expect(down.stderr).toContain(`left ${claimsLiveFile} alone: it is not a lab record (its id "${live.id}" is not its file name's '${claimsLive}')`);
    expect(down.stderr).toContain(`left ${walkerFile} alone: it is not a lab record (its id "../../../..${outside}/target"`);
    expect(down.stderr).toContain(`left ${garbageFile} alone: it is not a lab record (not JSON)`);
    expect(down.stderr).not.toContain(freshEmptyFile);
    const exec = await runCli(['lab', 'exec', live.id, 'client', '--', 'true'], 15_000);
    expect(exec.code, exec.stderr).toBe(0);
    // `lab list` shows none of the foreign records as labs.
    const list = await runCli(['lab', 'list'], 15_000);
    expect(list.stdout).toContain(live.id);
    for (const id of [claimsLive, walker, garbage, freshEmpty]) expect(list.stdout).not.toContain(id);
    for (const f of [claimsLiveFile, walkerFile, garbageFile, freshEmptyFile, other]) rmSync(f);
  });

  it('ids with "/" or ".." are refused on every path that takes one (exit 2), and nothing is removed', async () => {
    const outside = join(dir, 'y');
    mkdirSync(outside, { recursive: true });
    const victim = join(outside, 'victim.json');
    writeFileSync(victim, '{}\n');
    const rel = `../../../..${outside}/victim`;
    for (const args of [
      ['lab', 'down', rel],
      ['lab', 'exec', rel, 'client', '--', 'true'],
      ['lab', 'up', '--no-ui', '--id', rel],
      ['lab', '--no-ui', '--id', 'Bad-Id'],
    ]) {
      const r = await runCli(args, 15_000);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/is not a lab id: use 1–12 characters of a-z, 0-9 and _/);
    }
    expect(existsSync(victim)).toBe(true);
  });

  it('lab exec: the command\'s own status, 128+N for a signal, 2 for what cannot run, and 2 for a user who is not root', async () => {
    const live = await liveLab();
    const exec = (...cmd: string[]) => runCli(['lab', 'exec', live.id, 'server', '--', ...cmd], 15_000);
    expect((await exec('sh', '-c', 'exit 7')).code).toBe(7);
    expect((await exec('sh', '-c', 'kill -KILL $$')).code).toBe(137);
    // Not through a shell, and as root: what it prints comes from the server namespace.
    const who = await exec('sh', '-c', 'id -u; ip -o -4 addr show dev s0');
    expect(who.stdout).toMatch(/^0\n.*inet 198\.18\.0\.2\/24/);
    const missing = await exec('no-such-command-cl');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot run 'no-such-command-cl': not found on PATH [E_EXEC]");
    const plain = join(dir, 'plain.txt');
    writeFileSync(plain, 'echo hi\n', { mode: 0o644 });
    const notExec = await exec(plain);
    expect(notExec.code).toBe(2);
    expect(notExec.stderr).toContain('not an executable file');
    const nowhere = await runCli(['lab', 'exec', live.id, 'elsewhere', '--', 'true'], 15_000);
    expect(nowhere.code).toBe(2);
    // A user who is not root: the documented 2 with what to run, not ip's 255.
    // Only where that user can run node and read the checkout at all (a root
    // made by mktemp -d is mode 0700 to others, as in ../shared/fresh-debian):
    // otherwise runuser's own failure would be tested, not tcpmitm's.
    const canRun = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)})`], { encoding: 'utf8', timeout: 15_000 });
    if (canRun.status !== 0) {
      console.warn(`not checked: user nobody cannot run node on this checkout here (${canRun.stderr.trim().split('\n')[0]})`);
      return;
    }
    const nobody = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, BIN, 'lab', 'exec', live.id, 'client', '--', 'true'], { cwd: REPO, env: cliEnv(), encoding: 'utf8', timeout: 15_000 });
    expect(nobody.status, nobody.stderr).toBe(2);
    expect(nobody.stderr).toContain('tcpmitm needs root privileges here');
    expect(nobody.stderr).toContain('[E_NOT_ROOT]');
    expect(nobody.stderr).toMatch(/run it with sudo/);
  });
});
