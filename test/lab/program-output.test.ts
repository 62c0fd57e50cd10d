// A --client/--server command's output reaches the log line by line, whatever
// the program and whatever the caller's environment (issue 11): Python, which
// block-buffers into a pipe unless PYTHONUNBUFFERED is set, and a C stdio
// program (tr), which does unless stdbuf line-buffers it. Each line must be in
// the log long before the program exits; a test machine that happens to set
// PYTHONUNBUFFERED must not hide a missing step (test/setup-env.ts unsets it).

import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { ensureBuilt, labDown, labDownAll, readEvents, runCli } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('tcpmitm-po-');
const ids: string[] = [];

describe.skipIf(root.skip)("programs' output, line by line (real lab)", () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => {
    for (const id of ids.splice(0)) labDown(id);
    labDownAll();
  });

  it('the test itself runs without the buffering variables a fresh machine lacks', () => {
    expect(process.env.PYTHONUNBUFFERED).toBeUndefined();
    expect(process.env._STDBUF_O).toBeUndefined();
  });

  it.each([
    ['python3', `python3 -c "import time; print('first line'); time.sleep(1.5); print('last line')"`],
    ['tr (C stdio)', `sh -c "(echo 'first line'; sleep 1.5; echo 'last line') | tr a-z A-Z"`],
  ])('%s: the first line is logged well before the program exits', async (_name, client) => {
    const id = uniqueLabId('po');
    ids.push(id);
    const json = join(dir, `${id}.jsonl`);
    const run = await runCli(['lab', '--no-ui', '--id', id, '--json', json, '--server', 'python3 -m http.server 8080 --bind 198.18.0.2', '--client', client], 30_000);
    expect(run.code, run.stderr).toBe(0);
    const evs = readEvents(json);
    const lines = evs.filter((e) => e.type === 'app' && e.endpoint === 'client' && e.event === 'output');
    expect(lines.map((e) => String(e.detail).toLowerCase())).toEqual(['first line', 'last line']);
    const exit = evs.find((e) => e.type === 'exit' && e.endpoint === 'client')!;
    // Block-buffered, both lines would arrive together at the exit, 1.5 s after the first was printed.
    expect(exit.t - lines[0]!.t).toBeGreaterThan(1);
    // The server's own log line (http.server writes to stderr, which Python buffers by line anyway) is there too.
    expect(evs.some((e) => e.type === 'app' && e.endpoint === 'server' && String(e.detail).startsWith('Serving HTTP'))).toBe(true);
  });
});
