import { describe, expect, it } from 'vitest';
import { timerWheelSlackMs, wheelGranularity } from '../../../src/engine/timer-wheel.js';

describe('timer wheel slack (kernel/time/timer.c)', () => {
  it('files a timer in the level whose range holds it: granularity 8^level jiffies', () => {
    expect(wheelGranularity(62)).toBe(1);
    expect(wheelGranularity(63)).toBe(8);
    expect(wheelGranularity(503)).toBe(8);
    expect(wheelGranularity(504)).toBe(64);
    expect(wheelGranularity(4032)).toBe(512);
    expect(wheelGranularity(15_000)).toBe(512);
    expect(wheelGranularity(32_256)).toBe(4096);
  });

  it('TIME-WAIT (60 s) may end up to ~2 s late at HZ=250, ~4 s at HZ=1000, 5 s at HZ=100', () => {
    expect(timerWheelSlackMs(60_000, 250)).toBe(2052);
    expect(timerWheelSlackMs(60_000, 1000)).toBe(4097);
    expect(timerWheelSlackMs(60_000, 100)).toBe(5130);
    // Unknown HZ: the worst of the common ones.
    expect(timerWheelSlackMs(60_000)).toBe(5130);
  });

  it('a 3 s tcp_fin_timeout lands in level 2 at HZ=250 (256 ms), 2 s in level 1 (32 ms)', () => {
    expect(timerWheelSlackMs(3000, 250)).toBe(260);
    expect(timerWheelSlackMs(2000, 250)).toBe(36);
  });
});
