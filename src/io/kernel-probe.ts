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
// its cost grows with the changes, not with the sockets. It reads in a worker
// thread (kernel-probe-worker.ts) by default, so that neither a burst of
// closes nor the lookups ever take the forwarding thread's time; `thread:
// 'caller'` reads on the caller's thread instead (the TypeScript tests, which
// have no compiled worker). `auto`: trace when tracefs works, else proc.
// Every read reports a watermark: all kernel changes up to it have been
// delivered.

import { performance } from 'node:perf_hooks';
import type { KernelObservation } from '../engine/kernel-join.js';
import type { ProcTcpRow } from './proc-net-tcp.js';
import { LAB_ENDS, SocketTableDiff, endOfSocket, isTrackedConnection, type EndsBy } from './kernel-probe-diff.js';
import type { FocusSocket, ProbeNs } from './kernel-probe-sockets.js';
import { ReadTimer, TraceReader, monoNow, type KernelProbeStats } from './kernel-probe-reader.js';
import { ObservationDecoder, type EncodedObservations } from './kernel-observation-codec.js';
import { startTraceThread } from './kernel-probe-thread.js';
import { processAlive, readSocketTable } from './proc-socket-table.js';
import { ObserverDeferral } from '../engine/forwarding-pressure.js';

export type { KernelObservation } from '../engine/kernel-join.js';
export type { FocusSocket, ProbeNs } from './kernel-probe-sockets.js';
export type { KernelProbeStats } from './kernel-probe-reader.js';

export interface KernelProbeOptions {
  readonly source: 'auto' | 'trace' | 'proc';
  readonly labId: string;
  /** A process in each end namespace (the lab's holders: lab.nsPid('client'|'server')). */
  readonly pids: Readonly<Record<ProbeNs, number>>;
  /** Which sockets are the run's, and whose (default: the lab's addresses; intercept: the server's port, one namespace). */
  readonly ends?: EndsBy;
  /** Every change; `t` is `now()` (or the trace timestamp mapped onto it). */
  readonly onChange?: (obs: KernelObservation) => void;
  readonly onWarning?: (message: string) => void;
  /**
   * How often (ms) the probe reads by itself (default 5); 0: only when sync()
   * is called — on the caller's thread; a worker reads every 5 ms whatever.
   */
  readonly periodMs?: number;
  /** Where the trace source reads (default: a worker thread). */
  readonly thread?: 'worker' | 'caller';
  /**
   * How the trace source reads the trace (default raw: the binary per-CPU
   * pages where this kernel's formats are the ones tcpmitm decodes, else
   * text); text: always trace_pipe's text.
   */
  readonly traceFormat?: 'raw' | 'text';
  /** Seconds on the caller's clock; default: seconds since the probe started. */
  readonly now?: () => number;
  /**
   * While this says true (the forwarder is behind the wire), a worker's
   * observations wait rather than take the forwarding thread's time: at most
   * MAX_DEFER_MS at a stretch, and at most MAX_DEFERRED of them.
   */
  readonly yieldWhile?: () => boolean;
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
   * Reads now (a worker: what it has delivered so far): what changed goes to
   * the listeners first. Returns the watermark (s, caller's clock): every
   * kernel change up to it has been delivered, including those of the
   * sockets in focus.
   */
  sync(): number;
  /** Sockets whose state must be kept fresh from now on (`add`: the views differ on them), or no longer (`remove`). */
  focus(add: readonly FocusSocket[], remove: readonly FocusSocket[]): void;
  stats(): KernelProbeStats;
  /** Stops reading; the last changes reach the listeners before it resolves. */
  stop(): Promise<void>;
}

/** Rows of both tables up to which the proc source reads back to back; beyond, a read of d ms waits d × (rows / SMALL_TABLE − 1). */
const SMALL_TABLE = 1000;
/** How often (ms) a worker reads the trace. */
const WORKER_PERIOD_MS = 5;
/** The forwarding thread's time (ms) per turn of its loop for a worker's observations, while they queue. */
const HAND_ON_SLICE_MS = 1;
/**
 * While the forwarder is behind, observations are handed on one slice per
 * this long (ms) at most, and not at all once this many wait (then as usual):
 * the closes of 10 000 connections queue ~60 000, and a probe that competes
 * for the forwarding thread in that burst makes the forwarder fall further
 * behind the wire, seconds for every frame.
 */
const MAX_DEFER_MS = 50;
const MAX_DEFERRED = 200_000;
const DEFER_RETRY_MS = 2;

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
  const warn = (message: string): void => o.onWarning?.(message);
  // CLOCK_MONOTONIC seconds (the trace's) onto the caller's clock, now: both advance alike.
  const fromMono = (obs: KernelObservation, offset: number): KernelObservation =>
    obs.since === undefined ? { ...obs, t: obs.t + offset } : { ...obs, t: obs.t + offset, since: obs.since + offset };
  const sides: ProbeNs[] = ['client', 'server'];
  let warnedGone = false;
  const alive = (ns: ProbeNs): boolean => {
    if (processAlive(o.pids[ns])) return true;
    if (!warnedGone) warn(`kernel probe: the ${ns} namespace's process ${o.pids[ns]} is gone`);
    warnedGone = true;
    return false;
  };
  const read = (ns: ProbeNs): ProcTcpRow[] => (alive(ns) ? readSocketTable(o.pids[ns]) : []);
  const ends = o.ends ?? LAB_ENDS;
  const snapshot = (ns: ProbeNs): ProcTcpRow[] =>
    read(ns).filter((r) => isTrackedConnection(r, ends) && (ends.by === 'lab-address' || endOfSocket(r.local, r.remote, ends) === ns));
  const subscribe = (fn: (obs: KernelObservation) => void): (() => void) => {
    listeners.add(fn);
    return () => listeners.delete(fn);
  };

