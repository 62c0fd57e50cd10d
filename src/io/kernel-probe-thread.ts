// The session's side of the kernel probe's worker thread
// (kernel-probe-worker.ts): starts it, passes it the sockets in focus, and
// hands each read's observations on as they arrive. Times stay
// CLOCK_MONOTONIC seconds here; kernel-probe.ts maps them onto its clock.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EncodedObservations } from './kernel-observation-codec.js';
import type { FocusSocket, ProbeNs } from './kernel-probe-sockets.js';
import type { EndsBy } from './kernel-probe-diff.js';
import type { KernelProbeStats } from './kernel-probe-reader.js';

export interface WorkerInit {
  readonly labId: string;
  readonly pids: Readonly<Record<ProbeNs, number>>;
  /** How often (ms) the worker reads. */
  readonly periodMs: number;
  readonly traceFormat: 'raw' | 'text';
  /** Whose end a socket is (kernel-probe-diff.ts EndsBy). */
  readonly ends: EndsBy;
}

export type ToWorker = { readonly type: 'focus'; readonly add: readonly FocusSocket[]; readonly remove: readonly FocusSocket[] } | { readonly type: 'stop' };

export type FromWorker =
  | { readonly type: 'ready'; readonly tables: 'sock_diag' | 'proc' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'read'; readonly observations: EncodedObservations; readonly watermark: number; readonly stats: KernelProbeStats }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'stopped'; readonly stats: KernelProbeStats };

export interface TraceThreadHandlers {
  /** One read's changes (times CLOCK_MONOTONIC s; decode them in order with an ObservationDecoder) and its watermark. */
  readonly onRead: (observations: EncodedObservations, watermark: number) => void;
  readonly onWarning: (message: string) => void;
}

export interface TraceThread {
  readonly tables: 'sock_diag' | 'proc';
  /** Sockets whose state must be kept fresh from now on (`add`), or no longer (`remove`). */
  focus(add: readonly FocusSocket[], remove: readonly FocusSocket[]): void;
  stats(): KernelProbeStats;
  /** The last read is delivered, the trace instance removed, the thread gone. */
  stop(): Promise<void>;
}

/** The compiled worker beside this module (dist/io/): the TypeScript sources have none. */
const WORKER_FILE = fileURLToPath(new URL('./kernel-probe-worker.js', import.meta.url));
/** How long (ms) a stopping worker may take to deliver its last read and remove its instance. */
const STOP_WAIT_MS = 3000;

/** Starts the reader thread; rejects with the reason when tracefs cannot be used (the caller may fall back to /proc). */
export function startTraceThread(init: WorkerInit, h: TraceThreadHandlers): Promise<TraceThread> {
  if (!existsSync(WORKER_FILE)) return Promise.reject(new Error(`the kernel probe's worker ${WORKER_FILE} is missing (build with: npm run build)`));
  const worker = new Worker(WORKER_FILE, { workerData: init });
  let stats: KernelProbeStats = { reads: 0, totalMs: 0, maxMs: 0, over1ms: 0, over5ms: 0, lookups: 0, transitions: 0 };
  let stopped: Promise<void> | undefined;
  let onStopped: (() => void) | undefined;
  return new Promise((resolve, reject) => {
    let started = false;
    const thread = (tables: 'sock_diag' | 'proc'): TraceThread => ({
      tables,
      focus(add, remove) {
        if (add.length > 0 || remove.length > 0) worker.postMessage({ type: 'focus', add, remove } satisfies ToWorker);
      },
      stats: () => ({ ...stats, thread: 'worker' }),
      stop() {
        stopped ??= new Promise<void>((done) => {
          // Held until it has stopped: an idle session must not exit with the instance still there.
          worker.ref();
          const timer = setTimeout(() => {
            h.onWarning('kernel probe: its reader thread did not stop in time; ended');
            void worker.terminate().then(() => done());
          }, STOP_WAIT_MS);
          onStopped = () => {
            clearTimeout(timer);
            done();
          };
          worker.postMessage({ type: 'stop' } satisfies ToWorker);
        });
        return stopped;
      },
    });
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          started = true;
          // A forgotten stop() must not keep the session alive.
          worker.unref();
          resolve(thread(m.tables));
          break;
        case 'failed':
          reject(new Error(m.message));
          break;
        case 'read':
          stats = m.stats;
          h.onRead(m.observations, m.watermark);
          break;
        case 'warning':
          h.onWarning(m.message);
          break;
        case 'stopped':
          stats = m.stats;
          onStopped?.();
          break;
      }
    });
    worker.on('error', (err) => {
      if (!started) reject(err);
      else h.onWarning(`kernel probe: its reader thread failed: ${err.message}`);
      onStopped?.();
    });
    worker.on('exit', () => {
      if (!started) reject(new Error('the kernel probe worker exited before it started'));
      onStopped?.();
    });
  });
}
