// The real terminal UI on a real lab, in tmux, as a person sees it: select a
// long-lived connection, forge a RST to the server (the screen and the
// server namespace's own socket table agree it is gone), hold a segment of a
// second connection and release it, quit with q or Ctrl-C, and find no
// namespace left. Also a drop-last-ack run that ends by its own duration.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { netnsList, requireRoot, uniqueLabId } from '../helpers/lab.js';
import { TmuxScreen, buildPrivateCli, hasTmux, removePrivateCli, sleep } from '../helpers/tmux.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const tmuxMissing = !root.skip && !hasTmux();
if (tmuxMissing && process.env.CI === 'true') throw new Error('tmux is missing (bash scripts/bootstrap.sh --test installs it); CI=true, so this fails');
if (tmuxMissing) console.warn('skipping: tmux is not installed (bash scripts/bootstrap.sh --test installs it)');

// ink renders only the last frame when it believes it runs in CI: the
// terminal in tmux is a real one, whatever the test runner's environment says.
const TTY_ENV = { CI: 'false', CONTINUOUS_INTEGRATION: 'false' };

let cli = '';
let manualProfile = '';
let failingProfile = '';
const screens: TmuxScreen[] = [];
const labs: string[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  if (root.skip || tmuxMissing) return;
  cli = buildPrivateCli();
  // No rules and no expectations: the keys alone decide, and a quit is exit 0.
  manualProfile = join(tempDir('tcpmitm-ui-'), 'manual.yaml');
  writeFileSync(manualProfile, 'name: manual\ndescription: every segment passes; the keys decide\nrules: []\n');
  // A four-way close always ends the client in TIME-WAIT: this expectation fails.
  failingProfile = join(dirname(manualProfile), 'failing.yaml');
  writeFileSync(failingProfile, 'name: failing\ndescription: expects what a four-way close never does\nlab:\n  duration: 3\nexpect:\n  client:\n    not: [TIME-WAIT]\n');
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const s of screens.splice(0)) {
    // Ctrl-C first: killing the session outright hangs the terminal up under
    // the run, and the lab must still be torn down by tcpmitm itself.
    if (s.exitCode() === undefined) {
      s.keys('C-c');
      await s.waitExit(15_000).catch(() => undefined);
    }
    s.kill();
  }
  for (const id of labs.splice(0)) {
    if (netnsList().some((n) => n.startsWith(`${id}-`))) spawnSync(process.execPath, [cli, 'lab', 'down', id], { stdio: 'ignore' });
  }
});

afterAll(() => {
  for (const s of screens) s.kill();
  removePrivateCli();
  if (manualProfile) rmSync(dirname(manualProfile), { recursive: true, force: true });
});

function startLab(id: string, size: { cols: number; rows: number }, args: string[]): TmuxScreen {
  labs.push(id);
  const s = TmuxScreen.start(`u5-${id}`, [process.execPath, cli, 'lab', '--id', id, ...args], size, TTY_ENV);
  screens.push(s);
  return s;
}

/** The selected row of the connections table. */
function selectedRow(screen: string): string {
  return screen.split('\n').find((l) => l.startsWith('▶')) ?? '';
}

/** Lines of the ladder pane (they carry both lifelines). */
function ladder(screen: string): string[] {
  return screen.split('\n').filter((l) => (l.match(/│/g) ?? []).length >= 2);
}

