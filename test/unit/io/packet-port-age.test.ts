// The packet port's per-frame age (src/io/packet-port.ts) with a stand-in for
// the native addon: the addon measures each frame's age when recvmmsg
// returns, but JavaScript handles the batch's frames one after another. A
// frame handled after a slow one must be older by that much, so that its
// time (now − age) stays when the kernel received it (b1dc417: a forged RST
// "arrived" 2.9 ms after the server's kernel had acted on it).

import { performance } from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';

type OnBatch = (count: number, errno: number) => void;
const native = vi.hoisted(() => ({
  batch: undefined as undefined | { slab: Buffer; meta: Uint32Array; onBatch: (count: number, errno: number) => void },
}));

vi.mock('../../../src/io/afpacket-addon.js', () => ({
  loadAfPacket: () => ({
    open: (_dev: string, slab: Buffer, meta: Uint32Array, _slot: number, onBatch: OnBatch) => {
      native.batch = { slab, meta, onBatch };
      return {};
    },
    drops: () => 0,
    send: () => undefined,
    close: () => {},
    strerror: (e: number) => `errno ${e}`,
  }),
}));

const { openPacketPort } = await import('../../../src/io/packet-port.js');

/** Spins for `ms` (a handler that takes that long: a collection, a slow rule). */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('packet port: each frame’s age is as of its own handling', () => {
  it('a frame handled after a 30 ms one is 30 ms older than the addon said', () => {
    const seen: { ageMs: number; at: number }[] = [];
    const port = openPacketPort('stand-in', (_frame, ageMs) => {
      seen.push({ ageMs, at: performance.now() });
      if (seen.length === 1) busy(30);
    });
    const { meta, onBatch } = native.batch!;
    // Three frames of 60 bytes; the addon measured ages of 1 ms, 1 ms and 0.5 ms at the read.
    for (let i = 0; i < 3; i++) {
      meta[3 * i] = i * 100;
      meta[3 * i + 1] = 60;
      meta[3 * i + 2] = i === 2 ? 500 : 1000;
    }
    const readAt = performance.now();
    onBatch(3, 0);
    port.close();
    expect(seen).toHaveLength(3);
    // The first frame is handled at once: its age is the addon's.
    expect(seen[0]!.ageMs).toBeCloseTo(1, 5);
    // The later ones: the addon's age plus the time since the read, so each one's receive time is unchanged.
    for (const [i, addonMs] of [[1, 1], [2, 0.5]] as const) {
      const f = seen[i]!;
      expect(f.ageMs).toBeGreaterThanOrEqual(addonMs + 30);
      const receivedAt = f.at - f.ageMs;
      // Within the little time between the stand-in's read and the port's own clock reading.
      expect(Math.abs(receivedAt - (readAt - addonMs))).toBeLessThan(5);
    }
  });
});
