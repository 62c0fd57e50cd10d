// The kernel's own view of a run's connections, where their sockets are local
// (the lab's end namespaces): the kernel probe's observations joined to
// tcpmitm's connections as `state` events (source kernel), and the
// disagreements between the two views, on the run's event bus.

import type { EventBus } from '../engine/event-bus.js';
import { KernelJoin } from '../engine/kernel-join.js';
import { startKernelProbe, type KernelProbe, type ProbeNs } from '../io/kernel-probe.js';

export interface KernelViewOptions {
  readonly source: 'auto' | 'trace' | 'proc';
  /** Names the probe's trace instance. */
  readonly labId: string;
  /** A process in each end namespace (the lab's holders). */
  readonly pids: Readonly<Record<ProbeNs, number>>;
  readonly bus: EventBus;
  /** The run's clock, seconds since its start (every event's `t`). */
  readonly elapsed: () => number;
}

export interface KernelView {
  /** The probe source in use. */
  readonly source: 'trace' | 'proc';
  /** Stops the probe and the disagreement checks; idempotent. */
  stop(): Promise<void>;
}

/** How long (ms) the two views may differ before it is a disagreement. */
const GRACE_MS = 50;

export async function startKernelView(o: KernelViewOptions): Promise<KernelView> {
  const { bus, elapsed } = o;
  const join = new KernelJoin(GRACE_MS);
  const offJoin = bus.subscribe(
    'kernel-join',
    (ev) => {
      for (const k of join.onEvent(ev)) bus.emit(k);
    },
    { passSegments: false },
  );
  let probe: KernelProbe;
  try {
    probe = await startKernelProbe({
      source: o.source,
      labId: o.labId,
      pids: o.pids,
      now: elapsed,
      onChange: (obs) => {
        const ev = join.onKernel(obs);
        if (ev) bus.emit(ev);
      },
      onWarning: (message) => bus.emit({ type: 'warning', t: elapsed(), message }),
    });
  } catch (err) {
    offJoin();
    throw err;
  }
  const disagreements = setInterval(() => {
    for (const d of join.check(elapsed())) bus.emit(d);
  }, 10);
  let stopped = false;
  return {
    source: probe.source,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(disagreements);
      offJoin();
      await probe.stop();
    },
  };
}
