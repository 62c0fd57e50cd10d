// Whether the forwarder is behind the wire: frames it handles now were
// received by the kernel a while ago (they queued in the packet socket's
// receive buffer). Work that only observes — the kernel probe's join, its log
// lines — then waits, so the forwarder catches up instead of letting the
// queue, and every frame's latency, grow. Pure: fed the frames' ages.

/** A frame this old (ms) when handled means the receive queue is building up. */
const BEHIND_MS = 2;
/** Caught up again once no frame that old was handled for this long (ms). */
const CAUGHT_UP_MS = 20;

export class ForwardingPressure {
  private behindAt = -Infinity;

  /** A frame handled at `now` (ms) that the kernel had received `ageMs` earlier. */
  noteFrame(ageMs: number, now: number): void {
    if (ageMs > BEHIND_MS) this.behindAt = now;
  }

  /** Whether, at `now` (ms), frames were recently handled late. */
  behind(now: number): boolean {
    return now - this.behindAt < CAUGHT_UP_MS;
  }
}
