// The UI in its own process: the protocol pieces as pure functions (batching,
// message checks, the child's copy of the run's clock), then the real parent
// and child on a real terminal (tmux): keys reach the run as commands, q,
// Ctrl-C, a dead child and a hang-up all end the run, the final frame is drawn.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import fc from 'fast-check';
import type { SegmentEvent } from '../../../src/engine/events.js';
import { ROLES } from '../../../src/tcp/role.js';
import {
  BatchBuilder,
  ClockSync,
  EventBatcher,
  PLAIN_SEGMENTS_PER_CONN_PER_BATCH,
  decodeBatch,
  decodeInit,
  decodeToChild,
  decodeToParent,
  encodeInit,
  type UiEvent,
} from '../../../src/ui/protocol.js';
import { UiModel } from '../../../src/ui/model.js';
import { ladderGeometry, ladderLines } from '../../../src/ui/ladder.js';
import { TmuxScreen, buildPrivateCli, hasTmux, removePrivateCli, sleep } from '../../helpers/tmux.js';
import { ManualTimer } from './fixtures/harness.js';
import { connection, seg, start } from './fixtures/build.js';
import { tempDir } from '../../helpers/temp.js';

function unpack(batch: Parameters<typeof decodeBatch>[0]): UiEvent[] {
  const out: UiEvent[] = [];
  decodeBatch(batch, (ev) => out.push(ev));
  return out;
}

describe('BatchBuilder', () => {
  const segArb: fc.Arbitrary<SegmentEvent> = fc.record(
    {
      type: fc.constant('segment' as const),
      t: fc.double({ min: 0, max: 1e6, noNaN: true }),
      conn: fc.nat(),
      dir: fc.constantFrom('c2s' as const, 's2c' as const),
      from: fc.constantFrom('client' as const, 'server' as const),
      flags: fc.constantFrom('S', 'SA', 'A', 'PA', 'FA', 'R', 'RA'),
      seq: fc.nat({ max: 2 ** 32 - 1 }),
      ack: fc.nat({ max: 2 ** 32 - 1 }),
      len: fc.nat({ max: 65535 }),
      win: fc.nat({ max: 65535 }),
      role: fc.constantFrom(...ROLES),
      verdict: fc.constantFrom('pass' as const, 'drop' as const, 'delay' as const, 'hold' as const, 'coalesce' as const, 'duplicate' as const, 'forged' as const),
      rule: fc.integer({ min: 1, max: 50 }),
      detail: fc.string(),
    },
    { requiredKeys: ['type', 't', 'conn', 'dir', 'from', 'flags', 'seq', 'ack', 'len', 'win', 'role', 'verdict'] },
  );
  const otherArb: fc.Arbitrary<TcpmitmEvent> = fc.oneof(
    fc.record({ type: fc.constant('warning' as const), t: fc.double({ min: 0, max: 1e6, noNaN: true }), message: fc.string() }),
    fc.nat().map((t) => connection(t)),
  );

  it('a batch gives back exactly the events added, in order, segments and others interleaved', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(segArb, otherArb), { maxLength: 3000 }), (events) => {
        const b = new BatchBuilder();
        for (const ev of events) b.add(ev);
        expect(b.size).toBe(events.length);
        const batch = b.take();
        expect(b.size).toBe(0);
        expect(unpack(batch)).toEqual(events);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps no event object for a segment, and a batch survives structured cloning (IPC advanced)', () => {
    const b = new BatchBuilder();
    const s = seg(0.5, 's2c', 'FA', 101, 12, 0, 'fin', 'delay', { rule: 2, detail: '200 ms' });
    b.add(s);
    b.add(start(0.6));
    b.add(seg(0.7, 'c2s', 'A', 12, 102, 0, 'ack'));
    const batch = b.take();
    expect(batch.segs).toBeInstanceOf(Float64Array);
    expect(batch.others).toEqual([[1, start(0.6)]]);
    expect(unpack(structuredClone(batch))).toEqual([s, start(0.6), seg(0.7, 'c2s', 'A', 12, 102, 0, 'ack')]);
    // The string table is per batch.
    b.add(seg(1, 'c2s', 'PA', 1, 1, 5, 'data'));
    expect(b.take().strings).toEqual(['PA', 'data', 'pass']);
  });
});

