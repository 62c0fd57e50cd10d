// The kernel probe's tracepoint reader in a worker thread beside the session's
// forwarding loop: draining the trace, applying thousands of transitions and
// looking up mini-sockets never take the forwarding thread's time (a burst of
// 10 000 closes used to hold it for seconds). The session's thread gets each
// read's observations and watermark as one message; the join stays there.
// The protocol is kernel-probe-thread.ts's; times are CLOCK_MONOTONIC seconds.

import { parentPort, workerData } from 'node:worker_threads';
import { ObservationEncoder } from './kernel-observation-codec.js';
import { TraceReader } from './kernel-probe-reader.js';
import type { ToWorker, FromWorker, WorkerInit } from './kernel-probe-thread.js';

const port = parentPort;
if (port === null) throw new Error('kernel-probe-worker.js runs as a worker thread only');
const init = workerData as WorkerInit;
const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

let reader: TraceReader | undefined;
try {
  reader = TraceReader.open(init.labId, init.pids, (message) => post({ type: 'warning', message }), init.traceFormat, init.ends);
  post({ type: 'ready', tables: reader.tables });
} catch (err) {
  post({ type: 'failed', message: (err as Error).message });
  port.close();
}

if (reader !== undefined) {
  const r = reader;
  const encoder = new ObservationEncoder();
  let failed = false;
  const read = (): void => {
    if (failed) return;
    try {
      const { observations, watermark } = r.read();
      const encoded = encoder.encode(observations);
      post({ type: 'read', observations: encoded, watermark, stats: r.stats() }, [encoded.values.buffer as ArrayBuffer]);
    } catch (err) {
      // The instance removed under us (`lab down` of a crashed run) or the kernel refusing: said once, reading stops.
      failed = true;
      post({ type: 'warning', message: `kernel probe: reading the trace failed: ${(err as Error).message}` });
    }
  };
  const timer = setInterval(read, init.periodMs);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'focus') r.focus(m.add, m.remove);
    else if (m.type === 'stop') {
      clearInterval(timer);
      // What the kernel did last still reaches the session.
      read();
      try {
        r.close();
      } finally {
        post({ type: 'stopped', stats: r.stats() });
        port.close();
      }
    }
  });
}
