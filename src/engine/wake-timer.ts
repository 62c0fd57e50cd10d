// The one real timer a sans-io core needs: armed for its earliest deadline
// (engine clock = performance.now(), ms), re-armed when the core asks for
// another, and never firing before the deadline.

import { performance } from 'node:perf_hooks';

/** What a WakeTimer arms: one pending expiry at a time. */
export interface Alarm {
  /** Fire once, `ms` from now, replacing any earlier arming. */
  arm(ms: number): void;
  cancel(): void;
  close(): void;
}
export type AlarmFactory = (fire: () => void) => Alarm;

/**
 * Node's setTimeout: whole milliseconds (libuv's loop clock), so expiries are
 * up to ~1 ms late. The fallback where the native alarm is not available.
 */
export const timeoutAlarm: AlarmFactory = (fire) => {
  let timer: NodeJS.Timeout | undefined;
  const cancel = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  return {
    arm(ms) {
      cancel();
      timer = setTimeout(() => {
        timer = undefined;
        fire();
      }, ms);
    },
    cancel,
    close: cancel,
  };
};

export class WakeTimer {
  private readonly alarm: Alarm;
  private at: number | undefined;
  private stopped = false;

  /** `fire(now)` runs when the deadline has passed. */
  constructor(
    private readonly fire: (now: number) => void,
    makeAlarm: AlarmFactory = timeoutAlarm,
  ) {
    this.alarm = makeAlarm(() => this.expired());
  }

  /** Arm for `t` (replacing any earlier request), or disarm with undefined. */
  set(t: number | undefined): void {
    if (t === this.at || this.stopped) return;
    this.at = t;
    if (t === undefined) this.alarm.cancel();
    else this.alarm.arm(Math.max(0, t - performance.now()));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.at = undefined;
    this.alarm.close();
  }

  private expired(): void {
    const t = this.at;
    if (t === undefined || this.stopped) return;
    const now = performance.now();
    // setTimeout may fire up to ~1 ms early relative to performance.now(); re-arm if so.
    if (now < t) return this.alarm.arm(t - now);
    this.at = undefined;
    this.fire(now);
  }
}