describe('BatchBuilder under a bulk stream', () => {
  const LIMIT = PLAIN_SEGMENTS_PER_CONN_PER_BATCH;
  // Connection 1: a long run of data one way and ACKs the other, a segment a
  // rule dropped in the middle and a FIN at the end; connection 2: a few segments.
  const events: TcpmitmEvent[] = [];
  for (let i = 0; i < 3 * LIMIT; i++) {
    events.push(seg(i, 'c2s', 'A', 1 + 1000 * i, 1, 1000, 'data'));
    if (i % 2 === 1) events.push(seg(i, 's2c', 'A', 1, 1 + 1000 * (i + 1), 0, 'ack'));
    if (i === LIMIT + 5) events.push(seg(i, 'c2s', 'PA', 7, 1, 3, 'data', 'drop', { rule: 1 }));
    if (i % 50 === 0) events.push(seg(i, 'c2s', 'PA', i, 1, 10, 'data', 'pass', { conn: 2 }));
  }
  events.push(seg(3 * LIMIT, 'c2s', 'FA', 1 + 3000 * LIMIT, 1, 0, 'fin'));
  const b = new BatchBuilder();
  for (const ev of events) b.add(ev);
  const out = unpack(b.take());

  it('sends each connection at most the limit of plain segments, and counts the rest with their bytes', () => {
    const plain1 = out.filter((e) => e.type === 'segment' && e.conn === 1 && e.verdict === 'pass' && (e.role === 'data' || e.role === 'ack'));
    expect(plain1).toHaveLength(LIMIT);
    expect(out.filter((e) => e.type === 'segment' && e.conn === 2)).toHaveLength(6);
    const skipped = out.filter((e) => e.type === 'skipped');
    expect(skipped.map((s) => s.type === 'skipped' && [s.conn, s.dir])).toEqual([[1, 'c2s'], [1, 's2c']]);
    const total = (dir: string) => skipped.reduce((n, s) => n + (s.type === 'skipped' && s.dir === dir ? s.count : 0), 0);
    const sent = (dir: string) => plain1.filter((e) => e.type === 'segment' && e.dir === dir).length;
    expect(total('c2s') + sent('c2s')).toBe(3 * LIMIT);
    expect(total('s2c') + sent('s2c')).toBe((3 * LIMIT) / 2);
    expect(b.size).toBe(0);
  });

  it('always sends what a rule acted on and what changes a state', () => {
    expect(out.some((e) => e.type === 'segment' && e.verdict === 'drop')).toBe(true);
    expect(out.some((e) => e.type === 'segment' && e.role === 'fin')).toBe(true);
  });

  it('leaves the UI byte counters exact, and the ladder says what it did not draw', () => {
    const all = new UiModel();
    for (const e of events) all.apply(e);
    const thinned = new UiModel();
    for (const e of out) thinned.apply(e);
    expect(thinned.conn(1)!.bytes).toEqual(all.conn(1)!.bytes);
    expect(thinned.conn(2)!.bytes).toEqual(all.conn(2)!.bytes);
    const row = thinned.conn(1)!;
    const text = ladderLines(row.ladder, ladderGeometry(100), row.firstT).map((l) => l.text);
    expect(text.filter((l) => l.includes('not drawn'))).toEqual([
      expect.stringMatching(/⋯ 2[0-9]{2} segments c→s \(2[0-9]{2}k bytes\) not drawn ⋯/),
      expect.stringMatching(/⋯ [0-9]+ segments s→c \(0 bytes\) not drawn ⋯/),
    ]);
  });
});

