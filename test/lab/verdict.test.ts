// The exit code is the verdict (issue 11), through the real CLI on real labs
// with programs of a user's own: a client that exits non-zero fails the run
// unless the profile expects it; a command that cannot start fails at once;
// --until-closed lets a server finish its report, then stops one that never
// exits and says so; a built-in profile's app checks are not checked with
// custom commands, a profile of the user's own that asks for them is refused;
// the JUnit file is read by a real JUnit consumer (junitparser, from Debian).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { ensureBuilt, labDown, labDownAll, leftovers, readEvents, runCli, type CliRun, type LabEvent } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('tcpmitm-vd-');
const ids: string[] = [];

/** Debian's own python3 (apt's python3-junitparser installs for it), not whatever python3 is first on PATH. */
const DEBIAN_PYTHON = '/usr/bin/python3';
const hasJunitparser = spawnSync(DEBIAN_PYTHON, ['-c', 'import junitparser']).status === 0;
if (!hasJunitparser && process.env.CI === 'true') throw new Error('python3-junitparser is missing (bash scripts/bootstrap.sh --test installs it); CI=true, so this fails');

function profile(name: string, yaml: string): string {
  const p = join(dir, `${name}.yaml`);
  writeFileSync(p, `name: ${name}\ndescription: a test profile\n${yaml}`);
  return p;
}

async function lab(extra: readonly string[], timeoutMs = 30_000): Promise<{ run: CliRun; evs: LabEvent[]; json: string }> {
  const id = uniqueLabId('vd');
  ids.push(id);
  const json = join(dir, `${id}.jsonl`);
  const run = await runCli(['lab', '--no-ui', '--id', id, '--json', json, ...extra], timeoutMs);
  expect(leftovers(id)).toEqual([]);
  return { run, evs: readEvents(json), json };
}

