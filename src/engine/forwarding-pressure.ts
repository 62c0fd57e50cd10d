// Whether the forwarder is behind the wire: frames it handles now were
// received by the kernel a while ago (they queued in the packet socket's
// receive buffer). Work that only observes — the kernel probe's join, its log
// lines — then waits, so the forwarder catches up instead of letting the
// queue, and every frame's latency, grow (ObserverDeferral: how long it may
// wait). Pure: fed the frames' ages and the times.

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

/**
 * How observing work yields to the forwarder: while it is behind, the work
 * waits, but never longer than `maxWaitMs` since it last ran (its results
 * only come later, never stale by more than that), and not at all once
 * `maxQueued` items wait for it (a backlog that size must be worked off).
 */
export class ObserverDeferral {
  private ranAt: number;

  constructor(
    private readonly maxWaitMs: number,
    private readonly maxQueued = Infinity,
    now = -Infinity,
  ) {
    this.ranAt = now;
  }

  /** Whether the work waits at `now` (ms), the forwarder being `behind`, with `queued` items waiting for it. */
  waits(now: number, behind: boolean, queued = 0): boolean {
    return behind && now - this.ranAt < this.maxWaitMs && queued < this.maxQueued;
  }

  /** The work ran at `now` (ms). */
  ran(now: number): void {
    this.ranAt = now;
  }
}
