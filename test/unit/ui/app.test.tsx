import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import App from '../../../src/ui/components/App.js';
import type { ControlCommand } from '../../../src/engine/control.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { colorWanted } from '../../../src/ui/theme.js';
import { FakeSource, ManualTimer, settle } from './fixtures/harness.js';
import { seg, start } from './fixtures/build.js';
import { keyBar } from '../../../src/ui/key-bar.js';
import { helpLines } from '../../../src/ui/help.js';
import { coalescedClose, holdAndRelease, holdRelease, kernelDisagreement, lastAckDropped } from './fixtures/closes.js';

afterEach(() => cleanup());

function mount(opts: { columns?: number; rows?: number; mode?: 'tap'; labId?: string } = {}) {
  const src = new FakeSource();
  const timer = new ManualTimer();
  const sent: ControlCommand[] = [];
  const quitHows: string[] = [];
  const r = render(
    <App
      subscribe={src.subscribe}
      send={(c) => sent.push(c)}
      onQuit={(how) => quitHows.push(how)}
      labId={opts.labId ?? 'tm-ui'}
      {...(opts.mode === undefined ? {} : { mode: opts.mode })}
      profileName="passthrough"
      profileNames={['passthrough', 'drop-last-ack', 'coalesce']}
      timer={timer}
      elapsed={() => timer.now}
      columns={opts.columns ?? 80}
      rows={opts.rows ?? 24}
      color={false}
    />,
  );
  // With `want`, wait (bounded) for the frame to show it: under load React
  // commits later than one short settle, and a fixed wait made tests flaky.
  const frame = async (want?: Want): Promise<string> => {
    await settle();
    if (want !== undefined) await frameShows(() => r.lastFrame() ?? '', want);
    return r.lastFrame() ?? '';
  };
  const feed = async (evs: readonly TcpmitmEvent[], want?: Want): Promise<string> => {
    src.emit(evs);
    timer.advance(70);
    return frame(want);
  };
  const key = async (s: string, want?: Want): Promise<string> => {
    r.stdin.write(s);
    return frame(want);
  };
  return { src, timer, sent, r, feed, key, frame, quits: () => quitHows.length, quitHows };
}

/** Text (or a pattern, or every one of several) the next frame should show. */
type Want = string | RegExp | readonly (string | RegExp)[];

