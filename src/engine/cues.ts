// Cues: what a profile makes tcpmitm do to the applications and at a time
// rather than to a segment. The signal a rule asks for (the engine asks its
// output to send it, and hears back when it has taken effect), and time
// triggers — rules with `at` — armed per run or per connection and dropped
// with the connection, so no timer outlives what it was about. Pure: times
// come in as parameters.

import type { Endpoint, TcpState } from '../tcp/state.js';
import { TimerHeap } from '../tcp/timers.js';
import type { Plan } from './plan.js';

/**
 * How long a segment held for a signal waits at most for it to take effect
 * (the process gone, for a signal that ends it) before it goes on with a
 * warning: long enough for a loaded machine to reap a killed process, short
 * against every TCP timer the scenarios show (the first RTO is 200 ms, but
 * the segment being held is the one a retransmission would queue behind).
 */
export const SIGNAL_WAIT_MS = 2000;

/** A signal the engine asks for. */
export interface SignalRequest {
  /** Names this request in `Engine.onSignalSettled`. */
  readonly id: number;
  readonly to: Endpoint;
  /** Without SIG: KILL, TERM, PIPE… */
  readonly name: string;
  readonly rule?: number;
  /** The connection it is about (absent: a trigger since the run). */
  readonly conn?: number;
}

/**
 * What sending it did. `waits`: what its effect is, to be reported through
 * Engine.onSignalSettled — `exit` (its default action ends the process, which
 * neither catches nor ignores it), `stop` (STOP and its kin), or `nothing`
 * (delivered, and that is all: caught, ignored, or harmless by default).
 */
export type SignalDelivery =
  | { readonly sent: true; readonly pid: number; readonly program: string; readonly waits: 'exit' | 'stop' | 'nothing'; readonly note?: string }
  | { readonly sent: false; readonly reason: string };

/** A rule with `at`, compiled. */
export interface TimeTrigger {
  /** 1-based index of the rule in the profile. */
  readonly rule: number;
  readonly label: string;
  readonly afterMs: number;
  readonly since: 'run' | 'conn' | 'state';
  readonly endpoint?: Endpoint;
  readonly state?: TcpState;
  readonly conn?: number;
  /** `rst` or `signal` (the schema allows no other). */
  readonly plan: Plan;
}

/** A trigger whose time has come. */
export interface DueTrigger {
  readonly trigger: TimeTrigger;
  /** The connection it fired on (absent: since the run). */
  readonly conn?: number;
  /** Why, for the logs: "300 ms after the client entered FIN-WAIT-2". */
  readonly why: string;
}

interface Armed {
  readonly at: number;
  readonly index: number;
  /** 0: the run's own. */
  readonly conn: number;
  readonly gen: number;
}

/**
 * The armed time triggers of a run. A trigger since `run` fires once, at
 * start + after. Since `conn` it fires once per connection, `after` its first
 * segment; since `state`, once per connection, `after` the endpoint entered
 * the state, if it is still in it then (leaving disarms it, entering again
 * re-arms it until it has fired). A connection's triggers are dropped when
 * both its ends are CLOSED or it is forgotten.
 */
export class TimeTriggers {
  private readonly heap = new TimerHeap<Armed>();
  /** Per connection (0: the run), per trigger index: the generation armed now. */
  private readonly armed = new Map<number, Map<number, number>>();
  /** Per connection: triggers that have fired (they never fire again there). */
  private readonly fired = new Map<number, Set<number>>();
  private gen = 0;
  /** Heap entries no longer armed: purged once they outnumber the live ones. */
  private stale = 0;

  constructor(
    private readonly triggers: readonly TimeTrigger[],
    start: number,
  ) {
    triggers.forEach((t, i) => {
      if (t.since === 'run') this.arm(0, i, start + t.afterMs);
    });
  }

  get size(): number {
    return this.triggers.length;
  }

  /** A connection's first segment. */
  onConnection(conn: number, now: number): void {
    if (this.triggers.length === 0) return;
    this.triggers.forEach((t, i) => {
      if (t.since === 'conn' && (t.conn === undefined || t.conn === conn)) this.arm(conn, i, now + t.afterMs);
    });
  }

  /** An endpoint's inferred state changed at `now`; `over`: both ends of the connection are CLOSED now. */
  onState(conn: number, endpoint: Endpoint, to: TcpState, now: number, over: boolean): void {
    if (this.triggers.length === 0) return;
    if (over) return this.forget(conn);
    this.triggers.forEach((t, i) => {
      if (t.since !== 'state' || t.endpoint !== endpoint || (t.conn !== undefined && t.conn !== conn)) return;
      if (t.state === to) this.arm(conn, i, now + t.afterMs);
      else this.disarm(conn, i);
    });
  }

  /** The connection is gone: its triggers with it. */
  forget(conn: number): void {
    const m = this.armed.get(conn);
    if (m) {
      this.stale += m.size;
      this.armed.delete(conn);
    }
    this.fired.delete(conn);
    this.purge();
  }

  /** When the next armed trigger is due (possibly a stale entry: harmless, it is skipped). */
  nextAt(): number | undefined {
    return this.heap.peek()?.at;
  }

  /** Every trigger due at `now`, each once; they are disarmed and marked fired. */
  takeDue(now: number): DueTrigger[] {
    const due: DueTrigger[] = [];
    for (let e = this.heap.peek(); e !== undefined && e.at <= now; e = this.heap.peek()) {
      this.heap.pop();
      const m = this.armed.get(e.conn);
      if (m?.get(e.index) !== e.gen) {
        this.stale--;
        continue;
      }
      m.delete(e.index);
      if (m.size === 0) this.armed.delete(e.conn);
      let f = this.fired.get(e.conn);
      if (!f) this.fired.set(e.conn, (f = new Set()));
      f.add(e.index);
      const t = this.triggers[e.index]!;
      due.push({ trigger: t, ...(e.conn !== 0 ? { conn: e.conn } : {}), why: whyDue(t) });
    }
    return due;
  }

  private arm(conn: number, index: number, at: number): void {
    if (this.fired.get(conn)?.has(index)) return;
    let m = this.armed.get(conn);
    if (!m) this.armed.set(conn, (m = new Map()));
    if (m.has(index)) this.stale++;
    const gen = ++this.gen;
    m.set(index, gen);
    this.heap.push({ at, index, conn, gen });
  }

  private disarm(conn: number, index: number): void {
    const m = this.armed.get(conn);
    if (!m?.delete(index)) return;
    this.stale++;
    if (m.size === 0) this.armed.delete(conn);
    this.purge();
  }

  /** Bounded: entries of forgotten connections do not pile up until their time (a flood with a trigger since conn). */
  private purge(): void {
    if (this.stale < 1024 || this.stale * 2 < this.heap.size) return;
    this.heap.retain((e) => this.armed.get(e.conn)?.get(e.index) === e.gen);
    this.stale = 0;
  }
}

function whyDue(t: TimeTrigger): string {
  const after = `${t.afterMs} ms after`;
  if (t.since === 'run') return `${after} the start of the run`;
  if (t.since === 'conn') return `${after} the connection's first segment`;
  return `${after} the ${t.endpoint} entered ${t.state}`;
}
