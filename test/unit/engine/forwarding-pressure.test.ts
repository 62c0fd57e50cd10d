import { describe, expect, it } from 'vitest';
import { ForwardingPressure, ObserverDeferral } from '../../../src/engine/forwarding-pressure.js';

describe('forwarding pressure', () => {
  it('is behind after a frame handled late, and caught up once no late frame came for a while', () => {
    const p = new ForwardingPressure();
    expect(p.behind(0)).toBe(false);
    p.noteFrame(0.3, 100);
    expect(p.behind(100)).toBe(false);
    p.noteFrame(8, 200);
    expect(p.behind(200)).toBe(true);
    expect(p.behind(215)).toBe(true);
    // Frames on time do not end it at once: the queue may still hold late ones.
    p.noteFrame(0.1, 216);
    expect(p.behind(219)).toBe(true);
    expect(p.behind(221)).toBe(false);
  });
});

describe('ObserverDeferral: observing work yields to a forwarder that is behind, within bounds', () => {
  it('runs at once while the forwarder keeps up', () => {
    const d = new ObserverDeferral(50, 1000, 0);
    expect(d.waits(1, false)).toBe(false);
  });

  it('waits while behind, but never longer than its bound since it last ran', () => {
    const d = new ObserverDeferral(50, Infinity, 0);
    expect(d.waits(10, true)).toBe(true);
    expect(d.waits(49.9, true)).toBe(true);
    expect(d.waits(50, true)).toBe(false);
    d.ran(50);
    expect(d.waits(60, true)).toBe(true);
    expect(d.waits(99, true)).toBe(true);
    expect(d.waits(100, true)).toBe(false);
  });

  it('does not wait once its queue reaches the bound, behind or not', () => {
    const d = new ObserverDeferral(50, 200_000, 0);
    expect(d.waits(1, true, 199_999)).toBe(true);
    expect(d.waits(1, true, 200_000)).toBe(false);
  });
});
