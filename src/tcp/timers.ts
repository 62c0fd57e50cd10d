// A min-heap of wake-up times, for the tracker (2MSL, tcp_fin_timeout, record
// clean-up) and the engine (delays, coalesce windows, awaits). Entries are
// never removed in place: a restarted timer pushes a new entry and the owner
// ignores stale ones (the tracker by comparing a generation number).

export interface TimerEntry<K> {
  readonly at: number;
  readonly key: K;
  readonly gen: number;
}

export class TimerHeap<E extends { readonly at: number }> {
  private readonly heap: E[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(entry: E): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.at <= entry.at) break;
      h[i] = parent;
      i = p;
    }
    h[i] = entry;
  }

  /** Keeps only the entries `keep` accepts and restores heap order: O(n), for dropping superseded entries in bulk. */
  retain(keep: (e: E) => boolean): void {
    const kept = this.heap.filter(keep);
    this.heap.length = 0;
    for (const e of kept) this.push(e);
  }

  peek(): E | undefined {
    return this.heap[0];
  }

  pop(): E | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= last.at) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
