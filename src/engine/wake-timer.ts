// The one real timer a sans-io core needs: armed for its earliest deadline
// (engine clock = performance.now(), ms), re-armed when the core asks for
// another, and never firing before the deadline.

import { performance } from 'node:perf_hooks';

export class WakeTimer {
  private timer: NodeJS.Timeout | undefined;
  private at: number | undefined;
  private stopped = false;

  /** `fire(now)` runs when the deadline has passed. */
  constructor(private readonly fire: (now: number) => void) {}

  /** Arm for `t` (replacing any earlier request), or disarm with undefined. */
  set(t: number | undefined): void {
    if (t === this.at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = t;
    if (t === undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.at = undefined;
      const now = performance.now();
      // setTimeout may fire up to ~1 ms early relative to performance.now(); re-arm if so.
      if (now < t) return this.set(t);
      this.fire(now);
    }, Math.max(0, t - performance.now()));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
