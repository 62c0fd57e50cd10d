// Tap mode frees what it keeps per connection (templates, byte counts, the
// rules' counters, the tracker's forgotten ids) once the tracker forgets a
// record: on a timer, on eviction. A churn of connections leaves nothing.

import { describe, expect, it } from 'vitest';
import { buildTcpFrame } from '../../../src/packet/build.js';
import { TapCore } from '../../../src/tap/core.js';
import { PASS, type Decider } from '../../../src/engine/plan.js';

function frame(cport: number, fromClient: boolean, flags: string, seq: number, ack: number): Buffer {
  const c = { addr: '198.18.0.1', port: cport };
  const s = { addr: '198.18.0.2', port: 80 };
  const [a, b] = fromClient ? [c, s] : [s, c];
  return buildTcpFrame({ src: a.addr, dst: b.addr, srcPort: a.port, dstPort: b.port, seq, ack, flags, window: 512 });
}

function core(maxConnections?: number) {
  const forgotten: number[] = [];
  const decider: Decider = { decide: () => PASS, forget: (id) => forgotten.push(id) };
  const c = new TapCore({ start: 0, decider, out: { emit: () => undefined, inject: () => undefined, wakeAt: () => undefined }, timeWaitMs: 1000, maxConnections });
  return { core: c, forgotten };
}

describe('TapCore: per-connection state is bounded', () => {
  it('1000 closed connections: every one is forgotten (rules included) once TIME-WAIT and the linger have passed', () => {
    const h = core();
    for (let i = 0; i < 1000; i++) {
      const p = 10_000 + i;
      const f = (fc: boolean, fl: string, seq: number, ack: number) => h.core.onFrame(frame(p, fc, fl, seq, ack), i);
      f(true, 'S', 100, 0);
      f(false, 'SA', 500, 101);
      f(true, 'A', 101, 501);
      f(true, 'FA', 101, 501);
      f(false, 'FA', 501, 102);
      f(true, 'A', 102, 502);
    }
    expect(h.core.stats.tracked).toBe(1000);
    h.core.onTimer(1000 + 1000 + 10_000);
    expect(h.core.stats.tracked).toBe(0);
    expect(new Set(h.forgotten).size).toBe(1000);
  });

  it('a flood of lone ACKs stays within --max-connections and frees what it evicts', () => {
    const h = core(50);
    for (let i = 0; i < 500; i++) h.core.onFrame(frame(20_000 + i, true, 'A', 1, 1), i);
    expect(h.core.stats).toMatchObject({ tracked: 50, evictedPickedUp: 450, frames: 500 });
    expect(h.forgotten).toHaveLength(450);
  });
});
