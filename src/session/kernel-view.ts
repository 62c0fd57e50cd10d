// The kernel's own view of a run's connections, where their sockets are local
// (the lab's end namespaces): the kernel probe's observations joined to
// tcpmitm's connections as `state` events (source kernel), the lags and
// disagreements between the two views on the run's event bus, and the
// orphans the kernel makes passed to the inference (tcp_fin_timeout).

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { EventBus } from '../engine/event-bus.js';
import type { Engine } from '../engine/engine.js';
import { KernelJoin, type ActivityOf, type JoinOutput } from '../engine/kernel-join.js';
import type { Endpoint } from '../tcp/state.js';
import { readKernelHz } from '../io/kernel-config.js';
import { startKernelProbe, type KernelProbe, type ProbeNs } from '../io/kernel-probe.js';
import type { EndsBy } from '../io/kernel-probe-diff.js';
import { readSoftnetDrops } from '../io/softnet-drops.js';
import { ObserverDeferral } from '../engine/forwarding-pressure.js';

/** What the kernel view needs of the run's runtime. */
export interface KernelViewRuntime {
  /** performance.now() (ms) when the run started: event times count from it. */
  readonly start: number;
  /** The kernel made an endpoint's socket an orphan at `t` (s): see Engine.kernelOrphaned. */
  kernelOrphaned(conn: number, endpoint: Endpoint, t: number): void;
  readonly engine: Pick<Engine, 'connectionBytes' | 'connection'>;
  /** Whether the forwarder is behind the wire (Runtime.behind): the kernel's view then waits, frames go first. */
  behind?(): boolean;
}

export interface KernelViewOptions {
  readonly source: 'auto' | 'trace' | 'proc';
  /** Names the probe's trace instance. */
  readonly labId: string;
  /** A process in each end namespace (the lab's holders). */
  readonly pids: Readonly<Record<ProbeNs, number>>;
  /** Whose sockets are the run's (default: the lab's addresses; intercept: the server's port). */
  readonly ends?: EndsBy;
  readonly bus: EventBus;
  readonly runtime: KernelViewRuntime;
}

export interface KernelView {
  /** The probe source in use. */
  readonly source: 'trace' | 'proc';
  /** Stops the probe and the disagreement checks; idempotent. */
  stop(): Promise<void>;
}

/** How long (ms) the two views may differ, unexplained, before it is a disagreement. */
const GRACE_MS = 50;
/** How often (ms) the probe is read and the differences judged. */
const PERIOD_MS = 5;
/**
 * While the forwarder is behind, the differences are judged once per this long
 * (ms) at most: under half the grace, as the queued-FIN explanation samples
 * the sender's activity (KernelJoin.sample).
 */
const MAX_DEFER_MS = 20;
/** How often (ms) the join drops the sides of connections the tracker has forgotten. */
const PRUNE_MS = 1000;
/** How often (ms) the kernel's backlog drops are read, and said again at most (when they grow). */
const SOFTNET_CHECK_MS = 1000;
const SOFTNET_REPEAT_MS = 10_000;
/**
 * A measuring aid for `npm run bench` (docs/bench.md), not a user option: a
 * file that gets the probe's cost (KernelProbeStats) when the view stops.
 */
const STATS_FILE_ENV = 'TCPMITM_PROBE_STATS';

