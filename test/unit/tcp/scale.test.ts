// 100k connections opened and closed through one tracker leave no records and
// no pending timers once TIME-WAIT and the linger have passed. Heap figures
// (after a forced GC) are printed, and what stays retained is bounded.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Tracker } from '../../../src/tcp/tracker.js';
import { HANDSHAKE, Lab } from './script.js';

const N = 100_000;
const CLOSE = `${HANDSHAKE}
  c>s PA len=100
  s>c PA len=200
  c>s FA
  s>c A
  s>c FA
  c>s A`;

// A real GC between measurements, without needing node --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

describe('scale', () => {
  it(`${N} connections opened and closed leave no records once timers end`, () => {
    // A table large enough that no record is evicted: this is about timers ending them (bounds.test.ts covers eviction).
    const tracker = new Tracker({ maxConnections: N });
    const before = heapMiB();
    let closedByTimer = 0;
    let peakSize = 0;
    let now = 0;
    for (let i = 0; i < N; i++) {
      now = i; // one new connection per millisecond: ~60k in TIME-WAIT at once
      const lab = new Lab({
        tracker,
        clientAddr: `198.18.${1 + Math.floor(i / 50_000)}.${1 + (i % 200)}`,
        clientPort: 10_000 + Math.floor(i / 200) % 50_000,
        clientIsn: (i * 2654435761) >>> 0,
        serverIsn: (i * 40503 + 7) >>> 0,
      });
      lab.now = now;
      lab.run(CLOSE);
      if (i % 1000 === 999) {
        closedByTimer += tracker.advance(now).filter((c) => c.cause === 'timer 2MSL').length;
        peakSize = Math.max(peakSize, tracker.size);
      }
    }
    const peak = heapMiB();
    const end = now + 60_000 + 10_000;
    closedByTimer += tracker.advance(end).filter((c) => c.cause === 'timer 2MSL').length;
    const after = heapMiB();
    console.log(
      `tracker scale: ${N} connections, peak ${peakSize} records; heap ${before.toFixed(1)} MiB before, ` +
        `${peak.toFixed(1)} MiB at peak (+${(peak - before).toFixed(1)}), ${after.toFixed(1)} MiB after timers ` +
        `(+${(after - before).toFixed(1)})`,
    );
    // 100k leaked records would be hundreds of MiB; what is left must be noise.
    expect(after - before).toBeLessThan(16);
    expect(peakSize).toBeGreaterThan(50_000);
    expect(closedByTimer).toBe(N);
    expect(tracker.size).toBe(0);
    expect([...tracker.connections()]).toEqual([]);
    expect(tracker.nextDeadline()).toBeUndefined();
  });
});
