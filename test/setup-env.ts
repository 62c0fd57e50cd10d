// Every test runs in the environment of a user's fresh machine, not of the
// machine that happens to run it: variables that change how programs buffer
// their output (set on CI's machines, absent on a fresh Debian) are removed,
// so a test that needs line-by-line output must get it from tcpmitm itself.
//
// And what the tests made under the temp dir goes with them, even when one
// fails (tempDir in test/helpers/temp.ts; the lab registry dir run-lab.ts
// makes; the tmux server of the terminal tests and its socket).

import { afterAll } from 'vitest';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { removeTempDirs } from './helpers/temp.js';
import { REGISTRY } from './helpers/run-lab.js';
import { stopTmuxServer } from './helpers/tmux.js';

for (const name of ['PYTHONUNBUFFERED', '_STDBUF_I', '_STDBUF_O', '_STDBUF_E']) delete process.env[name];

afterAll(() => {
  stopTmuxServer();
  removeTempDirs();
  // Empty: every lab of the file is down. One that still lists a lab is left for the lab tests' own checks to name.
  if (existsSync(REGISTRY) && readdirSync(REGISTRY).length === 0) rmSync(REGISTRY, { recursive: true, force: true });
});
