// The WakeTimer over a scripted alarm: it never fires before its deadline
// (an early expiry re-arms for the rest), re-arms only for a new deadline,
// and cancels and closes its alarm.

import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { WakeTimer, timeoutAlarm, type Alarm } from '../../../src/engine/wake-timer.js';

function scripted() {
  const calls: string[] = [];
  let fire: () => void = () => {};
  const factory = (f: () => void): Alarm => {
    fire = f;
    return {
      arm: (ms) => calls.push(`arm ${ms > 0 ? 'later' : 'now'}`),
      cancel: () => calls.push('cancel'),
      close: () => calls.push('close'),
    };
  };
  return { calls, factory, expire: () => fire() };
}

describe('WakeTimer', () => {
  it('fires once the deadline has passed, with the time it fired', () => {
    const a = scripted();
    const fired: number[] = [];
    const w = new WakeTimer((now) => fired.push(now), a.factory);
    const t = performance.now() - 1;
    w.set(t);
    a.expire();
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(t);
    a.expire(); // a stray expiry after firing does nothing
    expect(fired).toHaveLength(1);
  });

  it('re-arms instead of firing when the alarm expires early', () => {
    const a = scripted();
    const fired: number[] = [];
    const w = new WakeTimer((now) => fired.push(now), a.factory);
    w.set(performance.now() + 60_000);
    a.expire();
    expect(fired).toEqual([]);
    expect(a.calls).toEqual(['arm later', 'arm later']);
  });

  it('arms only for a new deadline, cancels for none, closes on stop', () => {
    const a = scripted();
    const w = new WakeTimer(() => {}, a.factory);
    const t = performance.now() + 1000;
    w.set(t);
    w.set(t);
    w.set(undefined);
    w.stop();
    w.set(t);
    expect(a.calls).toEqual(['arm later', 'cancel', 'close']);
  });

  it('on setTimeout (the fallback without the native alarm): fires once, not before its deadline; stop silences it', async () => {
    const fired: number[] = [];
    const w = new WakeTimer((now) => fired.push(now), timeoutAlarm);
    const t = performance.now() + 5;
    w.set(t);
    await new Promise((r) => setTimeout(r, 40));
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(t);
    w.set(performance.now() + 5);
    w.stop();
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toHaveLength(1);
  });
});
