// The kernel probe: reports the kernel's own TCP states of a lab's connections
// in the client and server namespaces, one observation per change of a
// socket (its end included, as → CLOSED), beside tcpmitm's inference.
//
// Sources. `proc`: /proc/<pid>/net/tcp{,6} of a process living in each end
// namespace, read with readFileSync (no process spawned per read). A poller
// misses states shorter than its period (LAST-ACK lasts 0.4–2.5 ms on 6.x,
// CLOSING a few ms) and places each change between two reads (`since`). A
// read walks the host's whole established hash (shared by every namespace:
// ~2 ms per file here even for an empty namespace) and parses every row. In
// a small lab reads follow each other as before (every 5 ms, or back to back
// when a read takes longer: the poller's precision needs it, the tracepoint
// is the cheap source); past SMALL_TABLE rows the poller's share of the event
// loop shrinks as the tables grow (SMALL_TABLE / rows: 10 % at 10 000 rows),
// so a big lab is read less often instead of pinning a core. (A sock_diag
// dump walks the same hash, once per address family: no cheaper.)
// `trace`: tracefs sock:inet_sock_set_state (kernel-probe-trace.ts), every
// transition with µs timestamps; the mini-sockets no tracepoint follows are
// looked up one 4-tuple at a time through sock_diag (kernel-probe-sockets.ts):
// its cost grows with the changes, not with the sockets. `auto`: trace when
// tracefs works, else proc. Every read reports a watermark: all kernel changes
// up to it have been delivered.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { KernelObservation } from '../engine/kernel-join.js';
import { parseProcTcp, type ProcTcpRow } from './proc-net-tcp.js';
import { SocketTableDiff, isLabConnection } from './kernel-probe-diff.js';
import { NamespaceDiag } from './kernel-probe-diag.js';
import { TraceSockets, type FocusSocket, type Lookup, type LookupRow, type ProbeNs } from './kernel-probe-sockets.js';
import { TraceInstance } from './kernel-probe-trace.js';

export type { KernelObservation } from '../engine/kernel-join.js';
export type { FocusSocket, ProbeNs } from './kernel-probe-sockets.js';

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

/** What the probe has cost so far (its reads, in ms of the event loop). */
export interface KernelProbeStats {
  readonly reads: number;
  readonly totalMs: number;
  readonly maxMs: number;
  /** Reads that took longer than 1 ms / 5 ms. */
  readonly over1ms: number;
  readonly over5ms: number;
  /** 4-tuple lookups (trace source). */
  readonly lookups: number;
  readonly transitions: number;
}

