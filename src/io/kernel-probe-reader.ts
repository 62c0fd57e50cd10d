// The tracepoint source's reading, wherever it runs: the lab's trace
// instance drained, its transitions applied to the lab's sockets
// (TraceSockets, with sock_diag lookups of the mini-sockets no tracepoint
// follows), each read giving the observations and a watermark. Every time
// here is CLOCK_MONOTONIC seconds (the trace clock, and process.hrtime in
// any thread), so a reader in a worker thread and the thread that consumes
// its observations share one clock; the consumer maps it onto its own.

import { performance } from 'node:perf_hooks';
import type { KernelObservation } from '../engine/kernel-join.js';
import { NamespaceDiag } from './kernel-probe-diag.js';
import { LAB_ENDS, type EndsBy } from './kernel-probe-diff.js';
import { TraceSockets, type FocusSocket, type Lookup, type LookupRow, type ProbeNs } from './kernel-probe-sockets.js';
import { TraceInstance } from './kernel-probe-trace.js';
import { readSocketTable, processAlive } from './proc-socket-table.js';

/** CLOCK_MONOTONIC seconds: the trace instance's clock (trace_clock "mono"). */
export function monoNow(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/**
 * A trace event on another CPU may still be being written while we read: the
 * watermark stays this far (s) behind the read.
 */
const TRACE_COMMIT_MARGIN_S = 0.001;

/** What the probe has cost so far (its reads, in ms of the reading thread). */
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
  /** Where the trace source reads: the session's own thread, or a worker thread beside it. */
  readonly thread?: 'caller' | 'worker';
  /** How the trace source reads the trace: binary pages per CPU, or the text of trace_pipe. */
  readonly format?: 'raw' | 'text';
}

/** Counts the reads of a probe source and how long each took. */
export class ReadTimer {
  readonly stats = { reads: 0, totalMs: 0, maxMs: 0, over1ms: 0, over5ms: 0 };

  timed<T>(fn: () => T): T {
    const t = performance.now();
    try {
      return fn();
    } finally {
      const ms = performance.now() - t;
      const s = this.stats;
      s.reads++;
      s.totalMs += ms;
      s.maxMs = Math.max(s.maxMs, ms);
      if (ms > 1) s.over1ms++;
      if (ms > 5) s.over5ms++;
    }
  }
}

/** One read: what changed (times CLOCK_MONOTONIC s) and up to when every change has been delivered. */
export interface TraceRead {
  readonly observations: KernelObservation[];
  readonly watermark: number;
}

export class TraceReader {
  private readonly sockets: TraceSockets;
  private readonly timer = new ReadTimer();
  private known = monoNow();
  private lost = 0;
  private transitions = 0;
  private warnedGone = false;
  /** Without sock_diag, a lookup is a search of the namespace's /proc table, read at most once per read. */
  private procRows: Partial<Record<ProbeNs, Map<string, LookupRow>>> = {};
  private readonly lookup: Lookup;

  private constructor(
    private readonly trace: TraceInstance,
    private readonly pids: Readonly<Record<ProbeNs, number>>,
    private readonly diags: Partial<Record<ProbeNs, NamespaceDiag>>,
    private readonly onWarning: (message: string) => void,
    ends: EndsBy,
  ) {
    this.sockets = new TraceSockets(ends);
    this.lookup = this.tables === 'sock_diag' ? (ns, local, remote) => diags[ns]!.lookup(local, remote) : (ns, local, remote) => this.procLookup(ns, local, remote);
  }

  /** Opens the lab's trace instance and a sock_diag socket in each end namespace; throws when tracefs is unavailable. */
  static open(labId: string, pids: Readonly<Record<ProbeNs, number>>, onWarning: (message: string) => void, format: 'raw' | 'text' = 'raw', ends: EndsBy = LAB_ENDS): TraceReader {
    const trace = TraceInstance.open(labId, format);
    // A sock_diag socket made in each end namespace, once (it stays there even if the holder's pid is reused).
    const diags: Partial<Record<ProbeNs, NamespaceDiag>> = {};
    try {
      for (const ns of ['client', 'server'] as const) if (processAlive(pids[ns])) diags[ns] = NamespaceDiag.open(pids[ns]);
    } catch (err) {
      for (const d of Object.values(diags)) d.close();
      for (const ns of ['client', 'server'] as const) delete diags[ns];
      onWarning(`kernel probe: sock_diag unavailable (${(err as Error).message}); looking sockets up in /proc/<pid>/net/tcp instead (costly with many sockets)`);
    }
    return new TraceReader(trace, pids, diags, onWarning, ends);
  }

  /** How the trace is read: binary pages per CPU, or text. */
  get format(): 'raw' | 'text' {
    return this.trace.format;
  }

  /** Where single sockets are looked up. */
  get tables(): 'sock_diag' | 'proc' {
    return this.diags.client && this.diags.server ? 'sock_diag' : 'proc';
  }

  /** Sockets whose state must be fresh from now on (`add`: the views disagree on them), or no longer; the watermark also covers those. */
  focus(add: readonly FocusSocket[], remove: readonly FocusSocket[]): void {
    this.sockets.focus(add, remove);
  }

  /** Reads now: the transitions since the last read and the followed sockets in focus or due. */
  read(): TraceRead {
    return this.timer.timed(() => {
      this.procRows = {};
      const now = monoNow();
      const { transitions, lost, partial, until } = this.trace.drain();
      if (lost > 0 && this.lost === 0) this.onWarning(`kernel probe: the trace buffer overflowed, ${lost} state changes were lost (the kernel's view may be incomplete)`);
      this.lost += lost;
      this.transitions += transitions.length;
      const batch = transitions.map((ev) => ({ t: Math.min(ev.ts, now), local: ev.local, remote: ev.remote, from: ev.from, to: ev.to }));
      const observations = this.sockets.apply(batch, this.lookup, now);
      // More waiting (a line cut mid-way, a bound reached): nothing after what the drain vouches for is known.
      this.known = Math.max(this.known, partial ? (until ?? this.known) : now - TRACE_COMMIT_MARGIN_S);
      // Transitions left for the next read (the lookup budget ran out), sockets in focus not looked at now: not known past them.
      return { observations, watermark: Math.min(this.known, this.sockets.known() ?? this.known) };
    });
  }

  stats(): KernelProbeStats {
    return { ...this.timer.stats, lookups: this.sockets.lookups, transitions: this.transitions, format: this.trace.format };
  }

  close(): void {
    this.trace.close();
    for (const d of Object.values(this.diags)) d.close();
  }

  private procLookup(ns: ProbeNs, local: string, remote: string): LookupRow | undefined {
    let m = this.procRows[ns];
    if (m === undefined) {
      m = new Map();
      const pid = this.pids[ns];
      if (processAlive(pid)) {
        // One tuple listed twice (a mini-socket and the socket reusing it): the live one.
        for (const r of readSocketTable(pid)) if (r.state !== 'LISTEN' && (!m.has(`${r.local}|${r.remote}`) || r.inode !== 0)) m.set(`${r.local}|${r.remote}`, r);
      } else if (!this.warnedGone) {
        this.warnedGone = true;
        this.onWarning(`kernel probe: the ${ns} namespace's process ${pid} is gone`);
      }
      this.procRows[ns] = m;
    }
    return m.get(`${local}|${remote}`);
  }
}
