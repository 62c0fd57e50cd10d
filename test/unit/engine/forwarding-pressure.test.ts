import { describe, expect, it } from 'vitest';
import { ForwardingPressure } from '../../../src/engine/forwarding-pressure.js';

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
