// The engine with a bounded connection table: what the tracker evicts frees
// the engine's per-connection state at once (and the rules'), a full table of
// connections that may not be evicted passes new ones untouched, untracked,
// counted and warned about once; the table's counters are in stats.

import { describe, expect, it } from 'vitest';
import { Playbook, CLIENT, SERVER } from './playbook.js';
import { buildTcpFrame } from '../../../src/packet/build.js';
import type { Decider } from '../../../src/engine/plan.js';
import { PASS } from '../../../src/engine/plan.js';

/** A SYN (or another segment) from client port `port` of the lab's client address. */
function fromPort(port: number, flags = 'S'): Buffer {
  return buildTcpFrame({ srcMac: CLIENT.mac, dstMac: SERVER.mac, src: CLIENT.ip, dst: SERVER.ip, srcPort: port, dstPort: SERVER.port, seq: port * 1000, ack: flags.includes('A') ? 1 : 0, flags, window: 512 });
}

describe('engine: a bounded connection table', () => {
  it('a SYN flood evicts half-open records oldest first and frees their engine and rule state at once', () => {
    const forgotten: number[] = [];
    const decider: Decider = { decide: () => PASS, forget: (id) => forgotten.push(id) };
    const p = new Playbook({ maxConnections: 10, decider });
    for (let port = 20_000; port < 20_100; port++) p.capture('a', fromPort(port));
    expect(p.engine.stats).toMatchObject({ tracked: 10, evictedHalfOpen: 90, untracked: 0, frames: 100 });
    expect(forgotten).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    expect(p.engine.connectionBytes(1)).toBeUndefined();
    expect(p.engine.connectionBytes(100)).toBeDefined();
    // Every SYN was forwarded.
    expect(p.takeSends()).toHaveLength(100);
  });

  it('a full table of established connections: a new one passes untouched and untracked, counted, warned once', () => {
    const p = new Playbook({ maxConnections: 1 });
    p.handshake();
    p.takeSends();
    const a = p.capture('a', fromPort(30_000));
    const b = p.capture('a', fromPort(30_001, 'A'));
    expect(p.sendsRaw().map((s) => s.frame)).toEqual([a, b]);
    expect(p.engine.stats).toMatchObject({ tracked: 1, untracked: 2, evictedHalfOpen: 0 });
    const warnings = p.events.filter((e) => e.type === 'warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: expect.stringMatching(/connection table full \(1 tracked, none evictable\).*--max-connections/) });
    // Nothing about them reaches the event stream: no connection, no segment.
    expect(p.events.filter((e) => e.type === 'connection')).toHaveLength(1);
    // The tracked connection goes on as before.
    p.fromClient('FA', 1, 1);
    expect(p.states('client').at(-1)).toBe('FIN-WAIT-1');
  });
});