/** Polls the frame every 5 ms until it shows `want`, for at most 2 s; the caller's expect then reports what it shows. */
async function frameShows(lastFrame: () => string, want: Want): Promise<void> {
  const wants = Array.isArray(want) ? want : [want as string | RegExp];
  const shows = (f: string) => wants.every((w) => (typeof w === 'string' ? f.includes(w) : w.test(f)));
  const end = Date.now() + 2000;
  while (!shows(lastFrame()) && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

/** Polls `pred` every 5 ms for at most 2 s (React runs effects after its commit, later under load). */
async function until(pred: () => boolean): Promise<void> {
  const end = Date.now() + 2000;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

function lines(frame: string): string[] {
  return frame.split('\n');
}

describe('App: a pause of the view and the filters', () => {
  it('P pauses the view, not the traffic: events wait, then all apply at once', async () => {
    const ui = mount({ columns: 120, rows: 30 });
    await ui.feed([start(0)]);
    await ui.key('P', 'PAUSED');
    await ui.feed([{ type: 'connection', t: 10, conn: 1, client: '198.18.0.1:43210', server: '198.18.0.2:8080', pickedUp: false }, seg(10, 'c2s', 'S', 0, 0, 0, 'syn')]);
    ui.timer.advance(1000);
    const paused = await ui.frame('PAUSED: 2 events wait');
    expect(paused).toContain('no connections yet');
    expect(ui.sent).toEqual([]);
    const live = await ui.key('P', 'view resumed');
    expect(live).not.toContain('PAUSED');
    expect(live).toMatch(/^▶\s+1 198\.18\.0\.1:43210/m);
  });

  it('/ narrows the table, e the events', async () => {
    const ui = mount({ columns: 120, rows: 30 });
    await ui.feed([
      start(0),
      { type: 'connection', t: 1, conn: 1, client: '198.18.0.1:40001', server: '198.18.0.2:8080', pickedUp: false },
      { type: 'connection', t: 2, conn: 2, client: '198.18.0.1:40002', server: '198.18.0.2:9090', pickedUp: false },
      { type: 'app', t: 3, endpoint: 'client', event: 'connected' },
    ]);
    await ui.key('/');
    for (const ch of '9090') await ui.key(ch);
    const f = await ui.key('\r', 'matching "9090"');
    expect(f).toContain('connections matching "9090" (1 of 2)');
    expect(f).toMatch(/^▶\s+2 /m);
    expect(f).not.toMatch(/^\s+1 198/m);
    let ev = await ui.key('e', 'states only');
    for (const kind of ['actions', 'app']) ev = await ui.key('e', `${kind} only`);
    expect(ev).toContain('client app: connected');
    expect(ev).not.toContain('started (lab');
  });
});

describe('App in tap mode', () => {
  it('says tap, not lab; offers only what tap can do; h refuses without claiming hold mode', async () => {
    const ui = mount({ mode: 'tap', labId: 'tap lo:8080' });
    const f = await ui.frame('tap lo:8080');
    expect(lines(f)[0]).toMatch(/^tcpmitm tap lo:8080 profile passthrough/);
    expect(f).not.toContain('lab tap');
    expect(f).not.toMatch(/dropped|delayed|held/);
    const bar = lines(f).at(-1)!;
    expect(bar).toContain('r/R/b forge RST');
    expect(bar).not.toMatch(/\bd drop|FIN-delay|h hold/);
    const after = await ui.key('h', 'tap watches');
    expect(after).not.toContain('hold mode on');
    expect(ui.sent).toEqual([]);
    await ui.key('?', 'keys');
    const help = ui.r.lastFrame() ?? '';
    expect(help).toContain('forge a RST');
    expect(help).not.toMatch(/hold mode|drop the next segment/);
  });
});

describe('App at 80×24', () => {
  it('the first frame, before the run starts: the clock at 00:00:00.0 and no connection; then it counts from the start event', async () => {
    const ui = mount();
    // The UI is up long after the runtime's clock began (ink loads for seconds).
    ui.timer.advance(2400);
    const first = await ui.frame();
    expect(lines(first)[0]).toMatch(/ 00:00:00\.0 /);
    expect(first).toContain('select a connection');
    await ui.feed([start(2400)]);
    ui.timer.advance(700);
    expect(lines(await ui.frame(/00:00:00\.7/))[0]).toMatch(/ 00:00:00\.7 /);
  });

  it('draws the ladder of a dropped last ACK with FIN retransmissions', async () => {
    const ui = mount();
    const f = await ui.feed(lastAckDropped, 'dropped 2');
    const l = lines(f);
    expect(l.length).toBeLessThanOrEqual(23);
    for (const s of l) expect([...s].length).toBeLessThanOrEqual(80);
    expect(f).toContain('tcpmitm lab tm-ui profile passthrough');
    expect(f).toContain('dropped 2');
    expect(f).toContain('#1 198.18.0.1:43210 ⇄ 198.18.0.2:8080');
    // The last ladder lines: both drops, both retransmitted FINs, the final ACK closing the server.
    const ladder = l.filter((s) => s.includes('│'));
    const tail = ladder.slice(-5);
    expect(tail.map((s) => (s.includes('✕') ? 'drop' : s.includes('◀') ? 'fin' : s.includes('▶') ? 'ack' : '?'))).toEqual([
      'drop', 'fin', 'drop', 'fin', 'ack',
    ]);
    expect(tail[4]!.endsWith('│ CLOSED')).toBe(true);
    // The table row: client TIME-WAIT, server CLOSED.
    expect(l.find((s) => s.startsWith('▶'))).toMatch(/TIME-WAIT\s+-\s+CLOSED/);
  });

  it('draws a coalesced close with ⊕ and no FIN-WAIT-2', async () => {
    const ui = mount();
    const f = await ui.feed(coalescedClose, 'coalesced 1');
    expect(f).toMatch(/ACK merged.*⊕/);
    expect(f).toContain(' TIME-WAIT │◀');
    expect(f).not.toContain('FIN-WAIT-2');
    expect(f).toContain('coalesced 1');
  });

  it('marks the kernel disagreement in the table', async () => {
    const ui = mount();
    const l = lines(await ui.feed(kernelDisagreement, 'inferred FIN-WAIT-2 ≠ kernel TIME-WAIT'));
    const row2 = l.find((s) => /^. +2 /.test(s))!;
    const row1 = l.find((s) => /^. +1 /.test(s))!;
    expect(row2).toMatch(/FIN-WAIT-2\s+≠TIME-WAIT\s+CLOSE-WAIT\s+CLOSE-WAIT/);
    expect(row1).not.toContain('≠');
    expect(row1).toMatch(/ESTAB\s+ESTAB\s+ESTAB\s+ESTAB/);
    expect(l.join('\n')).toContain('inferred FIN-WAIT-2 ≠ kernel TIME-WAIT');
  });

  it('keeps the HOLD badge at 80 columns whatever the lab id and the profile name', async () => {
    const ui = mount({ labId: 'a-longer-lab-id-here' });
    await ui.feed([start(0)]);
    await ui.key('p');
    await ui.key('\u001B[B');
    await ui.key('\u001B[B');
    await ui.key('\r', 'profile coalesce');
    const f = await ui.key('h', 'HOLD');
    expect([...lines(f)[0]!].length).toBeLessThanOrEqual(80);
    expect(lines(f)[0]).toMatch(/^tcpmitm lab a-longer-lab-id-here profile coalesce {2}\S+ {3}HOLD {2}/);
  });

  it('shows held segments as waiting and the HOLD badge', async () => {
    const ui = mount();
    await ui.feed(holdAndRelease.slice(0, 2));
    let f = await ui.key('h', / HOLD /);
    expect(ui.sent).toEqual([{ kind: 'hold-mode', on: true }]);
    // Right after the clock, before the rates.
    expect(lines(f)[0]).toMatch(/ 00:00:\d\d\.\d {3}HOLD {2}\d+ pkt\/s/);
    f = await ui.feed(holdAndRelease.slice(2), ['⏸ waiting to be released', '⏸ 2 waiting']);
    expect(f).toContain('⏸ waiting to be released');
    expect(f).toContain('⏸ 2 waiting');
    await ui.key(' ');
    expect(ui.sent.at(-1)).toEqual({ kind: 'release-first' });
    f = await ui.feed(holdRelease, ['⏸ 1 waiting', '⏸ held, released']);
    expect(f).toContain('⏸ 1 waiting');
    expect(f).toContain('⏸ held, released');
  });
});

describe('App keys', () => {
  it('R on the selected connection forges a RST to the server', async () => {
    const ui = mount();
    await ui.feed(kernelDisagreement);
    await ui.key('\u001B[A'); // ↑: from #2 (newest) to #1
    await ui.key('R');
    expect(ui.sent).toEqual([{ kind: 'rst', conn: 1, to: 'server' }]);
    const l = lines(ui.r.lastFrame()!);
    expect(l.find((s) => s.startsWith('▶'))).toMatch(/^▶ +1 /);
  });

  it('d then c drops the next client segment; f 750 Enter delays the FIN', async () => {
    const ui = mount();
    await ui.feed(lastAckDropped);
    let f = await ui.key('d', 'drop the next segment from:');
    expect(f).toContain('drop the next segment from:');
    await ui.key('c');
    f = await ui.key('f', 'delay the next FIN by: [500]');
    expect(f).toContain('delay the next FIN by: [500]');
    await ui.key('7');
    await ui.key('5');
    f = await ui.key('0', 'delay the next FIN by: 750');
    expect(f).toContain('delay the next FIN by: 750');
    await ui.key('\r');
    expect(ui.sent).toEqual([
      { kind: 'drop-next', conn: 1, dir: 'c2s', hand: 1 },
      { kind: 'delay-next-fin', conn: 1, ms: 750, hand: 2 },
    ]);
  });

  it('keys that arrive as one input act one by one, in order, as if typed alone', async () => {
    const ui = mount();
    await ui.feed(lastAckDropped);
    // "dc" and "f750\r" as one write each: ink hands each over as one input.
    await ui.key('dc', 'dropping the next segment from the client…');
    const f = await ui.key('f750\r', 'delaying the next FIN by 750 ms…');
    expect(f).not.toContain('delay the next FIN by:');
    await ui.key('S?', '── keys');
    expect(ui.sent).toEqual([
      { kind: 'drop-next', conn: 1, dir: 'c2s', hand: 1 },
      { kind: 'delay-next-fin', conn: 1, ms: 750, hand: 2 },
    ]);
  });

  it('without connections, RST keys only say so', async () => {
    const ui = mount();
    const f = await ui.key('r', 'no connection selected');
    expect(ui.sent).toEqual([]);
    expect(f).toContain('no connection selected');
  });

  it('p picks a profile', async () => {
    const ui = mount();
    let f = await ui.key('p', '── profiles');
    expect(f).toContain('── profiles');
    await ui.key('\u001B[B');
    f = await ui.key('\r', 'profile drop-last-ack');
    expect(ui.sent).toEqual([{ kind: 'set-profile', name: 'drop-last-ack' }]);
    expect(f).toContain('profile drop-last-ack');
  });

  it('at 80×24 the help has two pages, Space turns them, and every key of the bar is on one', async () => {
    const ui = mount();
    await ui.feed(lastAckDropped);
    const bar = (await ui.frame()).trimEnd().split('\n').at(-1)!;
    const first = await ui.key('?', 'page 1 of 2');
    expect(lines(first).at(-1)).toBe('help page 1 of 2: Space next page  PgUp back  any other key closes');
    const second = await ui.key(' ', 'page 2 of 2');
    expect(second).toContain('table:  ≠ the kernel disagrees');
    const words = new Set(`${first}\n${second}`.split(/\s+/));
    for (const k of keyBar(true, 80).keys) {
      expect(bar.split(' ')).toContain(k.key);
      expect(words.has(k.key), k.key).toBe(true);
    }
    // Each line whole: nothing cut at 80 columns.
    for (const l of helpLines(true)) expect(`${first}\n${second}`).toContain(l);
    expect(await ui.key(' ')).not.toContain('── keys');
  });

  it('the filter prompt keeps Enter and Esc at 80 columns; its examples show where they fit', async () => {
    const narrow = mount();
    const n = lines(await narrow.key('/8080', 'connections matching: 8080▏')).at(-1)!;
    expect(n).toBe('connections matching: 8080▏  Enter apply (empty: all)  Esc cancel');
    cleanup();
    const wide = mount({ columns: 160, rows: 50 });
    const w = lines(await wide.key('/8080', 'connections matching: 8080▏')).at(-1)!;
    expect(w).toBe('connections matching: 8080▏  Enter apply (empty: all)  Esc cancel  e.g. #3  8080  ESTAB  client=FIN-WAIT-2');
  });

  it('? shows the help and q quits once', async () => {
    const ui = mount();
    expect(await ui.key('?', '── keys')).toContain('── keys');
    expect(await ui.key('x')).not.toContain('── keys');
    expect(ui.sent).toEqual([]); // the key that closed help did nothing else
    await ui.key('q');
    await ui.key('q');
    expect(ui.quits()).toBe(1);
    expect(ui.r.lastFrame()).toContain('quitting');
  });

  it('q quits and Ctrl-C interrupts: the caller learns which', async () => {
    const a = mount();
    await a.key('q', 'quitting');
    await until(() => a.quitHows.length > 0);
    expect(a.quitHows).toEqual(['quit']);
    cleanup();
    const b = mount();
    await b.key('\u0003', 'quitting');
    await until(() => b.quitHows.length > 0);
    expect(b.quitHows).toEqual(['interrupt']);
  });

  it('once the run has ended, the header gives the verdict and its exit code, the help bar what it rests on and that q closes', async () => {
    const ui = mount({ columns: 120 });
    const check = (status: 'met' | 'failed' | 'not-checked', subject: string): TcpmitmEvent => ({
      type: 'expectation', t: 5, status, ok: status === 'met', subject, expected: 'x', observed: 'y',
    });
    const f = await ui.feed(
      [start(300), check('met', 'client states (inferred)'), check('failed', 'client exit'), check('not-checked', 'client app'), { type: 'end', t: 6500, reason: 'duration 6s reached', exitCode: 3 }],
      'q closes',
    );
    // The clock counts from the run's start, in tenths: 6.5 s − 0.3 s.
    expect(lines(f)[0]).toMatch(/00:00:06\.2 {2}ended: duration 6s reached · ✗ FAIL \(exit 3\)/);
    expect(f).toContain('✗ FAIL: 1 of 2 checks failed, 1 not checked (exit 3) · ↑↓ PgUp/PgDn to read · q closes');
    // A key that acts on the run says it has ended; the next one brings the footer back.
    expect(await ui.key('d', 'the run has ended')).not.toContain('drop the next segment from:');
    expect(await ui.key('\u001B[B', 'q closes')).toContain('✗ FAIL: 1 of 2 checks failed');
    expect(ui.sent).toEqual([]);
    expect(ui.quits()).toBe(0);
    await ui.key('q');
    await until(() => ui.quitHows.length > 0);
    expect(ui.quitHows).toEqual(['quit']);
  });

  it('at the run\'s end an announcement still awaited goes, and the clock stops: the ages and the timers with it', async () => {
    const ui = mount();
    await ui.feed([start(0), { type: 'connection', t: 100, conn: 1, client: '198.18.0.1:43210', server: '198.18.0.2:8080', pickedUp: false }, seg(100, 'c2s', 'S', 0, 0, 0, 'syn')]);
    await ui.key('dc', 'dropping the next segment from the client…');
    const f = await ui.feed([{ type: 'end', t: 3000, reason: 'duration 3s reached', exitCode: 0 }], 'q closes');
    expect(f).not.toContain('dropping the next segment');
    expect(lines(f).find((l) => l.startsWith('▶'))).toMatch(/ 2s$/);
    // Ten seconds on, the final screen still reads as it did at the end.
    ui.timer.advance(10_000);
    expect(await ui.frame()).toBe(f);
  });

  it('PgUp scrolls the ladder back and stays there while segments arrive', async () => {
    const ui = mount();
    const many = Array.from({ length: 40 }, (_, i) => seg(20 + i, 'c2s', 'PA', 1 + i * 10, 1, 10, 'data'));
    await ui.feed([{ type: 'connection', t: 1, conn: 1, client: '198.18.0.1:43210', server: '198.18.0.2:8080', pickedUp: false }, ...many], 'seq=391');
    let f = await ui.key('\u001B[5~', '⇡21-30/40');
    expect(f).toContain('#1 ⇡21-30/40 198.18.0.1:43210');
    const before = lines(f).filter((s) => s.includes('│'));
    f = await ui.feed([seg(100, 'c2s', 'PA', 401, 1, 10, 'data')], '⇡21-30/41');
    expect(lines(f).filter((s) => s.includes('│'))).toEqual(before);
    expect(f).toContain('⇡21-30/41');
    f = await ui.key('\u001B[F', 'seq=401'); // End
    expect(f).toContain('seq=401');
    expect(f).not.toContain('⇡');
  });
});

describe('App rendering is throttled', () => {
  it('1000 events in a burst cost one frame', async () => {
    const ui = mount();
    await settle();
    const before = ui.r.frames.length;
    const evs = Array.from({ length: 1000 }, (_, i) => seg(i, i % 2 ? 's2c' : 'c2s', 'PA', i, i, 100, 'data', 'pass', { conn: 1 + (i % 5) }));
    ui.src.emit(evs);
    await settle();
    expect(ui.r.frames.length).toBe(before); // nothing until the frame timer fires
    ui.timer.advance(66);
    await settle();
    expect(ui.r.frames.length).toBe(before + 1);
    expect(ui.r.lastFrame()).toContain('connections (5)');
  });

  it('1000 events spread over 2 s render at most ~15 frames/s', async () => {
    const ui = mount();
    await settle();
    const before = ui.r.frames.length;
    // 500 events/s for 2 s of the manual clock; React gets to commit after
    // every step, as it would between real timer callbacks.
    for (let i = 0; i < 1000; i++) {
      ui.src.emit([seg(i * 2, 'c2s', 'PA', i, 1, 10, 'data')]);
      ui.timer.advance(2);
      if (i % 10 === 9) await settle();
    }
    await settle();
    const frames = ui.r.frames.length - before;
    expect(frames).toBeGreaterThanOrEqual(20);
    expect(frames).toBeLessThanOrEqual(2 * 16);
  });

  it('unsubscribes on unmount', async () => {
    const ui = mount();
    expect(ui.src.subscribers).toBe(1);
    ui.r.unmount();
    expect(ui.src.subscribers).toBe(0);
    expect(ui.timer.pending).toBe(0);
  });
});

describe('NO_COLOR', () => {
  it('turns colour off when set and non-empty', () => {
    expect(colorWanted({})).toBe(true);
    expect(colorWanted({ NO_COLOR: '' })).toBe(true);
    expect(colorWanted({ NO_COLOR: '1' })).toBe(false);
  });
  it('draws no escape codes with colour off', async () => {
    const ui = mount();
    const f = await ui.feed(lastAckDropped);
    expect(f).not.toMatch(/\u001B\[/);
  });
});
