// The UI's timers line against the kernel's own (issue 15): in tmux, at 80×24
// and 160×50, a drop-last-ack run leaves the client in TIME-WAIT and the
// server in LAST-ACK retransmitting its FIN; the timers marked `kernel` must
// agree with `ss -tanoi` run in the lab's namespaces at the same moment,
// within a second: TIME-WAIT's time left, the retransmit timer's next expiry
// and its count; at 160 columns the inferred TIME-WAIT beside it agrees with
// the kernel's too. And tap on loopback, whose ends are this host's sockets.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TTY_ENV, tmuxRuns } from '../helpers/tmux-runs.js';
import { netnsList, uniqueLabId } from '../helpers/lab.js';
import { TmuxScreen, sleep } from '../helpers/tmux.js';
import { distanceFrom, ssTimers } from '../helpers/ss-timer.js';

const runs = tmuxRuns();
const { screens, labs, children } = runs;

function ssIn(ns: string, state: string): string {
  return spawnSync('ip', ['netns', 'exec', ns, 'ss', '-tanoiH', 'state', state], { encoding: 'utf8' }).stdout;
}

const TIME_WAIT = /client TIME-WAIT (\d+\.\d)s left \(kernel\)/;
const RETRANSMIT = /server retransmit ×(\d+), next in (\d+\.\d)s \(kernel\)/;

describe.skipIf(runs.skip)('the timers line against ss -tanoi', () => {
  it.each([
    { cols: 80, rows: 24 },
    { cols: 160, rows: 50 },
  ])('at $cols×$rows the kernel\'s TIME-WAIT and retransmit timers agree with ss in the lab namespaces within a second', async (size) => {
    const id = uniqueLabId('kt15');
    labs.push(id);
    // Longer than the profile's 6 s: the server's FIN goes out again at doubling waits (0.2, 0.4, … 3.3 s).
    const s = TmuxScreen.start(`kt-${id}`, [process.execPath, runs.cli, 'lab', '--id', id, '--profile', 'drop-last-ack', '--duration', '20'], size, TTY_ENV);
    screens.push(s);
    await s.waitFor('both kernel timers', (sc) => TIME_WAIT.test(sc) && RETRANSMIT.test(sc), 30_000);
    // A screen and ss taken a few ms apart: compared unless a retransmit timer fired in between (its count and expiry then change).
    let compared = 0;
    for (let attempt = 0; attempt < 20 && compared < 2; attempt++) {
      const screen = s.capture();
      const tw = ssTimers(ssIn(`${id}-c`, 'time-wait'));
      const on = ssTimers(ssIn(`${id}-s`, 'last-ack'));
      const uiTw = TIME_WAIT.exec(screen);
      const uiOn = RETRANSMIT.exec(screen);
      expect(tw.map((t) => t.name), 'the client socket in ss').toEqual(['timewait']);
      expect(on.map((t) => t.name), 'the server socket in ss').toEqual(['on']);
      expect(uiTw, screen).not.toBeNull();
      expect(uiOn, screen).not.toBeNull();
      const uiNext = Number(uiOn![2]);
      if (on[0]!.seconds < 0.5 || uiNext < 0.5) {
        await sleep(400);
        continue;
      }
      const detail = `UI: ${uiTw![0]} · ${uiOn![0]}; ss: ${JSON.stringify([tw[0], on[0]])}\n${screen}`;
      expect(distanceFrom(tw[0]!, Number(uiTw![1])), detail).toBeLessThanOrEqual(1);
      expect(distanceFrom(on[0]!, uiNext), detail).toBeLessThanOrEqual(1);
      expect(Number(uiOn![1]), detail).toBe(on[0]!.count);
      // The lines fit the terminal, and the inference's own timers are marked as such where they show.
      for (const l of screen.split('\n')) expect([...l].length).toBeLessThanOrEqual(size.cols);
      if (size.cols >= 160) {
        expect(screen, detail).toMatch(/\(inferred\)/);
        // The inference restarts TIME-WAIT's 2MSL at each FIN sent again, as the kernel does: the two agree.
        const inferredTw = /client TIME-WAIT \d+\.\ds left \(kernel\); TIME-WAIT (\d+\.\d)s left \(inferred\)/.exec(screen);
        expect(inferredTw, detail).not.toBeNull();
        expect(Math.abs(Number(inferredTw![1]) - Number(uiTw![1])), detail).toBeLessThanOrEqual(1);
      }
      compared++;
      await sleep(700);
    }
    expect(compared).toBe(2);
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
    expect(netnsList().filter((n) => n.startsWith(`${id}-`))).toEqual([]);
  });

  it('tap on loopback at 80×24: the client\'s TIME-WAIT, marked kernel, agrees with ss in its namespace', async () => {
    const ns = uniqueLabId('kttap');
    const port = 9161;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const s = TmuxScreen.start(`kt-${ns}`, ['ip', 'netns', 'exec', ns, process.execPath, runs.cli, 'tap', '--iface', 'lo', '--port', String(port)], { cols: 80, rows: 24 }, TTY_ENV);
      screens.push(s);
      await s.waitFor('the first frame', (sc) => sc.startsWith('tcpmitm'), 30_000);
      const inNs = (...argv: string[]): ChildProcess => {
        const c = spawn('ip', ['netns', 'exec', ns, process.execPath, runs.cli, 'peer', ...argv], { stdio: 'ignore' });
        children.push(c);
        return c;
      };
      inNs('server', '--host', '127.0.0.1', '--port', String(port), '--on-eof', 'close', '--timeout', '20000');
      await sleep(800);
      // The client closes first: its socket is left in TIME-WAIT.
      inNs('client', '--connect', `127.0.0.1:${port}`, '--send', '10', '--then', 'close', '--timeout', '20000');
      const screen = await s.waitFor('the client\'s kernel TIME-WAIT', (sc) => TIME_WAIT.test(sc), 20_000);
      const tw = ssTimers(ssIn(ns, 'time-wait'));
      expect(tw.map((t) => t.name)).toEqual(['timewait']);
      expect(distanceFrom(tw[0]!, Number(TIME_WAIT.exec(screen)![1])), screen).toBeLessThanOrEqual(1);
      s.keys('q');
      expect(await s.waitExit()).toBe(0);
    } finally {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  });
});
