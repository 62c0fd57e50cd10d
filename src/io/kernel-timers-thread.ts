// The session's side of the kernel-timers worker (kernel-timers-worker.ts):
// starts it beside a UI that shows a kernel view, passes it the sockets the UI
// shows, and hands each read on with its time on the run's clock.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { KernelSocketTimer, WatchedSocket } from './kernel-timers.js';

export interface KernelTimersInit {
  /** A process in each end namespace (the same one twice where both ends share a namespace: intercept, tap). */
  readonly pids: Readonly<Record<'client' | 'server', number>>;
}

export type TimersToWorker = { readonly type: 'watch'; readonly sockets: readonly WatchedSocket[] } | { readonly type: 'stop' };

export type TimersFromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'read'; readonly mono: number; readonly sockets: readonly KernelSocketTimer[] }
  | { readonly type: 'warning'; readonly message: string };

export interface KernelTimersHandlers {
  /** One read: `t` on the run's clock (s, as `elapsed`). */
  readonly onRead: (t: number, sockets: readonly KernelSocketTimer[]) => void;
  readonly onWarning: (message: string) => void;
  /** The run's clock (s). */
  readonly elapsed: () => number;
}

export interface KernelTimers {
  /** The sockets to read from now on (none: reading pauses). */
  watch(sockets: readonly WatchedSocket[]): void;
  stop(): void;
}

const WORKER_FILE = fileURLToPath(new URL('./kernel-timers-worker.js', import.meta.url));

/** Starts the worker; rejects when it cannot (no compiled worker, sock_diag refused). */
export function startKernelTimers(init: KernelTimersInit, h: KernelTimersHandlers): Promise<KernelTimers> {
  if (!existsSync(WORKER_FILE)) return Promise.reject(new Error(`${WORKER_FILE} is missing (build with: npm run build)`));
  const worker = new Worker(WORKER_FILE, { workerData: init });
  // An idle reader must never keep the session alive.
  worker.unref();
  const mono = (): number => Number(process.hrtime.bigint()) / 1e9;
  let stopped = false;
  return new Promise((resolve, reject) => {
    let started = false;
    worker.on('message', (m: TimersFromWorker) => {
      switch (m.type) {
        case 'ready':
          started = true;
          resolve({
            watch(sockets) {
              if (!stopped) worker.postMessage({ type: 'watch', sockets } satisfies TimersToWorker);
            },
            stop() {
              if (stopped) return;
              stopped = true;
              worker.postMessage({ type: 'stop' } satisfies TimersToWorker);
            },
          });
          break;
        case 'failed':
          reject(new Error(m.message));
          break;
        case 'read':
          // Both threads' CLOCK_MONOTONIC: the read's time onto the run's clock, as of now.
          if (!stopped) h.onRead(m.mono + (h.elapsed() - mono()), m.sockets);
          break;
        case 'warning':
          h.onWarning(m.message);
          break;
      }
    });
    worker.on('error', (err) => {
      if (!started) reject(err);
      else h.onWarning(`kernel timers: their reader thread failed: ${err.message}`);
    });
    worker.on('exit', () => {
      if (!started) reject(new Error('the kernel timers worker exited before it started'));
    });
  });
}
