// A recorded run's connections as ladder rows, in time order: the segments and
// inferred state changes exactly as the terminal UI's model lays them out
// (src/ui/model.ts: holds resolved, drops paired with their actions, each new
// state on the arrow that caused it), with the kernel probe's state changes
// merged in by time as rows of their own. Pure.

import type { StateEvent, TcpmitmEvent } from '../engine/events.js';
import type { Endpoint, TcpState } from '../tcp/state.js';
import { UiModel, type LadderEntry } from '../ui/model.js';

/** A state change the kernel reported (sock:inet_sock_set_state), beside the inferred ones. */
export interface KernelRow {
  readonly kind: 'kernel';
  /** Seconds since the run start, as in the JSONL. */
  readonly t: number;
  readonly endpoint: Endpoint;
  readonly from: TcpState;
  readonly to: TcpState;
}

/** A UI ladder entry with its time in seconds since the run start (the UI model counts ms). */
export type LadderRow = { readonly entry: LadderEntry; readonly t: number; readonly kind: LadderEntry['kind'] } | KernelRow;

export interface ConnectionRows {
  readonly conn: number;
  readonly client: string;
  readonly server: string;
  readonly pickedUp: boolean;
  readonly rows: readonly LadderRow[];
  /** Segments drawn (the UI model folds a held segment and its release into one). */
  readonly segments: number;
}

export interface RunRows {
  readonly profile: string | undefined;
  readonly lab: string | undefined;
  readonly mode: string | undefined;
  /** Wall-clock start (ISO 8601) from the start event. */
  readonly wall: string | undefined;
  readonly connections: readonly ConnectionRows[];
}

/** Every connection of the run (or only `conn`), each with its rows in time order. */
export function runRows(events: readonly TcpmitmEvent[], conn?: number): RunRows {
  // The UI model runs on the event clock in ms (src/ui/start.tsx scales the
  // same way); every entry kept: a recorded run is finite and the picture scrolls.
  const model = new UiModel({ maxLadder: Number.MAX_SAFE_INTEGER, maxConnections: Number.MAX_SAFE_INTEGER, maxEvents: 1 });
  const kernel = new Map<number, StateEvent[]>();
  let wall: string | undefined;
  for (const ev of events) {
    if (ev.type === 'start') wall = ev.wall;
    if (ev.type === 'state' && ev.source === 'kernel') {
      const list = kernel.get(ev.conn) ?? [];
      list.push(ev);
      kernel.set(ev.conn, list);
    }
    model.apply({ ...ev, t: ev.t * 1000 });
  }
  const connections: ConnectionRows[] = [];
  for (const row of model.conns) {
    if (conn !== undefined && row.conn !== conn) continue;
    const drawn: LadderRow[] = row.ladder.map((entry) => ({ entry, t: entry.t / 1000, kind: entry.kind }));
    const k: KernelRow[] = (kernel.get(row.conn) ?? [])
      .map((ev): KernelRow => ({ kind: 'kernel', t: ev.t, endpoint: ev.endpoint, from: ev.from, to: ev.to }))
      .sort((a, b) => a.t - b.t);
    connections.push({
      conn: row.conn,
      client: row.client,
      server: row.server,
      pickedUp: row.pickedUp,
      rows: mergeByTime(drawn, k),
      segments: row.ladder.filter((e) => e.kind === 'seg').length,
    });
  }
  return { profile: model.profile, lab: model.lab, mode: model.mode, wall, connections };
}

/**
 * The kernel's rows slotted into the UI's ladder by time, the ladder's own
 * order kept (it is the order tcpmitm saw things; the probe's timestamps are
 * the kernel's and often a little earlier than the wire's). A kernel change at
 * the same time as an entry goes after it: the wire caused it.
 */
function mergeByTime(drawn: readonly LadderRow[], kernel: readonly KernelRow[]): LadderRow[] {
  const out: LadderRow[] = [];
  let k = 0;
  for (const row of drawn) {
    while (k < kernel.length && kernel[k]!.t < row.t) out.push(kernel[k++]!);
    out.push(row);
  }
  while (k < kernel.length) out.push(kernel[k++]!);
  return out;
}
