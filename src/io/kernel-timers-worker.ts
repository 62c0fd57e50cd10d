// Reads the kernel's timers of the sockets a terminal UI shows
// (kernel-timers.ts) in a worker thread of its own: a sock_diag lookup is a
// blocking netlink round trip (3–20 µs, up to its 1 s receive timeout if the
// kernel never answered), and the forwarding thread must never wait for one
// (issue 12). One sock_diag socket per end namespace, opened here (diagOpen
// moves only the calling thread, and back). Reads only while sockets are
// watched: at once when the watch changes, then as nextReadInMs says.
// The protocol is kernel-timers-thread.ts's; times are CLOCK_MONOTONIC seconds.

import { parentPort, workerData } from 'node:worker_threads';
import { loadAfPacket } from './afpacket-addon.js';
import { MIN_READ_GAP_MS, boundWatch, nextReadInMs, timerOf, type KernelSocketTimer, type WatchedSocket } from './kernel-timers.js';
import type { KernelTimersInit, TimersFromWorker, TimersToWorker } from './kernel-timers-thread.js';
import { stateOfCode } from './proc-net-tcp.js';

const port = parentPort;
if (port === null) throw new Error('kernel-timers-worker.js runs as a worker thread only');
const init = workerData as KernelTimersInit;
const post = (m: TimersFromWorker): void => port.postMessage(m);
const mono = (): number => Number(process.hrtime.bigint()) / 1e9;

const addon = loadAfPacket();
const fds: Partial<Record<'client' | 'server', number>> = {};
try {
  for (const ns of ['client', 'server'] as const) fds[ns] = addon.diagOpen(`/proc/${init.pids[ns]}/ns/net`);
  post({ type: 'ready' });
} catch (err) {
  for (const fd of Object.values(fds)) addon.diagClose(fd);
  post({ type: 'failed', message: (err as Error).message });
  port.close();
}

let watched: WatchedSocket[] = [];
let timer: NodeJS.Timeout | undefined;
let lastRead = -Infinity;
let failed = false;

const read = (): void => {
  timer = undefined;
  if (failed || watched.length === 0) return;
  const at = mono();
  const out: KernelSocketTimer[] = [];
  try {
    for (const w of watched) {
      const r = addon.diagLookup(fds[w.endpoint]!, w.local, w.remote);
      const state = r === undefined ? undefined : stateOfCode(r.state);
      out.push({ conn: w.conn, endpoint: w.endpoint, state, timer: r === undefined ? undefined : timerOf(r.timer, r.expiresMs, r.retrans) });
    }
  } catch (err) {
    // The namespace gone under us (the lab torn down first) or the kernel refusing: said once, reading stops.
    failed = true;
    post({ type: 'warning', message: `kernel timers: reading them failed: ${(err as Error).message}` });
    return;
  }
  lastRead = at;
  post({ type: 'read', mono: at, sockets: out });
  timer = setTimeout(read, nextReadInMs(out));
};

if (Object.keys(fds).length === 2) {
  port.on('message', (m: TimersToWorker) => {
    if (m.type === 'watch') {
      watched = boundWatch(m.sockets);
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      // A new selection is read at once, unless the last read was just now.
      if (watched.length > 0) timer = setTimeout(read, Math.max(0, MIN_READ_GAP_MS - (mono() - lastRead) * 1000));
    } else {
      if (timer !== undefined) clearTimeout(timer);
      for (const fd of Object.values(fds)) addon.diagClose(fd);
      port.close();
    }
  });
}
