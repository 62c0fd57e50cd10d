// A min-heap of (due time, item): what to look at next, in O(log n) per
// change, so a follower of many sockets touches only the ones that are due.
// Pure. An item is in the queue at most once: schedule() moves it.

export class DeadlineQueue<T> {
  private readonly heap: { due: number; item: T }[] = [];
  private readonly index = new Map<T, number>();

  get size(): number {
    return this.heap.length;
  }

  /** The earliest due time, or undefined when empty. */
  peekDue(): number | undefined {
    return this.heap[0]?.due;
  }

  has(item: T): boolean {
    return this.index.has(item);
  }

  /** Puts `item` at `due` (moving it if it was already queued). */
  schedule(item: T, due: number): void {
    const i = this.index.get(item);
    if (i === undefined) {
      this.heap.push({ due, item });
      this.index.set(item, this.heap.length - 1);
      this.up(this.heap.length - 1);
      return;
    }
    const old = this.heap[i]!.due;
    this.heap[i]!.due = due;
    if (due < old) this.up(i);
    else this.down(i);
  }

  delete(item: T): void {
    const i = this.index.get(item);
    if (i === undefined) return;
    this.index.delete(item);
    const last = this.heap.pop()!;
    if (i === this.heap.length) return;
    this.heap[i] = last;
    this.index.set(last.item, i);
    this.up(i);
    this.down(i);
  }

  /** Removes and returns the earliest item if it is due by `now`. */
  popDue(now: number): T | undefined {
    const top = this.heap[0];
    if (top === undefined || top.due > now) return undefined;
    this.delete(top.item);
    return top.item;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.due <= h[i]!.due) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.due < h[m]!.due) m = l;
      if (r < h.length && h[r]!.due < h[m]!.due) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const h = this.heap;
    const x = h[a]!;
    h[a] = h[b]!;
    h[b] = x;
    this.index.set(h[a]!.item, a);
    this.index.set(h[b]!.item, b);
  }
}