/** The event pane's times, in screen order. */
function eventTimes(screen: string): number[] {
  const lines = screen.split('\n');
  const from = lines.findIndex((l) => l.startsWith('── events'));
  return lines
    .slice(from + 1)
    .map((l) => /^\s+(\d+\.\d{3}) /.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
}

function ssIn(ns: string): string {
  return spawnSync('ip', ['netns', 'exec', ns, 'ss', '-tanH'], { encoding: 'utf8' }).stdout;
}

function peer(cli: string, args: string): string {
  return `${process.execPath} ${cli} peer ${args}`;
}

describe.skipIf(root.skip || tmuxMissing)('terminal UI in tmux on a real lab', () => {
  it('R resets the server (screen and kernel agree), h holds a segment, space releases it, q quits cleanly', async () => {
    const id = uniqueLabId('u5t');
    const s = startLab(id, { cols: 80, rows: 24 }, [
      '--profile', manualProfile,
      // A server that never closes by itself and serves a second connection,
      // and a client that connects, sends 10 bytes and then just waits.
      '--server', peer(cli, 'server --host 198.18.0.2 --port 8080 --on-eof never --count 2 --timeout 120000'),
      '--client', peer(cli, 'client --connect 198.18.0.2:8080 --send 10 --then wait:60000 --timeout 120000'),
    ]);

    // 1. The connection comes up; select it explicitly.
    let screen = await s.waitFor('connection #1 established on both ends, kernel included', (sc) =>
      /^▶\s+1 198\.18\.0\.1:\d+\s+ESTAB\s+ESTAB\s+ESTAB\s+ESTAB\b/.test(selectedRow(sc)),
    );
    const clientPort = /198\.18\.0\.1:(\d+)/.exec(selectedRow(screen))![1]!;
    expect(ssIn(`${id}-s`)).toMatch(new RegExp(`ESTAB.*198\\.18\\.0\\.1:${clientPort}`));
    s.keys('Up');

    // 2. R: a RST forged to the server. The table shows the server CLOSED,
    //    inferred and kernel alike; the ladder draws the forged arrow.
    s.keys('R');
    screen = await s.waitFor('the server CLOSED by the kernel', (sc) =>
      /^▶\s+1 \S+\s+ESTAB\s+ESTAB\s+CLOSED\s+CLOSED\b/.test(selectedRow(sc)),
    );
    const rst = ladder(screen).find((l) => l.includes('⚡'));
    expect(rst, screen).toBeDefined();
    expect(rst).toMatch(/RST to server ⚡ RA? seq=11 .*▶│ CLOSED$/);
    expect(screen).toMatch(/forged 1/);
    // The server namespace's own socket table: the connection is gone there,
    // while the client (which got nothing) still has it established.
    expect(ssIn(`${id}-s`)).not.toContain(`198.18.0.1:${clientPort}`);
    expect(ssIn(`${id}-c`)).toMatch(new RegExp(`ESTAB\\s.*198\\.18\\.0\\.1:${clientPort}\\s`));
    // The peers' own output is turned into events, never printed over the frame.
    expect(screen).toContain('server app: ECONNRESET');
    expect(screen).not.toContain('{"peer"');

    // 3. h: hold mode. A second connection's SYN waits at tcpmitm.
    s.keys('h');
    await s.waitFor('HOLD in the header', (sc) => sc.split('\n')[0]!.includes('HOLD'));
    const c2 = spawn('ip', ['netns', 'exec', `${id}-c`, process.execPath, cli, 'peer', 'client', '--connect', '198.18.0.2:8080', '--send', '5', '--then', 'close', '--timeout', '30000'], { stdio: 'ignore' });
    children.push(c2);
    const c2Exit = new Promise<number | null>((r) => c2.on('exit', (code) => r(code)));
    await s.waitFor('connection #2 in the table', (sc) => /^ {4}2 198\.18\.0\.1:\d+\s+SYN-SENT/m.test(sc));
    s.keys('Down');
    screen = await s.waitFor('the SYN of #2 held', (sc) =>
      /^▶\s+2 /.test(selectedRow(sc)) && ladder(sc).some((l) => /S seq=0 len=0 ─+⏸ (held, )?waiting/.test(l)),
    );
    expect(screen).toMatch(/── #2 .*⏸ \d+ waiting/);
    // Nothing reached the server: it has no inferred state for #2 yet.
    expect(selectedRow(screen)).toMatch(/SYN-SENT\s+\S+\s+\?\s/);

    // 4. space: the first held segment (the SYN) is released and delivered;
    //    the server answers with its SYN-ACK (held: hold mode is on), and that
    //    answer, not the SYN's delivery, takes it to SYN-RECV (issue 11).
    s.keys('Space');
    screen = await s.waitFor('the SYN released and answered', (sc) =>
      /#2 release: released syn from client/.test(sc) && /#2 server LISTEN → SYN-RECV \(sent SYN\+ACK seq=0 ack=1\)/.test(sc),
    );
    expect(selectedRow(screen)).toMatch(/SYN-RECV/);

    // 5. a: release everything, leave hold mode; #2 completes its exchange.
    s.keys('a');
    await s.waitFor('HOLD gone and #2 closing', (sc) => !sc.split('\n')[0]!.includes('HOLD') && /FIN-WAIT|TIME-WAIT/.test(selectedRow(sc)));
    expect(await Promise.race([c2Exit, sleep(15_000).then(() => 'timeout')])).toBe(0);

    // Late kernel observations are filed in time order.
    const times = eventTimes(s.capture());
    expect(times.length).toBeGreaterThan(2);
    expect(times).toEqual([...times].sort((a, b) => a - b));

    // 6. q: the last frame says the run ended, exit 0, the lab is gone.
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
    const last = s.capture();
    expect(last).toContain('ended: quit');
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
  });

  it('Ctrl-C quits with full teardown at 120×40', async () => {
    const id = uniqueLabId('u5c');
    const s = startLab(id, { cols: 120, rows: 40 }, [
      '--profile', manualProfile,
      '--server', peer(cli, 'server --host 198.18.0.2 --port 8080 --on-eof never --timeout 60000'),
      '--client', peer(cli, 'client --connect 198.18.0.2:8080 --send 10 --then wait:30000 --timeout 60000'),
    ]);
    const screen = await s.waitFor('connection #1 established', (sc) => /ESTAB\s+ESTAB\s+ESTAB\s+ESTAB/.test(selectedRow(sc)));
    // At 120 columns the table has room for the server address and byte counts.
    expect(screen).toMatch(/client address\s+server address\s+client\s+kernel\s+server\s+kernel\s+c→s\s+s→c\s+age/);
    expect(netnsList().filter((n) => n.startsWith(`${id}-`)).sort()).toEqual([`${id}-c`, `${id}-m`, `${id}-s`]);
    // Ctrl-C is a key in the UI, but the same interrupt as on a terminal without it: 130.
    s.keys('C-c');
    expect(await s.waitExit()).toBe(130);
    expect(s.capture()).toContain('ended: interrupted (Ctrl-C) · ✗ (exit 130)');
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
  });

  it('drop-last-ack at 80×24: ✕ on each last ACK, the server stuck in LAST-ACK, the run ends by its duration', async () => {
    const id = uniqueLabId('u5d');
    const s = startLab(id, { cols: 80, rows: 24 }, ['--profile', 'drop-last-ack']);
    const screen = await s.waitFor('the server in LAST-ACK with a dropped ACK', (sc) =>
      /TIME-WAIT\s+TIME-WAIT\s+LAST-ACK\s+LAST-ACK/.test(selectedRow(sc)) && ladder(sc).some((l) => l.includes('✕')),
    );
    for (const l of ladder(screen).filter((x) => x.includes('✕'))) expect(l).toMatch(/─ A seq=\d+ ack=\d+ len=0 ─+✕ dropped/);
    // Every line fits the terminal: nothing wraps at 80 columns.
    for (const l of screen.split('\n')) expect([...l].length).toBeLessThanOrEqual(80);
    // The run ends by its duration; the final screen stays, verdict on it, until q.
    const last = await s.waitFor('the verdict on the final screen', (sc) => sc.includes('q closes'), 20_000);
    // At 80 columns the header's status is cut; the help bar carries the verdict.
    expect(last).toMatch(/expect ✓\d+ ✗0/);
    expect(last).toMatch(/ended: duration 6s reached \(exit 0\)/);
    expect(last).toMatch(/✓ PASS: \d+ checks met \(exit 0\) · ↑↓ PgUp\/PgDn to read · q closes/);
    await sleep(500);
    expect(s.exitCode()).toBeUndefined();
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
  });

  it('a failed expectation: the final screen says FAIL and q ends with 3, as without the UI', async () => {
    const id = uniqueLabId('u5f');
    const s = startLab(id, { cols: 100, rows: 30 }, ['--profile', failingProfile]);
    const last = await s.waitFor('the verdict on the final screen', (sc) => sc.includes('q closes'), 20_000);
    expect(last).toMatch(/ended: duration 3s reached · ✗ FAIL \(exit 3\)/);
    expect(last).toMatch(/✗ client never \(inferred\)/);
    s.keys('q');
    expect(await s.waitExit()).toBe(3);
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
  });
});
