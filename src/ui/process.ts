// Runs the terminal UI in a child process, so that ink's renders never block
// the event loop that forwards frames. Same options and handle as `startUi`;
// the parent only batches events to the child and turns its messages into
// `send` / `onQuit`. The child owns the terminal (raw mode, rendering): the
// parent must not touch stdin while it runs.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { StartUiOptions, UiHandle } from './start.js';
import { BATCH_INTERVAL_MS, EventBatcher, UI_INIT_ENV, decodeToParent, encodeInit, type KernelTimersRead, type ToChild } from './protocol.js';
import type { QuitHow } from './keys.js';

const CHILD_MAIN = fileURLToPath(new URL('./child-main.js', import.meta.url));

/** After asking the child for its final frame, how long before it is killed. */
export const CLOSE_TIMEOUT_MS = 2000;

export interface UiProcessOptions extends StartUiOptions {
  /** The child's entry module (default: child-main.js beside this file; tests point at a build). */
  readonly childModule?: string;
  /** Its environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface UiProcessHandle extends UiHandle {
  /**
   * Resolves once the child's first frame is on the terminal (or the child is
   * gone): the run holds its traffic until then, so no segment crosses unseen.
   */
  shown(): Promise<void>;
  /** Hands the UI a read of the kernel's timers (after the events before it). */
  kernelTimers(read: KernelTimersRead): void;
}

export function startUiProcess(opts: UiProcessOptions): UiProcessHandle {
  const t0 = performance.now();
  const elapsed = opts.elapsed ?? (() => (performance.now() - t0) / 1000);
  const env = opts.env ?? process.env;
  // Not `fork`: it would pass our execArgv (--cpu-prof, --inspect) on to the UI.
  const child: ChildProcess = spawn(process.execPath, [opts.childModule ?? CHILD_MAIN], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    // A batch's columns are a Float64Array: V8's serializer copies it as bytes.
    serialization: 'advanced',
    env: {
      ...env,
      // React's development build costs the UI about a fifth more CPU per frame.
      NODE_ENV: env.NODE_ENV ?? 'production',
      [UI_INIT_ENV]: encodeInit({
        profileNames: [...opts.profileNames],
        elapsed: elapsed(),
        ...(opts.labId === undefined ? {} : { labId: opts.labId }),
        ...(opts.profileName === undefined ? {} : { profileName: opts.profileName }),
        ...(opts.color === undefined ? {} : { color: opts.color }),
        ...(opts.mode === undefined ? {} : { mode: opts.mode }),
        ...(opts.timers === undefined ? {} : { timers: opts.timers }),
      }),
    },
  });

  let ready = false;
  let closing = false;
  let exited = false;
  let quitCalled = false;
  let killTimer: NodeJS.Timeout | undefined;
  let pendingClose: ToChild | undefined;
  let markShown: () => void = () => undefined;
  const shownP = new Promise<void>((resolve) => (markShown = resolve));

  const quit = (how: QuitHow): void => {
    if (quitCalled || closing) return;
    quitCalled = true;
    opts.onQuit(how);
  };

  const post = (msg: ToChild, done?: () => void): void => {
    if (exited || !child.connected) {
      done?.();
      return;
    }
    // The callback fires once the message is written to the channel (or failed):
    // that is what paces the batcher.
    child.send(msg, (err) => {
      void err;
      done?.();
    });
  };

  const batcher = new EventBatcher(
    (batch, done) => post({ kind: 'events', elapsed: elapsed(), batch }, done),
    {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
    },
    BATCH_INTERVAL_MS,
    // Until the child says it listens, events gather: a message sent earlier could be lost.
    true,
  );
  const unsubscribe = opts.subscribe(batcher.push);

  const exitedP = new Promise<void>((resolve) => {
    const onGone = (): void => {
      if (exited) return;
      exited = true;
      if (killTimer) clearTimeout(killTimer);
      markShown();
      batcher.dispose();
      // A UI that died under a live run (crash, kill, hang-up) ends the run,
      // so the lab is torn down rather than left running headless; the run
      // did not end by itself, so it ends as interrupted.
      quit('interrupt');
      resolve();
    };
    child.once('exit', onGone);
    child.once('error', (err) => {
      process.stderr.write(`tcpmitm: the terminal UI could not start: ${err.message}\n`);
      onGone();
    });
  });

  child.on('message', (raw) => {
    const msg = decodeToParent(raw);
    if (!msg) return;
    switch (msg.kind) {
      case 'ready': {
        if (ready) return;
        ready = true;
        if (pendingClose) {
          post(pendingClose);
          pendingClose = undefined;
          return;
        }
        batcher.resume();
        return;
      }
      case 'shown':
        markShown();
        return;
      case 'send':
        if (!closing) opts.send(msg.cmd);
        return;
      case 'quit':
        quit(msg.how);
        return;
      case 'watch':
        if (!closing) opts.onWatch?.(msg.sockets);
        return;
    }
  });

  return {
    shown: () => shownP,
    kernelTimers: (read) => {
      if (!closing) batcher.push(read);
    },
    waitUntilExit: () => exitedP,
    unmount: () => {
      if (closing) return;
      closing = true;
      unsubscribe();
      const close: ToChild = { kind: 'close', elapsed: elapsed(), batch: batcher.drain() };
      if (exited) return;
      if (ready) post(close);
      else pendingClose = close;
      killTimer = setTimeout(() => {
        if (exited) return;
        child.kill('SIGKILL');
        restoreTerminal();
      }, CLOSE_TIMEOUT_MS);
    },
  };
}

/**
 * A UI killed in raw mode leaves the terminal raw with the cursor hidden.
 * The child is gone, so stdin is ours again.
 */
function restoreTerminal(): void {
  try {
    if (process.stdout.isTTY) process.stdout.write('\u001B[?25h\n');
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(false);
      process.stdin.destroy();
    }
  } catch {
    // The terminal is gone (hang-up): nothing to restore.
  }
}
