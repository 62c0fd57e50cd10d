// The real terminal UI on a real lab, in tmux, as a person sees it: select a
// long-lived connection, forge a RST to the server (the screen and the
// server namespace's own socket table agree it is gone), hold a segment of a
// second connection and release it, quit with q or Ctrl-C, and find no
// namespace left. Also a drop-last-ack run that ends by its own duration.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TTY_ENV, tmuxRuns } from '../helpers/tmux-runs.js';
import { netnsList, uniqueLabId } from '../helpers/lab.js';
import { TmuxScreen, sleep } from '../helpers/tmux.js';
import { tempDir } from '../helpers/temp.js';
import { keyBar } from '../../src/ui/key-bar.js';
import { helpLines } from '../../src/ui/help.js';

const runs = tmuxRuns();
const { screens, labs, children } = runs;
let manualProfile = '';
let failingProfile = '';

beforeAll(() => {
  if (runs.skip) return;
  // No rules and no expectations: the keys alone decide, and a quit is exit 0.
  manualProfile = join(tempDir('tcpmitm-ui-'), 'manual.yaml');
  writeFileSync(manualProfile, 'name: manual\ndescription: every segment passes; the keys decide\nrules: []\n');
  // A four-way close always ends the client in TIME-WAIT: this expectation fails.
  failingProfile = join(dirname(manualProfile), 'failing.yaml');
  writeFileSync(failingProfile, 'name: failing\ndescription: expects what a four-way close never does\nlab:\n  duration: 3\nexpect:\n  client:\n    not: [TIME-WAIT]\n');
});

afterAll(() => {
  if (manualProfile) rmSync(dirname(manualProfile), { recursive: true, force: true });
});

