// The kernel probe: reports the kernel's own TCP states of a lab's connections
// in the client and server namespaces, one observation per change of a
// 4-tuple (disappearance included, as → CLOSED), beside tcpmitm's inference.
//
// Sources. `proc`: /proc/<pid>/net/tcp{,6} of a process living in each end
// namespace, read every `periodMs` (5 ms) with readFileSync — no process spawned
// per poll. A poller misses states shorter than its period (LAST-ACK lasts
// 0.4–2.5 ms on 6.x, CLOSING a few ms); it reports what it saw, from → to.
// `trace`: tracefs sock:inet_sock_set_state (kernel-probe-trace.ts), every
// transition with µs timestamps; entering TIME-WAIT shows as "→ CLOSE" there,
// so such a transition is checked against /proc and reported as TIME-WAIT when
// the mini-socket is listed; the end of TIME-WAIT has no tracepoint and is
// found by a slower /proc poll. `auto`: trace when tracefs works, else proc.

import { readFileSync } from 'node:fs';
import type { KernelObservation } from '../engine/kernel-join.js';
import type { TcpState } from '../tcp/state.js';
import { parseProcTcp, type ProcTcpRow } from './proc-net-tcp.js';
import { SocketTableDiff, isLabConnection } from './kernel-probe-diff.js';
import { TraceInstance } from './kernel-probe-trace.js';

export type { KernelObservation } from '../engine/kernel-join.js';
export type ProbeNs = 'client' | 'server';

export interface KernelProbeOptions {
  readonly source: 'auto' | 'trace' | 'proc';
  readonly labId: string;
  /** A process in each end namespace (the lab's holders: lab.nsPid('client'|'server')). */
  readonly pids: Readonly<Record<ProbeNs, number>>;
  /** Every change; `t` is `now()` (or the trace timestamp mapped onto it). */
  readonly onChange?: (obs: KernelObservation) => void;
  readonly onWarning?: (message: string) => void;
  /** proc source poll period, ms (default 5). */
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
  stop(): Promise<void>;
}

/** Reads a namespace's lab connections from /proc/<pid>/net/tcp and tcp6. */
export function readLabSockets(pid: number): ProcTcpRow[] {
  const rows: ProcTcpRow[] = [];
  for (const f of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'latin1');
    } catch {
      continue; // tcp6 is absent when IPv6 is disabled.
    }
    for (const r of parseProcTcp(text)) if (isLabConnection(r)) rows.push(r);
  }
  return rows;
}

/** Which end a socket belongs to, by its local address (the trace source has no namespace). */
function nsOfLocal(local: string): ProbeNs | undefined {
  if (local.startsWith('198.18.0.1:') || local.startsWith('[2001:2::1]:')) return 'client';
  if (local.startsWith('198.18.0.2:') || local.startsWith('[2001:2::2]:')) return 'server';
  return undefined;
}

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
  const diffs: Record<ProbeNs, SocketTableDiff> = { client: new SocketTableDiff(), server: new SocketTableDiff() };
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
    return readLabSockets(pid);
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

  let timer: NodeJS.Timeout;
  if (!trace) {
    // Prime with what exists now, so only changes are reported.
    for (const ns of sides) diffs[ns].update(read(ns));
    timer = setInterval(() => {
      for (const ns of sides) {
        for (const c of diffs[ns].update(read(ns))) emit({ ns, ...c, t: now() });
      }
    }, o.periodMs ?? 5);
  } else {
    const tr = trace;
    const monoNow = (): number => Number(process.hrtime.bigint()) / 1e9;
    timer = setInterval(() => {
      const batch = tr.drain();
      const tables: Partial<Record<ProbeNs, ProcTcpRow[]>> = {};
      const table = (ns: ProbeNs): ProcTcpRow[] => (tables[ns] ??= read(ns));
      const mono = monoNow();
      const tNow = now();
      for (const ev of batch) {
        const ns = nsOfLocal(ev.local);
        // connect() reports CLOSE → SYN_SENT before the source port is bound
        // (sport=0); the tuple's first real event then starts from SYN-SENT.
        if (!ns || ev.local.endsWith(':0') || !isLabConnection({ remote: ev.remote, state: ev.to })) continue;
        const t = tNow - Math.max(0, mono - ev.ts);
        let to: TcpState = ev.to;
        if (to === 'CLOSED') {
          // tcp_time_wait() hashes the TIME-WAIT mini-socket, then sets the
          // full socket to TCP_CLOSE: the tracepoint says CLOSE, /proc lists
          // TIME-WAIT (or FIN-WAIT-2 for an orphan's timewait socket).
          const row = table(ns).find((r) => r.local === ev.local && r.remote === ev.remote);
          if (row && (row.state === 'TIME-WAIT' || row.state === 'FIN-WAIT-2')) to = row.state;
        }
        let from = diffs[ns].get(ev.local, ev.remote);
        if (from === undefined) {
          // A new tuple: an accepted socket was never LISTEN itself, and a
          // connecting one was in SYN-SENT since its (port-less) first event.
          from = 'CLOSED';
          if (ev.from !== 'LISTEN' && ev.from !== 'CLOSED') {
            emit({ ns, local: ev.local, remote: ev.remote, from, to: ev.from, t });
            from = ev.from;
          }
        }
        diffs[ns].set(ev.local, ev.remote, to);
        if (from !== to) emit({ ns, local: ev.local, remote: ev.remote, from, to, t });
      }
      // Mini-sockets (TIME-WAIT, an orphan's FIN-WAIT-2) change and vanish
      // without any tracepoint: follow them in /proc.
      for (const ns of sides) {
        for (const key of diffs[ns].keys()) {
          const st = diffs[ns].get(key.local, key.remote)!;
          if (st !== 'TIME-WAIT' && st !== 'FIN-WAIT-2') continue;
          const row = table(ns).find((r) => r.local === key.local && r.remote === key.remote);
          const now2: TcpState = row ? row.state : 'CLOSED';
          if (now2 !== st) {
            diffs[ns].set(key.local, key.remote, now2);
            emit({ ns, local: key.local, remote: key.remote, from: st, to: now2, t: tNow });
          }
        }
      }
    }, o.periodMs ?? 5);
  }

  let stopped = false;
  return {
    source: trace ? 'trace' : 'proc',
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    snapshot: (ns) => read(ns),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      trace?.close();
      listeners.clear();
    },
  };
}