export interface KernelProbe {
  /** The source actually in use. */
  readonly source: 'trace' | 'proc';
  /** Where single sockets are looked up: sock_diag, or /proc/<pid>/net/tcp (the proc source; the addon cannot). */
  readonly tables: 'sock_diag' | 'proc';
  /** Adds a listener; returns its removal. */
  subscribe(fn: (obs: KernelObservation) => void): () => void;
  /** The current table of one namespace (lab connections only), read now. */
  snapshot(ns: ProbeNs): ProcTcpRow[];
  /**
   * Reads now: what changed goes to the listeners first. Returns the
   * watermark (s, caller's clock): every kernel change up to it has been
   * delivered. `focus`: sockets whose state must be fresh (the views disagree
   * on them); the watermark also covers those.
   */
  sync(focus?: Iterable<FocusSocket>): number;
  stats(): KernelProbeStats;
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
/** Rows of both tables up to which the proc source reads back to back; beyond, a read of d ms waits d × (rows / SMALL_TABLE − 1). */
const SMALL_TABLE = 1000;

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
  const alive = (ns: ProbeNs): boolean => {
    const pid = o.pids[ns];
    try {
      // Check the holder is alive: a dead pid would read *our* namespace's table via a reused pid.
      readFileSync(`/proc/${pid}/stat`);
      return true;
    } catch {
      if (!warnedGone) o.onWarning?.(`kernel probe: the ${ns} namespace's process ${pid} is gone`);
      warnedGone = true;
      return false;
    }
  };
  const read = (ns: ProbeNs): ProcTcpRow[] => (alive(ns) ? readSocketTable(o.pids[ns]) : []);
  const stats = { reads: 0, totalMs: 0, maxMs: 0, over1ms: 0, over5ms: 0, lookups: 0, transitions: 0 };
  const timed = <T>(fn: () => T): T => {
    const t = performance.now();
    try {
      return fn();
    } finally {
      const ms = performance.now() - t;
      stats.reads++;
      stats.totalMs += ms;
      stats.maxMs = Math.max(stats.maxMs, ms);
      if (ms > 1) stats.over1ms++;
      if (ms > 5) stats.over5ms++;
    }
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
  // The tracepoint source's lookups: a sock_diag socket made in each end namespace, once (it stays there even if the holder's pid is reused).
  const diags: Partial<Record<ProbeNs, NamespaceDiag>> = {};
  if (trace) {
    try {
      for (const ns of sides) if (alive(ns)) diags[ns] = NamespaceDiag.open(o.pids[ns]);
    } catch (err) {
      for (const d of Object.values(diags)) d.close();
      for (const ns of sides) delete diags[ns];
      o.onWarning?.(`kernel probe: sock_diag unavailable (${(err as Error).message}); looking sockets up in /proc/<pid>/net/tcp instead (costly with many sockets)`);
    }
  }
  const tables: 'sock_diag' | 'proc' = diags.client && diags.server ? 'sock_diag' : 'proc';

  let sync: (focus?: Iterable<FocusSocket>) => number;
  let lookups = (): number => 0;
  if (!trace) {
    const diffs: Record<ProbeNs, SocketTableDiff> = { client: new SocketTableDiff(), server: new SocketTableDiff() };
    // Prime with what exists now, so only changes are reported.
    for (const ns of sides) diffs[ns].update(read(ns));
    let last = now();
    let nextAt = 0;
    sync = () => {
      // Every change before `t` is in the tables read after it.
      const t = now();
      if (t < nextAt) return last;
      const started = performance.now();
      let rows = 0;
      timed(() => {
        for (const ns of sides) {
          const table = read(ns);
          rows += table.length;
          for (const c of diffs[ns].update(table)) emit({ ns, ...c, t, since: last });
        }
      });
      nextAt = t + ((performance.now() - started) / 1000) * Math.max(1, rows / SMALL_TABLE);
      last = t;
      return t;
    };
  } else {
    const tr = trace;
    const sockets = new TraceSockets();
    lookups = () => sockets.lookups;
    const monoNow = (): number => Number(process.hrtime.bigint()) / 1e9;
    // Without sock_diag, a lookup is a search of the namespace's /proc table, read at most once per sync.
    let procRows: Partial<Record<ProbeNs, Map<string, LookupRow>>> = {};
    const lookup: Lookup =
      tables === 'sock_diag'
        ? (ns, local, remote) => diags[ns]!.lookup(local, remote)
        : (ns, local, remote) => {
            let m = procRows[ns];
            if (m === undefined) {
              m = new Map();
              // One tuple listed twice (a mini-socket and the socket reusing it): the live one.
              for (const r of read(ns)) if (r.state !== 'LISTEN' && (!m.has(`${r.local}|${r.remote}`) || r.inode !== 0)) m.set(`${r.local}|${r.remote}`, r);
              procRows[ns] = m;
            }
            return m.get(`${local}|${remote}`);
          };
    let known = now();
    let lost = 0;
    sync = (focus) =>
      timed(() => {
        procRows = {};
        const mono = monoNow();
        const tNow = now();
        const { transitions, lost: n, partial } = tr.drain();
        if (n > 0 && lost === 0) o.onWarning?.(`kernel probe: the trace buffer overflowed, ${n} state changes were lost (the kernel's view may be incomplete)`);
        lost += n;
        stats.transitions += transitions.length;
        const batch = transitions.map((ev) => ({ t: tNow - Math.max(0, mono - ev.ts), local: ev.local, remote: ev.remote, from: ev.from, to: ev.to }));
        for (const obs of sockets.apply(batch, lookup, tNow, focus)) emit(obs);
        // A line cut mid-way is a transition not yet delivered: nothing after the last whole one is known.
        known = Math.max(known, partial ? (batch.at(-1)?.t ?? known) : tNow - TRACE_COMMIT_MARGIN_S);
        // Transitions left for the next read (the lookup budget ran out), sockets in focus not looked at now: not known past them.
        return Math.min(known, sockets.known() ?? known);
      });
  }
  const period = o.periodMs ?? 5;
  const timer = period > 0 ? setInterval(() => sync(), period) : undefined;

  let stopped = false;
  let watermark = now();
  return {
    source: trace ? 'trace' : 'proc',
    tables,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    snapshot: (ns) => read(ns).filter(isLabConnection),
    sync: (focus) => (stopped ? watermark : (watermark = sync(focus))),
    stats: () => ({ ...stats, lookups: lookups() }),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      trace?.close();
      for (const d of Object.values(diags)) d.close();
      listeners.clear();
    },
  };
}