function startLab(id: string, size: { cols: number; rows: number }, args: string[]): TmuxScreen {
  labs.push(id);
  const s = TmuxScreen.start(`u5-${id}`, [process.execPath, runs.cli, 'lab', '--id', id, ...args], size, TTY_ENV);
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

/** The help bar (the screen's last line) is the help's: drawn last, so the page above it is complete. */
function helpBarShown(screen: string): boolean {
  const bar = screen.trimEnd().split('\n').at(-1) ?? '';
  return bar.startsWith('help page ') || bar === 'any key closes help';
}

/** The timers line(s) under the ladder (the inference's and the kernel's), up to the events pane. */
function timers(screen: string): string {
  const lines = screen.split('\n');
  const from = lines.findIndex((l) => /^ {2}timers\b/.test(l));
  if (from < 0) return '';
  const to = lines.findIndex((l, i) => i > from && l.startsWith('── events'));
  return lines.slice(from, to < 0 ? undefined : to).join('\n');
}

function ssIn(ns: string): string {
  return spawnSync('ip', ['netns', 'exec', ns, 'ss', '-tanH'], { encoding: 'utf8' }).stdout;
}

/** The words of the screen's last line: the key bar. */
function bottomBar(screen: string): string[] {
  return screen.trimEnd().split('\n').at(-1)!.split(' ');
}

function peer(cli: string, args: string): string {
  return `${process.execPath} ${cli} peer ${args}`;
}

describe.skipIf(runs.skip)('terminal UI in tmux on a real lab', () => {
  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('at $cols×$rows the UI is up before the first SYN, typed keys are not echoed, and the final screen stays until q', async (size) => {
    const id = uniqueLabId('u15s');
    const s = startLab(id, size, ['--profile', 'drop-last-ack']);
    // Typed while the lab is being built and ink loads (once tcpmitm has
    // turned the echo off, a few hundred ms after node starts): never echoed.
    await s.waitFor('the echo off', () => !s.echoes(), 10_000);
    s.keys('z', 'z', 'z');
    const first = await s.waitFor('the first frame', (sc) => sc.startsWith('tcpmitm'), 30_000);
    // Its clock counts from the run's start, which waits for this frame: no connection yet.
    expect(first.split('\n')[0]).toMatch(/ 00:00:00\.\d /);
    expect(first).toContain('select a connection');
    expect(first).not.toMatch(/^▶/m);
    // …then the SYN, drawn.
    await s.waitFor('the SYN on the ladder', (sc) => ladder(sc).some((l) => /─ S seq=0 len=0 ─/.test(l)));
    const last = await s.waitFor('the verdict on the final screen', (sc) => sc.includes('q closes'), 20_000);
    expect(last).not.toContain('zzz');
    await sleep(1500);
    // The run is over, and the screen stays.
    expect(s.exitCode()).toBeUndefined();
    expect(s.capture()).toContain('q closes');
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
    // Echo is back once tcpmitm has gone: a typed word shows at the shell's prompt.
    s.keys('e', 'c', 'h', 'o', 'd');
    await s.waitFor('echo restored', (sc) => sc.includes('echod'), 5000);
  });

  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('at $cols×$rows the ladder marks retransmitted FINs and roles, S switches to absolute numbers and back, the timers line agrees with ss -o, ladder and events share one time base', async (size) => {
    const id = uniqueLabId('u15l');
    const s = startLab(id, size, ['--profile', 'drop-last-ack', '--tcp-options']);
    // The dropped last ACK makes the server send its FIN again.
    let screen = await s.waitFor('a retransmitted FIN', (sc) => ladder(sc).some((l) => /◀─+ FA seq=\d+ ack=\d+ len=0 RETRANSMISSION #1 ─/.test(l)));
    expect(ladder(screen).some((l) => /A seq=\d+ ack=\d+ len=0 ─+✕ dropped last-ack/.test(l)), screen).toBe(true);
    expect(screen).toMatch(/── events · s since the run started ─/);
    // The timers, as ss -o gives them: the client's TIME-WAIT as the kernel reports it, against ss -tanoi in its namespace, within a second and a half (ss rounds to seconds).
    screen = await s.waitFor('the timers line', (sc) => /timers: client TIME-WAIT \d+\.\ds left \(kernel\)/.test(sc));
    const ss = spawnSync('ip', ['netns', 'exec', `${id}-c`, 'ss', '-tanoiH', 'state', 'time-wait'], { encoding: 'utf8' }).stdout;
    const uiLeft = Number(/client TIME-WAIT (\d+\.\d)s left \(kernel\)/.exec(screen)![1]);
    // ss prints the time left as "59sec", "1min", "1min2sec" or "800ms".
    const kernelLeft = /timer:\(timewait,([^,]+),/.exec(ss);
    expect(kernelLeft, ss).not.toBeNull();
    const unit = { min: 60, sec: 1, ms: 0.001 } as const;
    const kSec = [...kernelLeft![1]!.matchAll(/(\d+(?:\.\d+)?)(min|sec|ms)/g)].reduce((sum, m) => sum + Number(m[1]) * unit[m[2] as keyof typeof unit], 0);
    expect(Math.abs(uiLeft - kSec), `UI ${uiLeft}s, ss: ${ss}`).toBeLessThanOrEqual(1.5);
    if (size.cols >= 100) expect(screen).toMatch(/server .*FIN ×\d+, next (≈|overdue )\d+\.\ds \(inferred\)/);
    s.keys('S');
    screen = await s.waitFor('absolute numbers', (sc) => sc.includes('seq absolute'));
    // The server's FIN, now as on the wire: a seq no relative numbering gives this early in a connection.
    const fin = ladder(screen).find((l) => /FA seq=\d+/.test(l));
    expect(Number(/FA seq=(\d+)/.exec(fin ?? '')?.[1]), screen).toBeGreaterThan(1000);
    s.keys('S');
    await s.waitFor('relative numbers again', (sc) => !sc.includes('seq absolute') && sc.includes('sequence numbers relative'));
    // o: the options the SYN carried, as tcpdump prints them.
    s.keys('Home');
    await sleep(200);
    s.keys('o');
    await s.waitFor('the SYN\'s options', (sc) => ladder(sc).some((l) => /─ S seq=0 len=0 \[mss \d+,sackOK,TS val/.test(l)));
    s.keys('o');
    await s.waitFor('the options hidden', (sc) => sc.includes('TCP options hidden') && !ladder(sc).some((l) => l.includes('[mss')));
    s.keys('End');
    await s.waitFor('the final screen', (sc) => sc.includes('q closes'), 20_000);
    if (size.cols >= 100) {
      // One time base: the SYN's time on the ladder is the connection's in the events (scrolled back to with [).
      s.keys('Home');
      let sc = await s.waitFor('the SYN at the ladder\'s top', (x) => ladder(x).some((l) => /─ S seq=0 len=0 ─/.test(l)));
      for (let i = 0; i < 20 && !/#1 198\.18\.0\.1:\d+ → /.test(sc); i++) {
        s.keys('[');
        await sleep(150);
        sc = s.capture();
      }
      const synT = Number(/^\s+(\d+\.\d{3})\s+SYN-SENT │/m.exec(sc)?.[1]);
      const connT = Number(/^\s+(\d+\.\d{3}) #1 198\.18\.0\.1:\d+ → /m.exec(sc)?.[1]);
      expect(Number.isFinite(synT) && Number.isFinite(connT), sc).toBe(true);
      expect(Math.abs(synT - connT)).toBeLessThanOrEqual(0.002);
      expect(sc).toMatch(/── events ⇡\d+-\d+\/\d+ \(\] newer\)/);
    }
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
  });

  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('at $cols×$rows "dropping the next segment…" stays until the drop, then goes; b with one end CLOSED resets the other and says so', async (size) => {
    const id = uniqueLabId('u15d');
    const s = startLab(id, size, [
      '--profile', manualProfile,
      '--server', peer(runs.cli, 'server --host 198.18.0.2 --port 8080 --on-eof close --timeout 60000'),
      // Its FIN comes 2.5 s after its data: d then c waits for it.
      '--client', peer(runs.cli, 'client --connect 198.18.0.2:8080 --send 10 --then wait:2500 --timeout 60000'),
    ]);
    await s.waitFor('connection #1 established', (sc) => /^▶\s+1 \S+\s+(\S+\s+)?ESTAB\s+ESTAB/m.test(sc));
    // Two key presses, as a person types them (one send-keys would reach ink as the one input "dc").
    s.keys('d');
    await s.waitFor('the drop prompt', (sc) => sc.includes('drop the next segment from:'));
    s.keys('c');
    await s.waitFor('the announcement', (sc) => sc.includes('dropping the next segment from the client…'));
    await s.waitFor('the FIN dropped and the announcement gone', (sc) => ladder(sc).some((l) => /─ FA seq=11 ack=1 len=0 ─+✕/.test(l)) && !sc.includes('dropping the next segment'), 15_000);
    // Then the client's FIN again and the close goes on: the client in TIME-WAIT, the server CLOSED.
    await s.waitFor('the server CLOSED', (sc) => /^▶\s+1 \S+\s+(\S+\s+)?TIME-WAIT\s+\S+\s+CLOSED\b/m.test(sc), 20_000);
    // b: the client alone is reset, and the help bar says the server was CLOSED (the engine would have had no numbers for it).
    s.keys('b');
    await s.waitFor('b to the client only', (sc) => sc.includes('RST to the client only: the server of #1 is CLOSED'));
    await s.waitFor('the forged RST to the client', (sc) => ladder(sc).some((l) => l.includes('RST to client')));
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
  });

  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('at $cols×$rows / filters the table, e the events, P pauses the view while the run goes on', async (size) => {
    const id = uniqueLabId('u15f');
    const s = startLab(id, size, [
      '--profile', manualProfile,
      '--server', peer(runs.cli, 'server --host 198.18.0.2 --port 8080 --on-eof close --timeout 60000'),
      '--client', peer(runs.cli, 'client --connect 198.18.0.2:8080 --send 10 --then wait:3000 --timeout 60000'),
    ]);
    await s.waitFor('connection #1 established', (sc) => /^▶\s+1 \S+\s+(\S+\s+)?ESTAB\s+ESTAB/m.test(sc));
    const type = async (text: string): Promise<void> => {
      for (const ch of text) {
        s.keys(ch);
        await sleep(60);
      }
    };
    s.keys('/');
    await s.waitFor('the filter prompt', (sc) => sc.includes('connections matching: '));
    await type('9999');
    s.keys('Enter');
    await s.waitFor('nothing matches port 9999', (sc) => sc.includes('connections matching "9999" (0 of 1)') && sc.includes('none matches'));
    s.keys('/');
    await s.waitFor('the filter prompt again', (sc) => sc.includes('connections matching: 9999'));
    for (let i = 0; i < 4; i++) {
      s.keys('BSpace');
      await sleep(60);
    }
    await type('8080');
    s.keys('Enter');
    await s.waitFor('port 8080 matches #1', (sc) => sc.includes('connections matching "8080" (1 of 1)') && /^▶\s+1 /m.test(sc));
    s.keys('e');
    await s.waitFor('the events of states only', (sc) => sc.includes('── events (states only)'));
    // P: the view stops while the client closes; the table stays ESTAB until P again.
    s.keys('P');
    const paused = await s.waitFor('the view paused', (sc) => sc.split('\n')[0]!.includes('PAUSED'));
    expect(paused).toMatch(/^▶\s+1 \S+\s+(\S+\s+)?ESTAB\s+ESTAB/m);
    await s.waitFor('events waiting', (sc) => /PAUSED: [1-9]\d* events wait/.test(sc), 15_000);
    expect(s.capture()).toMatch(/^▶\s+1 \S+\s+(\S+\s+)?ESTAB\s+ESTAB/m);
    s.keys('P');
    await s.waitFor('the close, once resumed', (sc) => !sc.split('\n')[0]!.includes('PAUSED') && /^▶\s+1 \S+\s+(\S+\s+)?TIME-WAIT/m.test(sc));
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
  });

  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('at $cols×$rows keys sent in one go act one by one (d c in one send-keys), and the help holds every key of the key bar', async (size) => {
    const id = uniqueLabId('uk15k');
    const s = startLab(id, size, [
      '--profile', manualProfile,
      '--server', peer(runs.cli, 'server --host 198.18.0.2 --port 8080 --on-eof close --timeout 60000'),
      '--client', peer(runs.cli, 'client --connect 198.18.0.2:8080 --send 10 --then wait:2500 --timeout 60000'),
    ]);
    await s.waitFor('connection #1 established', (sc) => /^▶\s+1 \S+\s+(\S+\s+)?ESTAB\s+ESTAB/m.test(sc));
    // One send-keys of two keys: the terminal hands them to the UI as the one input "dc".
    s.keys('d', 'c');
    await s.waitFor('the announcement', (sc) => sc.includes('dropping the next segment from the client…'));
    await s.waitFor('the FIN dropped and the announcement gone', (sc) => ladder(sc).some((l) => /─ FA seq=11 ack=1 len=0 ─+✕/.test(l)) && !sc.includes('dropping the next segment'), 15_000);

    // The key bar as this width shows it (a capture can catch it half drawn: waited for whole); each of its keys is in the help, on one page or another.
    const { keys } = keyBar(true, size.cols);
    await s.waitFor('every key of the key bar', (sc) => keys.every((k) => bottomBar(sc).includes(k.key)), 10_000);
    s.keys('?');
    // The help bar is drawn last: once it names the help, the whole page is on the screen.
    let screen = await s.waitFor('the help', (sc) => sc.includes('── keys') && helpBarShown(sc));
    const pages = [screen];
    for (let i = 0; i < 5 && /── keys — page (\d+) of (\d+), Space: the next/.test(screen); i++) {
      const at = /page (\d+) of/.exec(screen)![1];
      s.keys('Space');
      screen = await s.waitFor('the next help page', (sc) => sc.includes('── keys') && helpBarShown(sc) && /help page (\d+) of/.exec(sc)?.[1] !== at);
      pages.push(screen);
    }
    // 80×24: two pages; 160×50: all on one.
    expect(pages).toHaveLength(size.rows >= 40 ? 1 : 2);
    const help = pages.map((p) => p.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim())).flat();
    for (const k of keys) expect(help.some((l) => l.startsWith(`${k.key} `)), `${k.key} in the help:\n${help.join('\n')}`).toBe(true);
    // Not one line cut: each is on the screen whole.
    for (const l of helpLines(true)) if (l !== '') expect(help, l).toContain(l.trim());
    s.keys('Space');
    await s.waitFor('the help closed', (sc) => !sc.includes('── keys') && sc.includes('── events'));
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
  });

  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('tap at $cols×$rows: its header says tap, its keys are only what tap can do, and on loopback the kernel columns are filled', async (size) => {
    const ns = `u15tap${size.cols}`;
    const port = 9150 + (size.cols % 7);
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const s = TmuxScreen.start(`u15-${ns}`, ['ip', 'netns', 'exec', ns, process.execPath, runs.cli, 'tap', '--iface', 'lo', '--port', String(port)], size, TTY_ENV);
      screens.push(s);
      // The header drawn whole (a capture can catch a line half drawn).
      const header = new RegExp(`^tcpmitm tap lo:${port} profile passthrough`);
      let screen = await s.waitFor('the first frame, its header saying tap', (sc) => header.test(sc.split('\n')[0]!), 30_000);
      expect(screen).not.toContain('lab tap');
      // Every key tap's bar offers is in its help (paged at 80×24), and none it does not offer. The bar read once it is drawn whole.
      const tapKeys = keyBar(false, size.cols).keys;
      const bar = bottomBar(await s.waitFor("every key of tap's key bar", (sc) => tapKeys.every((k) => bottomBar(sc).includes(k.key)), 10_000)).join(' ');
      expect(bar).toContain('r/R/b forge RST');
      expect(bar).not.toMatch(/d drop|FIN-delay|h hold/);
      s.keys('h');
      screen = await s.waitFor('h refused', (sc) => sc.includes('tap watches beside the path'));
      expect(screen).not.toContain('hold mode on');
      expect(screen.split('\n')[0]).not.toContain('HOLD');
      s.keys('?');
      let help = await s.waitFor('the help', (sc) => sc.includes('── keys') && helpBarShown(sc));
      const pages = [help];
      while (/── keys — page \d+ of \d+, Space: the next/.test(help) && pages.length < 5) {
        const at = /page (\d+) of/.exec(help)![1];
        s.keys('Space');
        help = await s.waitFor('the next help page', (sc) => sc.includes('── keys') && helpBarShown(sc) && /help page (\d+) of/.exec(sc)?.[1] !== at);
        pages.push(help);
      }
      const helpText = pages.map((p) => p.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim())).flat();
      for (const k of tapKeys) expect(helpText.some((l) => l.startsWith(`${k.key} `)), k.key).toBe(true);
      expect(helpText.some((l) => /^(d|f|h) /.test(l))).toBe(false);
      s.keys('Escape');
      await s.waitFor('the help closed', (sc) => !sc.includes('── keys'));
      const server = spawn('ip', ['netns', 'exec', ns, process.execPath, runs.cli, 'peer', 'server', '--host', '127.0.0.1', '--port', String(port), '--on-eof', 'close', '--timeout', '20000'], { stdio: 'ignore' });
      children.push(server);
      await sleep(800);
      const client = spawn('ip', ['netns', 'exec', ns, process.execPath, runs.cli, 'peer', 'client', '--connect', `127.0.0.1:${port}`, '--send', '10', '--then', 'wait:4000', '--timeout', '20000'], { stdio: 'ignore' });
      children.push(client);
      // Inferred and kernel alike, both ends: ESTAB in all four columns.
      await s.waitFor('both ends ESTAB, kernel included', (sc) => /^▶\s+1 127\.0\.0\.1:\d+\s+(127\.0\.0\.1:\d+\s+)?ESTAB\s+ESTAB\s+ESTAB\s+ESTAB\b/m.test(sc));
      s.keys('q');
      expect(await s.waitExit()).toBe(0);
    } finally {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  });

  it('R resets the server (screen and kernel agree), h holds a segment, space releases it, q quits cleanly', async () => {
    const id = uniqueLabId('u5t');
    const s = startLab(id, { cols: 80, rows: 24 }, [
      '--profile', manualProfile,
      // A server that never closes by itself and serves a second connection,
      // and a client that connects, sends 10 bytes and then just waits.
      '--server', peer(runs.cli, 'server --host 198.18.0.2 --port 8080 --on-eof never --count 2 --timeout 120000'),
      '--client', peer(runs.cli, 'client --connect 198.18.0.2:8080 --send 10 --then wait:60000 --timeout 120000'),
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
    const c2 = spawn('ip', ['netns', 'exec', `${id}-c`, process.execPath, runs.cli, 'peer', 'client', '--connect', '198.18.0.2:8080', '--send', '5', '--then', 'close', '--timeout', '30000'], { stdio: 'ignore' });
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
      '--server', peer(runs.cli, 'server --host 198.18.0.2 --port 8080 --on-eof never --timeout 60000'),
      '--client', peer(runs.cli, 'client --connect 198.18.0.2:8080 --send 10 --then wait:30000 --timeout 60000'),
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

  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('drop-last-ack at $cols×$rows: the drops\' words whole, and once the run has ended its screen stands still and its acting keys say so', async (size) => {
    const id = uniqueLabId('uk15e');
    const s = startLab(id, size, ['--profile', 'drop-last-ack']);
    const last = await s.waitFor('the final screen with the timers line', (sc) => sc.includes('q closes') && timers(sc) !== '', 20_000);
    const drops = ladder(last).filter((l) => l.includes('✕'));
    expect(drops.length).toBeGreaterThan(0);
    // At 80 columns "from client" gives way rather than the words being cut; at 160 they are whole.
    for (const l of drops) expect(l).toMatch(size.cols >= 160 ? /✕ dropped last-ack from client +│/ : /✕ dropped last-ack +│/);
    // The clock has stopped: a second and a half on, the ages and the timers read as at the end.
    await sleep(1500);
    const later = s.capture();
    expect(timers(later)).toBe(timers(last));
    expect(selectedRow(later)).toBe(selectedRow(last));
    // d, r and P have nothing left to act on: they say so, and d opens no prompt.
    for (const k of ['d', 'r', 'P']) {
      s.keys(k);
      const sc = await s.waitFor(`${k} refused`, (x) => x.includes('the run has ended: nothing reaches its connections any more (q closes)'));
      expect(sc).not.toContain('drop the next segment from:');
      expect(sc.split('\n')[0]).not.toContain('PAUSED');
      s.keys('Down');
      await s.waitFor('the footer back', (x) => x.includes('q closes') && !x.includes('the run has ended: nothing'));
    }
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
  });

  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('delay-fin at $cols×$rows: a segment queued behind delayed ones says behind how many, uncut; the filter prompt shows Enter and Esc', async (size) => {
    const id = uniqueLabId('uk15q');
    const s = startLab(id, size, ['--profile', 'delay-fin']);
    const screen = await s.waitFor('a segment queued behind the delayed FINs', (sc) => ladder(sc).some((l) => l.includes('queued behind')), 20_000);
    for (const l of ladder(screen).filter((x) => x.includes('queued behind'))) {
      expect(l).not.toMatch(/queued behind[^⏱]*…/);
      expect(l).toMatch(size.cols >= 160 ? /queued behind \d+ delayed segments? ⏱/ : /queued behind \d+( delayed segments?)? ⏱/);
    }
    s.keys('/');
    const prompt = await s.waitFor('the filter prompt', (sc) => sc.includes('connections matching: '));
    const bar = prompt.trimEnd().split('\n').at(-1)!;
    expect(bar).toContain('Enter apply (empty: all)  Esc cancel');
    if (size.cols >= 160) expect(bar).toContain('e.g. #3  8080  ESTAB  client=FIN-WAIT-2');
    s.keys('Escape');
    await s.waitFor('the prompt gone', (sc) => !sc.includes('connections matching: '));
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
  });

  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('at $cols×$rows h shows HOLD in the header even with a 12-character lab id and the longest profile name; a releases and it goes', async (size) => {
    const id = uniqueLabId('uk15hold');
    expect(id).toHaveLength(12);
    const s = startLab(id, size, ['--profile', 'time-wait-assassination']);
    await s.waitFor('the first frame', (sc) => sc.startsWith('tcpmitm lab'));
    s.keys('h');
    const held = await s.waitFor('HOLD in the header and the SYN held', (sc) => sc.split('\n')[0]!.includes(' HOLD ') && ladder(sc).some((l) => l.includes('⏸')), 15_000);
    const head = held.split('\n')[0]!;
    expect(head).toMatch(new RegExp(`^tcpmitm lab ${id} profile time-wait-assassination {2}\\d\\d:\\d\\d:\\d\\d\\.\\d {3}HOLD `));
    expect([...head.trimEnd()].length).toBeLessThanOrEqual(size.cols);
    s.keys('a');
    await s.waitFor('HOLD gone', (sc) => !sc.split('\n')[0]!.includes('HOLD'));
    s.keys('q');
    await s.waitExit();
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