function explain(r: CliRun): string {
  return `exit ${r.code} after ${Math.round(r.ms)} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

const checks = (evs: readonly LabEvent[]) => evs.filter((e) => e.type === 'expectation').map((e) => [e.subject, e.status]);
const exits = (evs: readonly LabEvent[]) => evs.filter((e) => e.type === 'exit');

/** A python3 server: accept one connection, read to EOF, then write twice after `lateMs` (the second write meets the client's RST), report, exit 0. */
const LATE_WRITER = (lateMs: number, reportAfterMs: number) =>
  `python3 -c "
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(('198.18.0.2', 8080)); l.listen()
s, _ = l.accept()
while s.recv(4096): pass
time.sleep(${lateMs / 1000})
try:
    s.send(b'late'); time.sleep(0.2); s.send(b'again')
    what = 'no error'
except OSError as e:
    what = type(e).__name__
time.sleep(${reportAfterMs / 1000})
print('late write:', what)
"`;

/** A python3 client: connect, send, close; exit `code`. */
const CLIENT = (code = 0) =>
  `python3 -c "
import socket, sys
c = socket.create_connection(('198.18.0.2', 8080)); c.sendall(b'x' * 100); c.close(); sys.exit(${code})
"`;

describe.skipIf(root.skip)('the verdict: exit codes with programs of your own (real labs)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => {
    for (const id of ids.splice(0)) labDown(id);
    labDownAll();
  });

  it('a client that exits 7 fails the run (exit 3), in every output; the JUnit file says so to junitparser', async () => {
    const junit = join(dir, 'exit7.xml');
    const { run, evs } = await lab([
      '--server', 'python3 -m http.server 8080 --bind 198.18.0.2',
      '--client', 'sh -c "echo bye; exit 7"',
      '--junit', junit,
    ]);
    expect(run.code, explain(run)).toBe(3);
    const [client, server] = [exits(evs).find((e) => e.endpoint === 'client'), exits(evs).find((e) => e.endpoint === 'server')];
    expect(client).toMatchObject({ code: 7, by: 'self', command: 'sh -c "echo bye; exit 7"' });
    // http.server never exits by itself: tcpmitm stopped it, and says so; that is no failure.
    expect(server).toMatchObject({ signal: 'TERM', by: 'tcpmitm' });
    expect(checks(evs)).toEqual([['client exit', 'failed'], ['server exit', 'met']]);
    expect(evs.at(-1)).toMatchObject({ type: 'end', exitCode: 3 });
    expect(run.stdout).toMatch(/client exit: exit 7 {2}\(sh -c "echo bye; exit 7"\)/);
    expect(run.stdout).toMatch(/server exit: still running at the end of the run: stopped by tcpmitm \(SIGTERM\)/);
    expect(run.stderr).toMatch(/FAIL client exit\n\s+expected: exit 0\n\s+observed: sh -c "echo bye; exit 7": exit 7 at/);

    if (!hasJunitparser) return console.warn('skipping the JUnit consumer: python3-junitparser is not installed');
    const parsed = spawnSync(DEBIAN_PYTHON, ['-c', `
import json, sys
from junitparser import JUnitXml, Failure, Skipped, Error
xml = JUnitXml.fromfile(sys.argv[1])
out = []
for suite in xml:
    for case in suite:
        kind = [type(r).__name__ for r in case.result]
        out.append([suite.name, case.name, kind, [r.message for r in case.result]])
print(json.dumps({"tests": xml.tests, "failures": xml.failures, "errors": xml.errors, "skipped": xml.skipped, "cases": out}))
`, junit], { encoding: 'utf8' });
    expect(parsed.status, parsed.stderr).toBe(0);
    const j = JSON.parse(parsed.stdout) as { tests: number; failures: number; errors: number; skipped: number; cases: [string, string, string[], string[]][] };
    expect({ tests: j.tests, failures: j.failures, errors: j.errors, skipped: j.skipped }).toEqual({ tests: 3, failures: 1, errors: 0, skipped: 0 });
    expect(j.cases.map(([, name, kind]) => [name, kind])).toEqual([['run', []], ['client exit', ['Failure']], ['server exit', []]]);
    expect(j.cases[1]![3][0]).toMatch(/^expected exit 0, observed sh -c "echo bye; exit 7": exit 7 at \d+\.\d{3}s$/);
    expect(j.cases[0]![0]).toMatch(/^tcpmitm lab vd[0-9a-f]{6}: profile passthrough$/);
    // Well-formed XML for any other reader too.
    expect(readFileSync(junit, 'utf8')).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
  });

  it('…unless the profile expects that exit (expect.client.exit: 7): exit 0', async () => {
    const p = profile('exits-seven', 'rules: []\nexpect:\n  client:\n    exit: 7\n');
    const { run, evs } = await lab(['--profile', p, '--server', 'python3 -m http.server 8080 --bind 198.18.0.2', '--client', 'sh -c "exit 7"']);
    expect(run.code, explain(run)).toBe(0);
    expect(evs.find((e) => e.type === 'expectation' && e.subject === 'client exit')).toMatchObject({ status: 'met', expected: 'exit 7' });
  });

  it('a client that cannot start fails at once with the shell\'s message (exit 2), not after the built-in server\'s 60 s timeout', async () => {
    const { run, evs } = await lab(['--client', 'nosuchclient --flag']);
    expect(run.code, explain(run)).toBe(2);
    expect(run.stderr).toContain('tcpmitm: the client command could not start (exit 127): sh: 1: nosuchclient: not found [E_PEER_START]');
    expect(exits(evs).find((e) => e.endpoint === 'client')).toMatchObject({ code: 127, notStarted: 'sh: 1: nosuchclient: not found' });
    // The built-in server, waiting for a connection that never comes, was stopped at once.
    expect(exits(evs).find((e) => e.endpoint === 'server')).toMatchObject({ by: 'tcpmitm' });
    expect(evs.some((e) => e.type === 'app' && e.event === 'timeout')).toBe(false);
    expect(run.ms).toBeLessThan(30_000);
  });

  it('a server command that cannot start fails the same way (exit 2)', async () => {
    const { run } = await lab(['--server', './no-such-server']);
    expect(run.code, explain(run)).toBe(2);
    expect(run.stderr).toMatch(/the server command could not start \(exit 127\): sh: 1: \.\/no-such-server: not found/);
  });

  it('--until-closed: a server that reports after everything closed finishes by itself within --server-grace; its report is in the log', async () => {
    // The server writes 300 ms after EOF (the client's kernel answers with a
    // RST: everything is closed then) and reports 400 ms later: inside the
    // 1 s grace, so the line arrives and the server exits 0 by itself.
    const { run, evs } = await lab(['--until-closed', '--server', LATE_WRITER(300, 400), '--client', CLIENT()]);
    expect(run.code, explain(run)).toBe(0);
    const report = evs.find((e) => e.type === 'app' && e.endpoint === 'server' && e.event === 'output');
    expect(report?.detail).toMatch(/^late write: (BrokenPipeError|ConnectionResetError)$/);
    expect(exits(evs).find((e) => e.endpoint === 'server')).toMatchObject({ code: 0, by: 'self' });
    expect(evs.at(-1)).toMatchObject({ type: 'end', reason: 'all connections closed', exitCode: 0 });
  });

  it('--server-grace 0: the same server is stopped by tcpmitm before its report, and the log says who stopped it', async () => {
    const { run, evs } = await lab(['--until-closed', '--server-grace', '0', '--server', LATE_WRITER(300, 1500), '--client', CLIENT()]);
    expect(run.code, explain(run)).toBe(0);
    expect(evs.some((e) => e.type === 'app' && e.endpoint === 'server' && e.event === 'output')).toBe(false);
    expect(exits(evs).find((e) => e.endpoint === 'server')).toMatchObject({ by: 'tcpmitm' });
    expect(run.stdout).toMatch(/server exit: still running at the end of the run: stopped by tcpmitm/);
  });

  it('a built-in profile with app checks, named, with programs of your own: app not checked (skipped in JUnit), states still checked', async () => {
    // forge-rst's scenario played by python3: the client half-closes and
    // reads; the server reads to EOF and writes late. The app events the
    // built-in peers would print cannot come from these programs.
    const junit = join(dir, 'forge.xml');
    const client = `python3 -c "
import socket
c = socket.create_connection(('198.18.0.2', 8080)); c.sendall(b'x' * 100); c.shutdown(socket.SHUT_WR)
try: c.recv(100)
except OSError as e: print('client got', type(e).__name__)
"`;
    const { run, evs } = await lab(['--profile', 'forge-rst', '--kernel-probe', 'trace', '--server', LATE_WRITER(200, 0), '--client', client, '--junit', junit]);
    expect(run.code, explain(run)).toBe(0);
    expect(checks(evs)).toEqual(expect.arrayContaining([
      ['client app', 'not-checked'],
      ['server app', 'not-checked'],
      ['client states (inferred)', 'met'],
      ['client states (kernel)', 'met'],
      ['server states (kernel)', 'met'],
      ['client exit', 'met'],
      ['server exit', 'met'],
    ]));
    expect(evs.find((e) => e.type === 'expectation' && e.subject === 'client app')?.observed).toBe('not checked: --client is a custom command');
    expect(evs.some((e) => e.type === 'app' && e.endpoint === 'client' && e.detail === 'client got ConnectionResetError')).toBe(true);
    expect(run.stderr).toMatch(/SKIP client app\n\s+expected: .*\n\s+observed: not checked: --client is a custom command/);
    expect(run.stdout).not.toMatch(/ (PASS|FAIL|SKIP) /);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testcase classname="tcpmitm.forge-rst" name="client app" time="0">\n\s+<skipped message="not checked: --client is a custom command"\/>/);
    if (hasJunitparser) {
      const n = spawnSync(DEBIAN_PYTHON, ['-c', 'import sys; from junitparser import JUnitXml; x = JUnitXml.fromfile(sys.argv[1]); print(x.skipped, x.failures)', junit], { encoding: 'utf8' });
      expect(n.stdout.trim()).toBe('2 0');
    }
  });

  it('a profile of your own asking for app events with a custom client is refused before anything starts (exit 2, saying why)', async () => {
    const p = profile('mine', 'rules: []\nexpect:\n  client:\n    app: [ECONNRESET]\n');
    const { run, evs } = await lab(['--profile', p, '--client', CLIENT()]);
    expect(run.code, explain(run)).toBe(2);
    expect(run.stderr).toContain("expects what cannot be checked in lab mode: client app events (ECONNRESET), but --client is a custom command: only tcpmitm's built-in peers report them [E_PROFILE_EXPECT]");
    expect(evs).toEqual([]);
  });

  it('…and one asking for kernel states with the probe off', async () => {
    const p = profile('kernel-only', 'rules: []\nexpect:\n  client:\n    states: [ESTAB]\n    source: kernel\n');
    const { run } = await lab(['--profile', p, '--kernel-probe', 'off']);
    expect(run.code, explain(run)).toBe(2);
    expect(run.stderr).toContain('client states from the kernel (source: kernel), but the kernel probe is off (--kernel-probe off)');
  });
});
