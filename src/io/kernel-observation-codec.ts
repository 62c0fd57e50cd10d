// How the kernel probe's worker thread passes a read's observations to the
// forwarding thread cheaply. Structured-cloning an array of objects cost the
// forwarding thread ~2.5 µs per observation to rebuild (two address strings
// each): a burst of 10 000 closes is ~100 000 observations. Instead, each
// socket's tuple travels once, when its first observation does, under a small
// number; every observation is six numbers in a Float64Array whose buffer is
// transferred, not copied. Pure.

import type { KernelObservation } from '../engine/kernel-join.js';
import { TCP_STATES, type TcpState } from '../tcp/state.js';

/** One read, encoded: the tuples it introduces, then its observations. */
export interface EncodedObservations {
  /** Flat [id, ns (0 client, 1 server), local, remote, …] of the tuples first used here (or used again after a CLOSED). */
  readonly defs: (number | string)[];
  /** Flat [id, from, to, t, since (NaN: none), orphan (0/1), …]: states as indices into TCP_STATES. */
  readonly values: Float64Array;
}

const FIELDS = 6;
const STATE_CODE = new Map<TcpState, number>(TCP_STATES.map((s, i) => [s, i]));

/** The worker's side: numbers tuples, reusing those of sockets that ended. */
export class ObservationEncoder {
  private readonly ids = new Map<string, number>();
  private free: number[] = [];
  private next = 0;

  encode(observations: readonly KernelObservation[]): EncodedObservations {
    const defs: (number | string)[] = [];
    const values = new Float64Array(observations.length * FIELDS);
    // Freed only after this read: an id reused inside it would reach the other side defined before its last use.
    const ended: number[] = [];
    for (let i = 0; i < observations.length; i++) {
      const o = observations[i]!;
      const key = `${o.ns}|${o.local}|${o.remote}`;
      let id = this.ids.get(key);
      if (id === undefined) {
        id = this.free.pop() ?? this.next++;
        this.ids.set(key, id);
        defs.push(id, o.ns === 'client' ? 0 : 1, o.local, o.remote);
      }
      const at = i * FIELDS;
      values[at] = id;
      values[at + 1] = STATE_CODE.get(o.from)!;
      values[at + 2] = STATE_CODE.get(o.to)!;
      values[at + 3] = o.t;
      values[at + 4] = o.since ?? NaN;
      values[at + 5] = o.orphan === true ? 1 : 0;
      // The socket is over: a later one on the tuple starts from CLOSED or LISTEN and is defined anew.
      if (o.to === 'CLOSED') {
        this.ids.delete(key);
        ended.push(id);
      }
    }
    for (const id of ended) this.free.push(id);
    return { defs, values };
  }

  /** Tuples numbered now (sockets not yet CLOSED): bounded by the sockets the probe follows. */
  get size(): number {
    return this.ids.size;
  }
}

interface Tuple {
  ns: 'client' | 'server';
  local: string;
  remote: string;
  /** "local|remote", made once per socket (KernelObservation.tuple). */
  key: string;
}

/** The forwarding thread's side: reads are decoded in the order they were encoded. */
export class ObservationDecoder {
  private readonly tuples: Tuple[] = [];

  /** Takes a read's tuple definitions: call before decoding any of its observations, after the previous read's last. */
  define(defs: readonly (number | string)[]): void {
    for (let i = 0; i + 3 < defs.length; i += 4) {
      const local = defs[i + 2] as string;
      const remote = defs[i + 3] as string;
      this.tuples[defs[i] as number] = { ns: defs[i + 1] === 0 ? 'client' : 'server', local, remote, key: `${local}|${remote}` };
    }
  }

  /** Observations in a read. */
  count(values: Float64Array): number {
    return values.length / FIELDS;
  }

  /** The `i`th observation of a read, its times moved by `offset` (s). */
  observation(values: Float64Array, i: number, offset: number): KernelObservation {
    const at = i * FIELDS;
    const tuple = this.tuples[values[at]!]!;
    const since = values[at + 4]!;
    const from = TCP_STATES[values[at + 1]!]!;
    const to = TCP_STATES[values[at + 2]!]!;
    const t = values[at + 3]! + offset;
    // Objects built whole, in one shape per kind: this runs for every observation.
    const { ns, local, remote, key } = tuple;
    if (values[at + 5] === 1) {
      return Number.isNaN(since) ? { ns, local, remote, from, to, t, orphan: true, tuple: key } : { ns, local, remote, from, to, t, since: since + offset, orphan: true, tuple: key };
    }
    return Number.isNaN(since) ? { ns, local, remote, from, to, t, tuple: key } : { ns, local, remote, from, to, t, since: since + offset, tuple: key };
  }
}
