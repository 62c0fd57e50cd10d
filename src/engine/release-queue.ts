// Ordered release of held segments for one direction of one connection: a
// delayed segment makes later ones of the same direction wait behind it
// (DESIGN: "order within a direction is kept unless an action says otherwise").

/** Something waiting at tcpmitm until `releaseAt` (ms, engine clock). */
export interface Timed {
  releaseAt: number;
}

export class ReleaseQueue<T extends Timed> {
  private items: T[] = [];
  /** When each item wanted to leave, before it was made to wait behind the one ahead (for retime). */
  private wanted: number[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The release time a new in-order item must not precede. */
  tailReleaseAt(): number {
    return this.length === 0 ? -Infinity : this.items[this.items.length - 1]!.releaseAt;
  }

  /** Appends, keeping order: the item is released no earlier than the one before it. */
  pushInOrder(item: T): void {
    const tail = this.tailReleaseAt();
    this.wanted.push(item.releaseAt);
    if (item.releaseAt < tail) item.releaseAt = tail;
    this.items.push(item);
  }

  /**
   * `item` may leave at `at` (sooner than it was due: what it waited for has
   * happened); it and the items behind it are re-timed, order kept.
   */
  retime(item: T, at: number): void {
    const k = this.items.indexOf(item, this.head);
    if (k < 0) return;
    this.wanted[k] = at;
    let prev = k > this.head ? this.items[k - 1]!.releaseAt : -Infinity;
    for (let i = k; i < this.items.length; i++) {
      const r = Math.max(this.wanted[i]!, prev);
      this.items[i]!.releaseAt = r;
      prev = r;
    }
  }

  /** Removes and returns every item due at `now`, oldest first. */
  takeDue(now: number): T[] {
    const due: T[] = [];
    while (this.head < this.items.length && this.items[this.head]!.releaseAt <= now) {
      due.push(this.items[this.head]!);
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.wanted = this.wanted.slice(this.head);
      this.head = 0;
    }
    return due;
  }

  /** The earliest release time, or undefined when empty. */
  nextAt(): number | undefined {
    return this.length === 0 ? undefined : this.items[this.head]!.releaseAt;
  }
}
