import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from '../../../src/engine/deadline-queue.js';

describe('DeadlineQueue', () => {
  it('pops what is due, earliest first; schedule() moves an item, delete() removes it', () => {
    const q = new DeadlineQueue<string>();
    const dues: Record<string, number> = {};
    // A fixed pseudo-random order (no rng in tests): 97 × i mod 1009.
    for (let i = 0; i < 500; i++) {
      const due = (97 * i) % 1009;
      q.schedule(`k${i}`, due);
      dues[`k${i}`] = due;
    }
    q.schedule('k3', 2000);
    dues.k3 = 2000;
    q.delete('k4');
    delete dues.k4;
    q.schedule('k5', -1);
    dues.k5 = -1;
    expect(q.size).toBe(499);
    expect(q.peekDue()).toBe(-1);
    const popped: number[] = [];
    for (let x = q.popDue(1500); x !== undefined; x = q.popDue(1500)) popped.push(dues[x]!);
    expect(popped).toEqual([...popped].sort((a, b) => a - b));
    expect(popped.length).toBe(498);
    expect(q.has('k3')).toBe(true);
    expect(q.popDue(1999)).toBeUndefined();
    expect(q.popDue(2000)).toBe('k3');
    expect(q.size).toBe(0);
  });
});
