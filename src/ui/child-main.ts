// Entry point of the terminal UI's own process (started by src/ui/process.ts,
// never by hand): owns the terminal, renders with ink from the event batches
// the run sends over IPC, and sends keys back as commands or a quit.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ClockSync, UI_INIT_ENV, UI_NICE, decodeBatch, decodeInit, decodeToChild, type ToParent, type UiEvent, type WireBatch } from './protocol.js';
import type { UiHandle } from './start.js';

const init = decodeInit(process.env[UI_INIT_ENV]);
if (!init.ok || !process.send) {
  process.stderr.write(`tcpmitm: ${init.ok ? 'the UI process needs an IPC channel to its run' : init.error}\n`);
  process.exit(2);
}
const cfg = init.value;

const clock = new ClockSync(() => performance.now());
clock.sync(cfg.elapsed);

const toParent = (msg: ToParent): void => {
  if (process.connected) process.send!(msg);
};

// Events that arrive before the UI subscribes (ink loads, the first render
// commits, then App subscribes in an effect) wait here, in order.
const backlog: UiEvent[] = [];
let listener: ((ev: UiEvent) => void) | undefined;
let ui: UiHandle | undefined;
/** Set once the run asked us to close (or went away); the exit code to leave with. */
let exitWith: number | undefined;

const deliver = (batch: WireBatch): void => {
  decodeBatch(batch, (ev) => (listener ? listener(ev) : backlog.push(ev)));
};

/**
 * Draws the final frame and exits once ink has let go of the terminal (raw
 * mode off, cursor back). Before the UI is up, the code after the import
 * below does it as soon as it is.
 */
const finish = (code: number): void => {
  if (exitWith !== undefined) return;
  exitWith = code;
  if (ui) closeUi(ui, code);
};

const closeUi = (handle: UiHandle, code: number): void => {
  handle.unmount();
  void handle.waitUntilExit().then(() => process.exit(code));
};

process.on('message', (raw) => {
  const msg = decodeToChild(raw);
  if (!msg) return;
  clock.sync(msg.elapsed);
  deliver(msg.batch);
  if (msg.kind === 'close') finish(0);
});
// The run is gone (it crashed, or was killed): restore the terminal and go.
process.on('disconnect', () => finish(0));
// A Ctrl-C before ink set raw mode (or `kill -INT`) is a quit like `q`: the
// run ends and then closes us, so the final frame still gets drawn.
process.on('SIGINT', () => toParent({ kind: 'quit', how: 'interrupt' }));
process.on('SIGTERM', () => {
  toParent({ kind: 'quit', how: 'interrupt' });
  finish(143);
});
// Hang-up: the terminal is gone, so nothing can be drawn; tell the run and go.
process.on('SIGHUP', () => {
  toParent({ kind: 'quit', how: 'interrupt' });
  process.exit(129);
});
// Writing to a hung-up terminal fails with EIO: same as a hang-up.
process.stdout.on('error', () => {
  toParent({ kind: 'quit', how: 'interrupt' });
  process.exit(129);
});

toParent({ kind: 'ready' });

const { startUi } = await import('./start.js');
ui = startUi({
  subscribe: (fn) => {
    listener = fn;
    for (const ev of backlog.splice(0)) fn(ev);
    return () => {
      if (listener === fn) listener = undefined;
    };
  },
  send: (cmd) => toParent({ kind: 'send', cmd }),
  onQuit: (how) => toParent({ kind: 'quit', how }),
  onWatch: (sockets) => toParent({ kind: 'watch', sockets }),
  profileNames: cfg.profileNames,
  elapsed: () => clock.elapsed(),
  ...(cfg.labId === undefined ? {} : { labId: cfg.labId }),
  ...(cfg.profileName === undefined ? {} : { profileName: cfg.profileName }),
  ...(cfg.color === undefined ? {} : { color: cfg.color }),
  ...(cfg.mode === undefined ? {} : { mode: cfg.mode }),
  ...(cfg.timers === undefined ? {} : { timers: cfg.timers }),
});
// ink's first render is synchronous (legacy mode, a leading-edge throttle) and
// a write to a terminal is too: the first frame is on the screen now.
toParent({ kind: 'shown' });
// Closed while ink loaded: draw the one frame (every event is in) and go.
if (exitWith !== undefined) closeUi(ui, exitWith);
yieldTheCpu();

/**
 * From now on the UI yields the CPU to the run (see UI_NICE). Best:
 * SCHED_IDLE, which the kernel preempts at once whenever a normal task (the
 * forwarder, the endpoints) wakes up; nice alone lets a frame in progress
 * finish its slice first. util-linux's chrt sets it for every thread (-a);
 * where chrt is missing, nice it is. Linux keeps both per thread: each
 * existing one is set (later ones inherit). Only once the first frame is up:
 * loading ink and React at SCHED_IDLE on a busy machine took 7–13 s, while
 * the run's first segments were already crossing unseen.
 */
function yieldTheCpu(): void {
  spawnSync('chrt', ['--idle', '-a', '-p', '0', String(process.pid)], { stdio: 'ignore', timeout: 2000 });
  try {
    for (const tid of readdirSync('/proc/self/task')) setPriority(Number(tid), UI_NICE);
  } catch {
    // No /proc, or not allowed: the UI just competes as an equal.
  }
}
