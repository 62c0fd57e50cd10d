// Joins the kernel probe's socket states to tcpmitm's connections and
// endpoints, and watches for disagreement with the inference. Pure: the
// session feeds it probe observations, events and the time.
//
// A disagreement is a difference of *current* states lasting longer than the
// grace period — never a state the poller merely missed: LAST-ACK often lasts
// under 3 ms and CLOSING a few ms on Linux 6.x, so a 10 ms poller skips them.

import type { ConnectionEvent, DisagreementEvent, StateEvent, TcpmitmEvent } from './events.js';
import type { Endpoint, TcpState } from '../tcp/state.js';

/** One change of one socket seen by the kernel probe in an end namespace. */
export interface KernelObservation {
  /** Which end namespace the socket lives in. */
  readonly ns: 'client' | 'server';
  /** "addr:port" as the connection events print them ("[v6]:port" for IPv6). */
  readonly local: string;
  readonly remote: string;
  readonly from: TcpState;
  readonly to: TcpState;
  /** Seconds since the run started. */
  readonly t: number;
}

interface Side {
  inferred?: TcpState;
  kernel?: TcpState;
  /** Since when (s) the two differ; undefined while they agree. */
  differSince?: number;
  reported: boolean;
}

export class KernelJoin {
  /** "local|remote" → connection and endpoint. */
  private readonly byTuple = new Map<string, { conn: number; endpoint: Endpoint }>();
  /** Kernel states seen before their connection was: replayed when it appears. */
  private readonly early = new Map<string, KernelObservation[]>();
  private readonly sides = new Map<string, Side>();
  /** Keys of the sides whose states differ now: check() looks at these only. */
  private readonly differing = new Set<string>();
  /** Per "conn/endpoint", the tuple key that maps kernel sockets to it (dropped with the side). */
  private readonly tupleOf = new Map<string, string>();

  constructor(private readonly graceMs = 50) {}

  /**
   * Feed every event of the stream (connection and inferred state events
   * matter); returns kernel state events that were waiting for this connection.
   */
  onEvent(ev: TcpmitmEvent): StateEvent[] {
    if (ev.type === 'connection') return this.onConnection(ev);
    if (ev.type === 'state' && ev.source === 'inferred') this.update(ev.conn, ev.endpoint, 'inferred', ev.to, ev.t);
    return [];
  }

  /** A probe observation: the kernel state event for it, when it belongs to a known connection. */
  onKernel(obs: KernelObservation): StateEvent | undefined {
    const key = `${obs.local}|${obs.remote}`;
    const hit = this.byTuple.get(key);
    if (!hit) {
      const list = this.early.get(key) ?? [];
      if (list.length < 16) list.push(obs);
      this.early.set(key, list);
      return undefined;
    }
    return this.kernelEvent(hit.conn, hit.endpoint, obs);
  }

  /** Disagreements that have now lasted longer than the grace period (each reported once). */
  check(t: number): DisagreementEvent[] {
    const out: DisagreementEvent[] = [];
    for (const key of this.differing) {
      const s = this.sides.get(key);
      if (s === undefined || s.differSince === undefined || s.reported) continue;
      const forMs = Math.round((t - s.differSince) * 1000);
      if (forMs <= this.graceFor(s)) continue;
      s.reported = true;
      const [conn, endpoint] = key.split('/') as [string, Endpoint];
      out.push({ type: 'disagreement', t, conn: Number(conn), endpoint, inferred: s.inferred!, kernel: s.kernel!, forMs });
    }
    return out;
  }

  /**
   * The end of TIME-WAIT and of an orphaned FIN-WAIT-2 is a 60 s kernel timer
   * on the timer wheel, whose slack at that range is hundreds of ms
   * (kernel/time/timer.c: level granularity grows 8× per level); our own timer
   * is exact. Allow for that rather than report it.
   */
  private graceFor(s: Side): number {
    const timerEnd = s.inferred === 'CLOSED' && (s.kernel === 'TIME-WAIT' || s.kernel === 'FIN-WAIT-2');
    return timerEnd ? Math.max(this.graceMs, 1500) : this.graceMs;
  }

  private onConnection(ev: ConnectionEvent): StateEvent[] {
    const out: StateEvent[] = [];
    const pairs: [string, Endpoint][] = [
      [`${ev.client}|${ev.server}`, 'client'],
      [`${ev.server}|${ev.client}`, 'server'],
    ];
    for (const [key, endpoint] of pairs) {
      this.byTuple.set(key, { conn: ev.conn, endpoint });
      this.tupleOf.set(`${ev.conn}/${endpoint}`, key);
      const waiting = this.early.get(key);
      if (waiting) {
        this.early.delete(key);
        for (const obs of waiting) out.push(this.kernelEvent(ev.conn, endpoint, obs));
      }
    }
    return out;
  }

  private kernelEvent(conn: number, endpoint: Endpoint, obs: KernelObservation): StateEvent {
    this.update(conn, endpoint, 'kernel', obs.to, obs.t);
    return { type: 'state', t: obs.t, conn, endpoint, from: obs.from, to: obs.to, source: 'kernel' };
  }

  private update(conn: number, endpoint: Endpoint, which: 'inferred' | 'kernel', state: TcpState, t: number): void {
    const key = `${conn}/${endpoint}`;
    let s = this.sides.get(key);
    if (!s) {
      s = { reported: false };
      this.sides.set(key, s);
    }
    s[which] = state;
    if (s.inferred === 'CLOSED' && s.kernel === 'CLOSED') {
      // Both agree it is over: forget the side and its tuple, so a long run
      // with many connections does not keep them all.
      this.sides.delete(key);
      this.differing.delete(key);
      const tuple = this.tupleOf.get(key);
      this.tupleOf.delete(key);
      const hit = tuple === undefined ? undefined : this.byTuple.get(tuple);
      if (tuple !== undefined && hit !== undefined && hit.conn === conn) this.byTuple.delete(tuple);
      return;
    }
    if (s.inferred === undefined || s.kernel === undefined || s.inferred === s.kernel) {
      s.differSince = undefined;
      s.reported = false;
      this.differing.delete(key);
    } else if (s.differSince === undefined) {
      s.differSince = t;
      this.differing.add(key);
    }
  }
}
