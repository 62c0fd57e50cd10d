// The kernel probe: reports the kernel's own TCP states of a lab's connections
// in the client and server namespaces, one observation per change of a
// socket (its end included, as → CLOSED), beside tcpmitm's inference.
//
// Sources. `proc`: /proc/<pid>/net/tcp{,6} of a process living in each end
// namespace, read with readFileSync (no process spawned per read). A poller
// misses states shorter than its period (LAST-ACK lasts 0.4–2.5 ms on 6.x,
// CLOSING a few ms) and places each change between two reads (`since`).
// `trace`: tracefs sock:inet_sock_set_state (kernel-probe-trace.ts), every
// transition with µs timestamps; the mini-sockets no tracepoint follows are
// looked up in /proc at each read (kernel-probe-sockets.ts). `auto`: trace
// when tracefs works, else proc. Every read reports a watermark: all kernel
// changes up to it have been delivered.

import { readFileSync } from 'node:fs';
import type { KernelObservation } from '../engine/kernel-join.js';
import { parseProcTcp, type ProcTcpRow } from './proc-net-tcp.js';
import { SocketTableDiff, isLabConnection } from './kernel-probe-diff.js';
import { TraceSockets, type ProbeNs } from './kernel-probe-sockets.js';
import { TraceInstance } from './kernel-probe-trace.js';

export type { KernelObservation } from '../engine/kernel-join.js';
export type { ProbeNs } from './kernel-probe-sockets.js';

export interface KernelProbeOptions {
  readonly source: 'auto' | 'trace' | 'proc';
  readonly labId: string;
  /** A process in each end namespace (the lab's holders: lab.nsPid('client'|'server')). */
  readonly pids: Readonly<Record<ProbeNs, number>>;
  /** Every change; `t` is `now()` (or the trace timestamp mapped onto it). */
  readonly onChange?: (obs: KernelObservation) => void;
  readonly onWarning?: (message: string) => void;
  /** How often (ms) the probe reads by itself (default 5); 0: only when sync() is called. */
  readonly periodMs?: number;
  /** Seconds on the caller's clock; default: seconds since the probe started. */
  readonly now?: () => number;
}

export interface KernelProbe {
  /** The source actually in use. */
  readonly source: 'trace' | 'proc';
  /** Adds a listener; returns its removal. */
  subscribe(fn: (obs: KernelObservation) => void): () => void;
  /** The current table of one namespace (lab connections only), read now. */
  snapshot(ns: ProbeNs): ProcTcpRow[];
  /**
   * Reads now: what changed goes to the listeners first. Returns the
   * watermark (s, caller's clock): every kernel change up to it has been delivered.
   */
  sync(): number;
  stop(): Promise<void>;
}

/** Every row of a namespace's /proc/<pid>/net/tcp and tcp6 (listeners included). */
export function readSocketTable(pid: number): ProcTcpRow[] {
  const rows: ProcTcpRow[] = [];
  for (const f of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'latin1');
    } catch {
      continue; // tcp6 is absent when IPv6 is disabled.
    }
    rows.push(...parseProcTcp(text));
  }
  return rows;
}

/**
 * A trace event on another CPU may still be being written while we read: the
 * watermark stays this far (s) behind the read.
 */
const TRACE_COMMIT_MARGIN_S = 0.001;

export async function startKernelProbe(o: KernelProbeOptions): Promise<KernelProbe> {
  const t0 = performance.now();
  const now = o.now ?? (() => (performance.now() - t0) / 1000);
  const listeners = new Set<(obs: KernelObservation) => void>();
  if (o.onChange) listeners.add(o.onChange);
  const emit = (obs: KernelObservation): void => {
    for (const fn of listeners) {
      try {
        fn(obs);
      } catch (err) {
        o.onWarning?.(`kernel probe listener failed: ${(err as Error).message}`);
      }
    }
  };
  const sides: ProbeNs[] = ['client', 'server'];
  let warnedGone = false;
  const read = (ns: ProbeNs): ProcTcpRow[] => {
    const pid = o.pids[ns];
    try {
      // Check the holder is alive: a dead pid would read *our* namespace's table via a reused pid.
      readFileSync(`/proc/${pid}/stat`);
    } catch {
      if (!warnedGone) o.onWarning?.(`kernel probe: the ${ns} namespace's process ${pid} is gone`);
      warnedGone = true;
      return [];
    }
    return readSocketTable(pid);
  };

  let trace: TraceInstance | undefined;
  if (o.source !== 'proc') {
    try {
      trace = TraceInstance.open(o.labId);
    } catch (err) {
      if (o.source === 'trace') throw new Error(`kernel probe: tracefs unavailable: ${(err as Error).message}`);
      o.onWarning?.(`kernel probe: tracefs unavailable (${(err as Error).message}); polling /proc instead`);
    }
  }

  let sync: () => number;
  if (!trace) {
    const diffs: Record<ProbeNs, SocketTableDiff> = { client: new SocketTableDiff(), server: new SocketTableDiff() };
    // Prime with what exists now, so only changes are reported.
    for (const ns of sides) diffs[ns].update(read(ns));
    let last = now();
    sync = () => {
      // Every change before `t` is in the tables read after it.
      const t = now();
      for (const ns of sides) {
        for (const c of diffs[ns].update(read(ns))) emit({ ns, ...c, t, since: last });
      }
      last = t;
      return t;
    };
  } else {
    const tr = trace;
    const sockets = new TraceSockets(now());
    const monoNow = (): number => Number(process.hrtime.bigint()) / 1e9;
    let known = now();
    let lost = 0;
    sync = () => {
      const mono = monoNow();
      const tNow = now();
      const { transitions, lost: n, partial } = tr.drain();
      if (n > 0 && lost === 0) o.onWarning?.(`kernel probe: the trace buffer overflowed, ${n} state changes were lost (the kernel's view may be incomplete)`);
      lost += n;
      const batch = transitions.map((ev) => ({ t: tNow - Math.max(0, mono - ev.ts), local: ev.local, remote: ev.remote, from: ev.from, to: ev.to }));
      for (const obs of sockets.apply(batch, read, tNow)) emit(obs);
      // A line cut mid-way is a transition not yet delivered: nothing after the last whole one is known.
      known = Math.max(known, partial ? (batch.at(-1)?.t ?? known) : tNow - TRACE_COMMIT_MARGIN_S);
      return known;
    };
  }
  const period = o.periodMs ?? 5;
  const timer = period > 0 ? setInterval(() => sync(), period) : undefined;

  let stopped = false;
  let watermark = now();
  return {
    source: trace ? 'trace' : 'proc',
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    snapshot: (ns) => read(ns).filter(isLabConnection),
    sync: () => (stopped ? watermark : (watermark = sync())),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      trace?.close();
      listeners.clear();
    },
  };
}