  if (o.source !== 'proc') {
    const tracing = await startTrace(o, emit, now, fromMono, warn).catch((err: Error) => {
      if (o.source === 'trace') throw new Error(`kernel probe: tracefs unavailable: ${err.message}`);
      warn(`kernel probe: tracefs unavailable (${err.message}); polling /proc instead`);
      return undefined;
    });
    if (tracing) return { source: 'trace', snapshot, subscribe, ...tracing, stop: () => tracing.stop().finally(() => listeners.clear()) };
  }

  const timer = new ReadTimer();
  const diffs: Record<ProbeNs, SocketTableDiff> = { client: new SocketTableDiff(ends, 'client'), server: new SocketTableDiff(ends, 'server') };
  // Prime with what exists now, so only changes are reported.
  for (const ns of sides) diffs[ns].update(read(ns));
  let last = now();
  let nextAt = 0;
  const poll = (): number => {
    // Every change before `t` is in the tables read after it.
    const t = now();
    if (t < nextAt) return last;
    const started = performance.now();
    let rows = 0;
    timer.timed(() => {
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
  const period = o.periodMs ?? 5;
  const interval = period > 0 ? setInterval(poll, period) : undefined;
  let stopped = false;
  let watermark = now();
  return {
    source: 'proc',
    tables: 'proc',
    snapshot,
    subscribe,
    sync: () => (stopped ? watermark : (watermark = poll())),
    // Every read sees every socket: nothing to keep fresh apart.
    focus: () => {},
    stats: () => ({ ...timer.stats, lookups: 0, transitions: 0 }),
    async stop() {
      if (stopped) return;
      stopped = true;
      if (interval) clearInterval(interval);
      listeners.clear();
    },
  };
}

type TraceProbe = Pick<KernelProbe, 'tables' | 'sync' | 'focus' | 'stats' | 'stop'>;

/** The trace source, read in a worker thread or on the caller's; rejects when tracefs cannot be used. */
async function startTrace(
  o: KernelProbeOptions,
  emit: (obs: KernelObservation) => void,
  now: () => number,
  fromMono: (obs: KernelObservation, offset: number) => KernelObservation,
  warn: (message: string) => void,
): Promise<TraceProbe> {
  const offset = (): number => now() - monoNow();
  let stopped = false;
  if ((o.thread ?? 'worker') === 'worker') {
    let watermark = now();
    // Reads not yet handed to the listeners, oldest first; `next`: the first observation of the head not yet handed on.
    const queue: { readonly observations: EncodedObservations; readonly mono: number }[] = [];
    const decoder = new ObservationDecoder();
    let next = 0;
    let scheduled = false;
    /** Observations queued and not yet handed on, and when a slice last ran (ms). */
    let waiting = 0;
    const deferral = new ObserverDeferral(MAX_DEFER_MS, MAX_DEFERRED, performance.now());
    /**
     * Hands queued observations on for at most `budgetMs` (Infinity: all):
     * the closes of 10 000 connections are ~100 000 observations, and the
     * listeners (the join, the logs) take µs each on the forwarding thread —
     * in one go they would hold forwarding for seconds. The watermark
     * advances only past reads handed on whole.
     */
    const handOn = (budgetMs: number): void => {
      const until = performance.now() + budgetMs;
      const off = offset();
      while (queue.length > 0) {
        const head = queue[0]!;
        const { defs, values } = head.observations;
        if (next === 0) decoder.define(defs);
        const count = decoder.count(values);
        while (next < count) {
          emit(decoder.observation(values, next++, off));
          waiting--;
          if ((next & 15) === 0 && performance.now() > until) return;
        }
        // Not clamped: a socket brought into focus holds it back (TraceSockets.known).
        watermark = head.mono + off;
        queue.shift();
        next = 0;
      }
    };
    const slice = (): void => {
      scheduled = false;
      if (stopped) return;
      const at = performance.now();
      if (deferral.waits(at, o.yieldWhile?.() === true, waiting)) {
        scheduled = true;
        setTimeout(slice, DEFER_RETRY_MS);
        return;
      }
      deferral.ran(at);
      handOn(HAND_ON_SLICE_MS);
      if (queue.length > 0) {
        scheduled = true;
        // After the I/O phase: frames waiting meanwhile are forwarded first.
        setImmediate(slice);
      }
    };
    const thread = await startTraceThread(
      { labId: o.labId, pids: o.pids, periodMs: WORKER_PERIOD_MS, traceFormat: o.traceFormat ?? 'raw', ends: o.ends ?? LAB_ENDS },
      {
        onRead: (observations, mono) => {
          queue.push({ observations, mono });
          waiting += decoder.count(observations.values);
          if (!scheduled) slice();
        },
        onWarning: warn,
      },
    );
    return {
      tables: thread.tables,
      sync: () => watermark,
      focus(add, remove) {
        if (!stopped) thread.focus(add, remove);
      },
      stats: () => thread.stats(),
      async stop() {
        if (stopped) return;
        stopped = true;
        await thread.stop();
        // The last read included: everything the kernel did reaches the listeners.
        handOn(Infinity);
      },
    };
  }
  const reader = TraceReader.open(o.labId, o.pids, warn, o.traceFormat ?? 'raw', o.ends ?? LAB_ENDS);
  let watermark = now();
  const sync = (): number => {
    if (stopped) return watermark;
    const { observations, watermark: mono } = reader.read();
    const off = offset();
    for (const obs of observations) emit(fromMono(obs, off));
    return (watermark = mono + off);
  };
  const period = o.periodMs ?? 5;
  const interval = period > 0 ? setInterval(() => sync(), period) : undefined;
  return {
    tables: reader.tables,
    sync,
    focus: (add, remove) => reader.focus(add, remove),
    stats: () => ({ ...reader.stats(), thread: 'caller' }),
    async stop() {
      if (stopped) return;
      if (interval) clearInterval(interval);
      // What the kernel did last still reaches the listeners.
      sync();
      stopped = true;
      reader.close();
    },
  };
}