describe('EventBatcher', () => {
  function setup(paused = false) {
    const timer = new ManualTimer();
    const batches: TcpmitmEvent[][] = [];
    const dones: (() => void)[] = [];
    const b = new EventBatcher(
      (batch, done) => {
        batches.push(unpack(batch));
        dones.push(done);
      },
      timer,
      50,
      paused,
      { events: 2000, intervalMs: 250 },
    );
    return { timer, batches, dones, b };
  }
  const ev = (i: number): TcpmitmEvent => ({ type: 'warning', t: i, message: String(i) });

  it('sends everything pushed within one interval as one batch, in order', () => {
    const { timer, batches, b } = setup();
    for (let i = 0; i < 1000; i++) b.push(ev(i));
    expect(batches).toEqual([]);
    expect(timer.pending).toBe(1);
    timer.advance(49);
    expect(batches).toEqual([]);
    timer.advance(1);
    expect(batches.length).toBe(1);
    expect(batches[0]!.map((e) => e.t)).toEqual([...Array(1000).keys()]);
    expect(b.size).toBe(0);
  });

  it('arms no timer while idle', () => {
    const { timer, batches, dones, b } = setup();
    b.push(ev(1));
    timer.advance(50);
    dones[0]!();
    timer.advance(500);
    expect(batches.length).toBe(1);
    expect(timer.pending).toBe(0);
  });

  it('keeps one batch in flight: the next waits for done, growing meanwhile', () => {
    const { timer, batches, dones, b } = setup();
    b.push(ev(1));
    timer.advance(50);
    for (let i = 2; i <= 5; i++) b.push(ev(i));
    timer.advance(500);
    expect(batches.length).toBe(1);
    expect(b.size).toBe(4);
    dones[0]!();
    dones[0]!(); // a second call is harmless
    timer.advance(50);
    expect(batches.map((x) => x.map((e) => e.t))).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('under load sends every 250 ms instead of 50, and back to 50 once it calms down', () => {
    const { timer, batches, dones, b } = setup();
    const burst = (n: number) => {
      for (let i = 0; i < n; i++) b.push(ev(i));
    };
    burst(2000);
    timer.advance(50);
    dones.at(-1)!();
    burst(10);
    timer.advance(249);
    expect(batches.length).toBe(1);
    timer.advance(1);
    expect(batches.map((x) => x.length)).toEqual([2000, 10]);
    dones.at(-1)!();
    burst(1);
    timer.advance(50);
    expect(batches.map((x) => x.length)).toEqual([2000, 10, 1]);
  });

  it('paused: gathers until resume, then sends one interval later', () => {
    const { timer, batches, b } = setup(true);
    b.push(ev(1));
    b.push(ev(2));
    timer.advance(1000);
    expect(batches).toEqual([]);
    b.resume();
    timer.advance(50);
    expect(batches.map((x) => x.map((e) => e.t))).toEqual([[1, 2]]);
  });

  it('drain hands over what is pending and stops the timer', () => {
    const { timer, batches, b } = setup();
    b.push(ev(1));
    expect(unpack(b.drain()).map((e) => e.t)).toEqual([1]);
    b.push(ev(2));
    timer.advance(1000);
    expect(batches).toEqual([]);
    expect(timer.pending).toBe(0);
  });
});

describe('messages', () => {
  it('init survives the environment round trip; a bad one is named', () => {
    const init = { labId: 'ux1', profileName: 'passthrough', profileNames: ['a', 'b'], elapsed: 1.25, color: false };
    expect(decodeInit(encodeInit(init))).toEqual({ ok: true, value: init });
    expect(decodeInit(encodeInit({ profileNames: [], elapsed: 0 }))).toEqual({ ok: true, value: { profileNames: [], elapsed: 0 } });
    expect(decodeInit(undefined)).toMatchObject({ ok: false, error: expect.stringContaining('not set') });
    expect(decodeInit('{')).toMatchObject({ ok: false, error: expect.stringContaining('not JSON') });
    expect(decodeInit('{"profileNames":[1],"elapsed":0}')).toMatchObject({ ok: false, error: expect.stringContaining('profileNames') });
    expect(decodeInit('{"profileNames":[],"elapsed":"x"}')).toMatchObject({ ok: false, error: expect.stringContaining('elapsed') });
    expect(decodeInit('{"profileNames":[],"elapsed":0,"labId":3}')).toMatchObject({ ok: false, error: expect.stringContaining('labId') });
  });

  it('the child accepts events and close batches only', () => {
    const b = new BatchBuilder();
    b.add(start(0));
    b.add(seg(0.2, 'c2s', 'S', 0, 0, 0, 'syn'));
    const batch = b.take();
    const msg = structuredClone({ kind: 'events', elapsed: 1, batch });
    expect(unpack(decodeToChild(msg)!.batch)).toEqual([start(0), seg(0.2, 'c2s', 'S', 0, 0, 0, 'syn')]);
    expect(decodeToChild({ kind: 'close', elapsed: 2, batch })?.kind).toBe('close');
    expect(decodeToChild({ kind: 'events', batch })).toBeUndefined();
    expect(decodeToChild({ kind: 'other', elapsed: 1, batch })).toBeUndefined();
    // What JSON would make of the columns (an object of indices) is refused.
    expect(decodeToChild(JSON.parse(JSON.stringify({ kind: 'events', elapsed: 1, batch })))).toBeUndefined();
    expect(decodeToChild({ kind: 'events', elapsed: 1, batch: { ...batch, segs: new Float64Array(5) } })).toBeUndefined();
    expect(decodeToChild(null)).toBeUndefined();
  });

  it('the parent accepts ready, quit and known commands only', () => {
    expect(decodeToParent({ kind: 'ready' })).toEqual({ kind: 'ready' });
    expect(decodeToParent({ kind: 'quit', how: 'quit', extra: 1 })).toEqual({ kind: 'quit', how: 'quit' });
    // A quit that does not say how is an interrupt: the run must not claim it ended by itself.
    expect(decodeToParent({ kind: 'quit' })).toEqual({ kind: 'quit', how: 'interrupt' });
    const cmd = { kind: 'rst', conn: 1, to: 'server' };
    expect(decodeToParent({ kind: 'send', cmd })).toEqual({ kind: 'send', cmd });
    expect(decodeToParent({ kind: 'send', cmd: { kind: 'format-disk' } })).toBeUndefined();
    expect(decodeToParent({ kind: 'send' })).toBeUndefined();
    expect(decodeToParent('quit')).toBeUndefined();
  });
});

describe('ClockSync', () => {
  it('follows the parent clock, keeps the smallest-latency offset, never goes back', () => {
    let now = 10_000; // child ms
    const c = new ClockSync(() => now);
    expect(c.elapsed()).toBe(0);
    c.sync(2.0); // parent at 2 s when the child's clock reads 10 s
    expect(c.elapsed()).toBeCloseTo(2.0, 9);
    now += 500;
    expect(c.elapsed()).toBeCloseTo(2.5, 9);
    // A message stamped 2.4 s arriving now was slow (latency 100 ms): ignored.
    c.sync(2.4);
    expect(c.elapsed()).toBeCloseTo(2.5, 9);
    // One stamped 2.52 s arriving now shows the first was late by 20 ms.
    c.sync(2.52);
    expect(c.elapsed()).toBeCloseTo(2.52, 9);
    // A stale stamp at the same instant moves nothing.
    const before = c.elapsed();
    c.sync(0);
    expect(c.elapsed()).toBe(before);
  });
});

// ── the real processes on a real terminal ────────────────────────────────────

const tmuxMissing = !hasTmux();
if (tmuxMissing && process.env.CI === 'true') throw new Error('tmux is missing (bash scripts/bootstrap.sh --test installs it); CI=true, so this fails');
if (tmuxMissing) console.warn('skipping the UI process tests on a terminal: tmux is not installed');

// ink renders only the last frame when it believes it runs in CI.
const TTY_ENV = { CI: 'false', CONTINUOUS_INTEGRATION: 'false' };

/**
 * A stand-in for a run: starts the UI process from the private build, feeds it
 * a connection and stats, logs every command and quit to a file, and on quit
 * (or a signal) emits the end event, unmounts, waits for the UI, logs `exit`.
 */
const DRIVER = `
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
const [, , processJs, log] = process.argv;
const { startUiProcess } = await import(processJs);
const note = (s) => appendFileSync(log, s + '\\n');
const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
const listeners = new Set();
const emit = (ev) => { for (const l of listeners) l(ev); };
let end;
const ended = new Promise((r) => (end = r));
process.on('SIGHUP', () => { note('sighup'); end('terminal closed (SIGHUP)'); });
process.on('SIGINT', () => { note('sigint'); end('interrupted (Ctrl-C)'); });
const ui = startUiProcess({
  subscribe: (fn) => { listeners.add(fn); return () => listeners.delete(fn); },
  send: (cmd) => note('send ' + JSON.stringify(cmd)),
  onQuit: (how) => { note('quit ' + how); end(how === 'quit' ? 'quit' : 'interrupted (Ctrl-C)'); },
  labId: 'ux-proc', profileName: 'passthrough', profileNames: ['passthrough', 'drop-last-ack'], elapsed,
});
emit({ type: 'start', t: elapsed(), mode: 'lab', lab: 'ux-proc', profile: 'passthrough', wall: new Date().toISOString() });
emit({ type: 'connection', t: elapsed(), conn: 1, client: '198.18.0.1:40000', server: '198.18.0.2:8080', pickedUp: false });
const seg = (dir, flags, seq, ack, len, role) => ({ type: 'segment', t: elapsed(), conn: 1, dir, from: dir === 'c2s' ? 'client' : 'server', flags, seq, ack, len, win: 64240, role, verdict: 'pass' });
const state = (endpoint, from, to) => ({ type: 'state', t: elapsed(), conn: 1, endpoint, from, to, source: 'inferred' });
emit(seg('c2s', 'S', 0, 0, 0, 'syn')); emit(state('client', 'CLOSED', 'SYN-SENT'));
emit(seg('s2c', 'SA', 0, 1, 0, 'syn-ack')); emit(state('server', 'LISTEN', 'SYN-RECV'));
emit(seg('c2s', 'A', 1, 1, 0, 'handshake-ack')); emit(state('client', 'SYN-SENT', 'ESTAB')); emit(state('server', 'SYN-RECV', 'ESTAB'));
// Many events at once: they must all arrive (the byte counter shows them).
for (let i = 0; i < 5000; i++) emit(seg('c2s', 'PA', 1 + i * 10, 1, 10, 'data'));
const stats = setInterval(() => emit({ type: 'stats', t: elapsed(), frames: 5003, bytes: 0, malformed: 0, nonTcp: 0, dropped: 0, delayed: 0, forged: 0, coalesced: 0, held: 0, duplicated: 0 }), 200);
note('started');
const reason = await ended;
clearInterval(stats);
emit({ type: 'end', t: elapsed(), reason, exitCode: 0 });
ui.unmount();
await ui.waitUntilExit();
note('exit');
`;

let buildDir = '';
let work = '';
const screens: TmuxScreen[] = [];

beforeAll(() => {
  if (tmuxMissing) return;
  buildDir = dirname(dirname(buildPrivateCli()));
  work = tempDir('tcpmitm-uiproc-');
  writeFileSync(join(work, 'driver.mjs'), DRIVER);
}, 120_000);

afterEach(() => {
  for (const s of screens.splice(0)) s.kill();
  for (const pid of uiChildren()) process.kill(pid, 'SIGKILL');
});

afterAll(() => {
  removePrivateCli();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Pids of UI child processes started from the private build. */
function uiChildren(): number[] {
  if (!buildDir) return [];
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(join(buildDir, 'dist/ui/child-main.js'))) out.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function run(name: string): { s: TmuxScreen; log: () => string[] } {
  const log = join(work, `${name}.log`);
  const s = TmuxScreen.start(`ux-${name}-${process.pid}`, [process.execPath, join(work, 'driver.mjs'), join(buildDir, 'dist/ui/process.js'), log], { cols: 100, rows: 30 }, TTY_ENV);
  screens.push(s);
  return { s, log: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

async function until(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`never: ${what} within ${ms} ms`);
    await sleep(25);
  }
}

describe.skipIf(tmuxMissing)('UI process on a terminal (tmux)', () => {
  it('renders every event, keys become commands for the run, q quits and the final frame stays', async () => {
    const { s, log } = run('q');
    // 5000 data segments of 10 bytes: every one of them arrived.
    const screen = await s.waitFor('the connection ESTAB on both ends with all data counted', (sc) =>
      sc.includes('ux-proc') && /ESTAB\s+\S+\s+ESTAB/.test(sc) && sc.includes('c→s 50kB s→c 0B'),
    );
    expect(screen).toContain('profile passthrough');
    // The parent holds no terminal: the child does (one UI process, alive).
    expect(uiChildren().length).toBe(1);
    s.keys('h');
    await until('hold-mode sent', () => log().includes('send {"kind":"hold-mode","on":true}'));
    await s.waitFor('HOLD in the header', (sc) => sc.split('\n')[0]!.includes('HOLD'));
    s.keys('R');
    await until('rst sent', () => log().includes('send {"kind":"rst","conn":1,"to":"server"}'));
    s.keys('q');
    expect(await s.waitExit()).toBe(0);
    expect(log()).toEqual(['started', 'send {"kind":"hold-mode","on":true}', 'send {"kind":"rst","conn":1,"to":"server"}', 'quit quit', 'exit']);
    expect(s.capture()).toContain('ended: quit');
    expect(uiChildren()).toEqual([]);
  });

  it('Ctrl-C (a key in raw mode) reaches the run as an interrupt, not as a signal', async () => {
    const { s, log } = run('cc');
    await s.waitFor('the dashboard', (sc) => sc.includes('ux-proc') && /ESTAB/.test(sc));
    s.keys('C-c');
    expect(await s.waitExit()).toBe(0);
    expect(log()).toEqual(['started', 'quit interrupt', 'exit']);
    expect(s.capture()).toContain('ended: interrupted (Ctrl-C)');
    expect(uiChildren()).toEqual([]);
  });

  it('a UI process that dies ends the run', async () => {
    const { s, log } = run('kill');
    await s.waitFor('the dashboard', (sc) => sc.includes('ux-proc') && /ESTAB/.test(sc));
    const [pid] = uiChildren();
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    expect(await s.waitExit()).toBe(0);
    // The run did not end by itself: an interrupt, never a quiet quit.
    expect(log()).toEqual(['started', 'quit interrupt', 'exit']);
  });

  it('a hang-up ends the run and leaves no UI process', async () => {
    const { s, log } = run('hup');
    await s.waitFor('the dashboard', (sc) => sc.includes('ux-proc') && /ESTAB/.test(sc));
    // Closing the tmux session hangs the terminal up under both processes.
    s.kill();
    await until('the run logged its exit', () => log().at(-1) === 'exit');
    expect(log()).toContain('started');
    expect(log().filter((l) => l === 'quit interrupt' || l === 'sighup').length).toBeGreaterThanOrEqual(1);
    await until('no UI process left', () => uiChildren().length === 0, 5000);
  });
});
