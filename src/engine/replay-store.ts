// The segments replay rules remembered, until they are re-sent: a copy of
// each frame (its original sequence numbers and timestamps), bounded, keyed
// by its 4-tuple for those waiting for the next connection there. Pure
// bookkeeping; the engine schedules and sends.

import type { SegmentInfo } from '../tcp/segment.js';
import type { Endpoint } from '../tcp/state.js';
import type { Role } from '../tcp/role.js';
import type { Direction } from './events.js';

/**
 * At most this many remembered segments at a time (all connections): a copy
 * each, so at most 64 × the largest frame (with 1500-byte frames, ~96 KiB). A
 * replay rule meant for a few segments cannot grow the heap with a bulk
 * transfer; a match beyond the bound passes untouched, with a warning.
 */
export const MAX_REMEMBERED = 64;

export interface Remembered {
  /** The engine's own copy of the frame. */
  readonly frame: Buffer;
  readonly seg: SegmentInfo;
  /** The connection it was captured on. */
  readonly fromConn: number;
  readonly from: Endpoint;
  readonly dir: Direction;
  readonly role: Role;
  /** Port it leaves on (the receiver's side: the same direction as the original). */
  readonly toPort: 'a' | 'b';
  readonly capturedAt: number;
  readonly rule: number | undefined;
  readonly afterMs: number;
  readonly into: 'same-conn' | 'next-conn';
  /** client addr:port → server addr:port of its connection. */
  readonly tuple: string;
  /** next-conn: the later connection it goes into, once that one is established. */
  intoConn?: number;
}

/** "198.18.0.1|40000|198.18.0.2|8080": a connection's 4-tuple, client first. */
export function tupleOf(client: { addr: string; port: number }, server: { addr: string; port: number }): string {
  return `${client.addr}|${client.port}|${server.addr}|${server.port}`;
}

export class ReplayStore {
  private readonly all = new Set<Remembered>();
  /** next-conn entries not yet bound to a connection, by 4-tuple. */
  private readonly waiting = new Map<string, Remembered[]>();

  get size(): number {
    return this.all.size;
  }

  /** Entries that will be re-sent by a timer already set (not those still waiting for a next connection). */
  get scheduled(): number {
    let waiting = 0;
    for (const list of this.waiting.values()) waiting += list.length;
    return this.all.size - waiting;
  }

  has(r: Remembered): boolean {
    return this.all.has(r);
  }

  /** Whether any entry still waits for a next connection (cheap: checked per segment). */
  get anyWaiting(): boolean {
    return this.waiting.size > 0;
  }

  /** Keeps `r`; false when MAX_REMEMBERED are already kept (nothing is kept then). */
  remember(r: Remembered): boolean {
    if (this.all.size >= MAX_REMEMBERED) return false;
    this.all.add(r);
    if (r.into === 'next-conn') {
      const list = this.waiting.get(r.tuple);
      if (list) list.push(r);
      else this.waiting.set(r.tuple, [r]);
    }
    return true;
  }

  /**
   * Connection `conn` on `tuple` is established at `receiver`'s end: the
   * entries remembered on an earlier connection there, travelling to that
   * end, are bound to it and returned (each once).
   */
  bindNext(tuple: string, conn: number, receiverEstablished: (r: Remembered) => boolean): Remembered[] {
    const list = this.waiting.get(tuple);
    if (list === undefined) return [];
    const bound: Remembered[] = [];
    const rest: Remembered[] = [];
    for (const r of list) {
      if (r.fromConn < conn && receiverEstablished(r)) {
        r.intoConn = conn;
        bound.push(r);
      } else rest.push(r);
    }
    if (rest.length === 0) this.waiting.delete(tuple);
    else this.waiting.set(tuple, rest);
    return bound;
  }

  /** `r` was re-sent (or given up): it is freed. */
  release(r: Remembered): void {
    this.all.delete(r);
  }

  /** The end of the run: everything still kept, freed. */
  drain(): Remembered[] {
    const out = [...this.all];
    this.all.clear();
    this.waiting.clear();
    return out;
  }
}
