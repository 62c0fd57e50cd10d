// A binary min-heap of deadlines for the engine's own timers (delays,
// coalesce windows, awaits, the tracker's 2MSL): the runtime only ever needs
// one real timer, set for the earliest deadline.

export interface Deadline {
  readonly at: number;
  readonly fire: (now: number) => void;
}

export class TimerHeap {
  private readonly heap: Deadline[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(d: Deadline): void {
    const h = this.heap;
    h.push(d);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  peekAt(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Removes and returns the earliest deadline if it is due at `now`. */
  popDue(now: number): Deadline | undefined {
    const h = this.heap;
    if (h.length === 0 || h[0]!.at > now) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
