// What every tmux test file sets up and takes down the same way: whether it
// can run (tmux missing skips it, but fails it under CI=true: the bootstrap
// installs tmux), a private build of the CLI before its tests, and after each
// test the screens it started (Ctrl-C first: tcpmitm itself must tear its lab
// down; killing the session outright hangs the terminal up under the run),
// the programs it spawned and any lab still standing (`lab down`).

import { spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { netnsList, requireRoot } from './lab.js';
import { TmuxScreen, buildPrivateCli, hasTmux, removePrivateCli } from './tmux.js';

/** ink renders only the last frame when it believes it runs in CI: the terminal in tmux is a real one, whatever the runner's environment says. */
export const TTY_ENV = { CI: 'false', CONTINUOUS_INTEGRATION: 'false' };

export interface TmuxRuns {
  /** Not root, or no tmux (outside CI): the file's tests are skipped. */
  readonly skip: boolean;
  /** The private CLI's bin/tcpmitm.js, built before the file's first test. */
  readonly cli: string;
  /** What a test started, taken down after it. */
  readonly screens: TmuxScreen[];
  readonly labs: string[];
  readonly children: ChildProcess[];
}

/** Registers the file's hooks; call once, at the top of a test file. */
export function tmuxRuns(): TmuxRuns {
  const root = requireRoot();
  const tmuxMissing = !root.skip && !hasTmux();
  if (tmuxMissing && process.env.CI === 'true') throw new Error('tmux is missing (bash scripts/bootstrap.sh --test installs it); CI=true, so this fails');
  if (tmuxMissing) console.warn('skipping: tmux is not installed (bash scripts/bootstrap.sh --test installs it)');
  const skip = root.skip || tmuxMissing;
  let cli = '';
  const runs: TmuxRuns = {
    skip,
    get cli() {
      return cli;
    },
    screens: [],
    labs: [],
    children: [],
  };
  beforeAll(() => {
    if (!skip) cli = buildPrivateCli();
  });
  afterEach(async () => {
    for (const c of runs.children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const s of runs.screens.splice(0)) {
      if (s.exitCode() === undefined) {
        s.keys('C-c');
        await s.waitExit(15_000).catch(() => undefined);
      }
      s.kill();
    }
    for (const id of runs.labs.splice(0)) {
      if (netnsList().some((n) => n.startsWith(`${id}-`))) spawnSync(process.execPath, [cli, 'lab', 'down', id], { stdio: 'ignore' });
    }
  });
  afterAll(() => {
    for (const s of runs.screens) s.kill();
    removePrivateCli();
  });
  return runs;
}