export async function startKernelView(o: KernelViewOptions): Promise<KernelView> {
  const { bus, runtime } = o;
  // Unrounded, unlike event times: tracepoint times map onto it to the µs.
  const clock = (): number => (performance.now() - runtime.start) / 1000;
  const join = new KernelJoin({ graceMs: GRACE_MS, hz: readKernelHz() });
  const deliver = (outs: readonly JoinOutput[]): void => {
    for (const out of outs) {
      if (out.type !== 'orphaned') bus.emit(out);
      // Not from inside the engine's own emit (a connection event replays early observations).
      else queueMicrotask(() => runtime.kernelOrphaned(out.conn, out.endpoint, out.t));
    }
  };
  const offJoin = bus.subscribe('kernel-join', (ev) => deliver(join.onEvent(ev, clock())), { passSegments: false });
  let probe: KernelProbe;
  try {
    probe = await startKernelProbe({
      source: o.source,
      labId: o.labId,
      pids: o.pids,
      ...(o.ends !== undefined ? { ends: o.ends } : {}),
      now: clock,
      periodMs: 0,
      ...(runtime.behind !== undefined ? { yieldWhile: () => runtime.behind!() } : {}),
      onChange: (obs) => deliver(join.onKernel(obs)),
      onWarning: (message) => bus.emit({ type: 'warning', t: clock(), message }),
    });
  } catch (err) {
    offJoin();
    throw err;
  }
  const activity: ActivityOf = (conn, endpoint) => {
    const bytes = runtime.engine.connectionBytes(conn);
    if (bytes === undefined) return undefined;
    const c = runtime.engine.connection(conn);
    const peerWindowClosed = c !== undefined && (endpoint === 'client' ? c.serverEnd : c.clientEnd).window === 0;
    return { bytes: endpoint === 'client' ? bytes.c2s : bytes.s2c, peerWindowClosed };
  };
  // Judged after the I/O phase that follows the timer: every frame captured
  // before `progress` has been processed by then (the packet ports are read
  // in that phase), and the probe is read just before the judgement — so a
  // late turn of a loaded loop delays judgements, never invents them.
  let stopped = false;
  let waiting = false;
  const judging = new ObserverDeferral(MAX_DEFER_MS, Infinity, performance.now());
  const timer = setInterval(() => {
    if (waiting) return;
    waiting = true;
    const progress = clock();
    setImmediate(() => {
      waiting = false;
      if (stopped) return;
      const focus = join.takeFocusChanges();
      probe.focus(focus.add, focus.remove);
      // The proc source reads here: a socket that lives less than a skipped turn would never be seen, so this always runs.
      const watermark = probe.sync();
      // The forwarder behind the wire: judging waits (it only delays verdicts), at most MAX_DEFER_MS at a stretch.
      const now = performance.now();
      if (judging.waits(now, runtime.behind?.() === true)) return;
      judging.ran(now);
      for (const d of join.check(Math.min(watermark, progress), activity)) bus.emit(d);
    });
  }, PERIOD_MS);
  const pruner = setInterval(() => join.prune((conn) => runtime.engine.connection(conn) !== undefined), PRUNE_MS);
  // Disagreements that the kernel's backlog drops explain: said when they first happen, then at most every SOFTNET_REPEAT_MS.
  const dropsAtStart = readSoftnetDrops();
  let dropsSaid = 0;
  let saidAt = -Infinity;
  const softnet = setInterval(() => {
    const now = readSoftnetDrops();
    if (now === undefined || dropsAtStart === undefined) return;
    const dropped = now - dropsAtStart;
    if (dropped <= dropsSaid || performance.now() - saidAt < SOFTNET_REPEAT_MS) return;
    dropsSaid = dropped;
    saidAt = performance.now();
    bus.emit({
      type: 'warning',
      t: clock(),
      message: `the kernel has dropped ${dropped} frame${dropped === 1 ? '' : 's'} in its receive backlogs since the run began (/proc/net/softnet_stat, host-wide; net.core.netdev_max_backlog): frames tcpmitm forwarded may not have reached their end, so the kernel's states can differ from the wire's (the machine is short of CPU for its softirqs)`,
    });
  }, SOFTNET_CHECK_MS);
  softnet.unref();
  return {
    source: probe.source,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      clearInterval(pruner);
      clearInterval(softnet);
      // What the kernel did last (the final states) still reaches the log: stop() delivers it.
      await probe.stop();
      offJoin();
      const statsFile = process.env[STATS_FILE_ENV];
      if (statsFile) {
        try {
          writeFileSync(statsFile, JSON.stringify({ source: probe.source, tables: probe.tables, ...probe.stats() }) + '\n');
        } catch (err) {
          bus.emit({ type: 'warning', t: clock(), message: `kernel probe: cannot write ${STATS_FILE_ENV} file: ${(err as Error).message}` });
        }
      }
    },
  };
}
