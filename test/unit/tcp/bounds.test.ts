// The tracker's memory has a bound: at most maxConnections records; a new
// connection evicts the least recently seen half-open, picked-up or finished
// record (conntrack's early_drop), and when none may go it is not tracked;
// every state has an idle timeout, picked-up ESTAB included. Floods of random
// tuples (SYN and ACK) stay within the bound, in records and in heap.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { TcpFlag, type SegmentInfo } from '../../../src/tcp/segment.js';
import { DEFAULT_CLOSING_MS, DEFAULT_ESTABLISHED_MS, DEFAULT_STALE_MS, Tracker } from '../../../src/tcp/tracker.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapMiB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const SERVER = '198.19.0.2';

/** The i-th random-looking client tuple (198.18.0.0/15 only). */
function client(i: number): { addr: string; port: number } {
  const h = (i * 2654435761) >>> 0;
  return { addr: `198.18.${(h >>> 8) & 0xff}.${h & 0xff}`, port: 1024 + (i % 60_000) };
}

function seg(from: { addr: string; port: number }, to: { addr: string; port: number }, flags: number, seq: number, ack: number, len = 0): SegmentInfo {
  return { family: 4, srcAddr: from.addr, srcPort: from.port, dstAddr: to.addr, dstPort: to.port, seq, ack, flags, window: 512, payloadLength: len };
}

const SRV = { addr: SERVER, port: 80 };
const SYN = TcpFlag.SYN;
const ACK = TcpFlag.ACK;
const SA = TcpFlag.SYN | TcpFlag.ACK;
const FA = TcpFlag.FIN | TcpFlag.ACK;

/** Sent and delivered, as an inline box sees a segment that it passes. */
function pass(t: Tracker, s: SegmentInfo, now: number) {
  const r = t.sent(s, now);
  if (r !== undefined) t.delivered(s, now);
  return r;
}

/** A complete handshake for client i: an assured record, ESTAB on both ends. */
function establish(t: Tracker, i: number, now: number): number {
  const c = client(i);
  const r = pass(t, seg(c, SRV, SYN, 1000, 0), now)!;
  pass(t, seg(SRV, c, SA, 5000, 1001), now);
  pass(t, seg(c, SRV, ACK, 1001, 5001), now);
  expect([r.conn.clientEnd.state, r.conn.serverEnd.state]).toEqual(['ESTAB', 'ESTAB']);
  return r.conn.id;
}

describe('tracker bounds: floods of random tuples', () => {
  for (const [name, flags] of [['SYN', SYN], ['ACK', ACK]] as const) {
    it(`200 000 ${name}s of random tuples keep at most maxConnections records, the newest, and a bounded heap`, () => {
      const N = 200_000;
      const MAX = 5_000;
      const t = new Tracker({ maxConnections: MAX });
      const before = heapMiB();
      let peak = 0;
      for (let i = 0; i < N; i++) {
        const r = t.sent(seg(client(i), SRV, flags, i * 7, 1), i);
        expect(r).toBeDefined();
        peak = Math.max(peak, t.size);
      }
      expect(peak).toBe(MAX);
      expect(t.size).toBe(MAX);
      // Oldest first: what is left is the last MAX tuples seen.
      const kept = [...t.connections()].map((c) => c.createdAt).sort((a, b) => a - b);
      expect(kept[0]).toBe(N - MAX);
      expect(kept.at(-1)).toBe(N - 1);
      const evicted = N - MAX;
      if (flags === SYN) expect(t.bounds).toMatchObject({ evictedHalfOpen: evicted, evictedPickedUp: 0, untracked: 0 });
      else expect(t.bounds).toMatchObject({ evictedPickedUp: evicted, evictedHalfOpen: 0, untracked: 0 });
      // 5 000 records are a few MiB; 200 000 would be hundreds.
      expect(heapMiB() - before).toBeLessThan(40);
      expect(t.drainForgotten()).toHaveLength(evicted);
      // Idle: both kinds are forgotten after the half-open timeout (a lone ACK is a record seen one way).
      t.advance(N + DEFAULT_STALE_MS);
      expect(t.size).toBe(0);
      expect(t.bounds.expired).toBe(MAX);
    });
  }

  it('a normal connection still gets tracked in the middle of a flood', () => {
    const t = new Tracker({ maxConnections: 100 });
    for (let i = 0; i < 1000; i++) t.sent(seg(client(i), SRV, SYN, i, 0), i);
    const id = establish(t, 1_000_000, 1000);
    for (let i = 1000; i < 1050; i++) t.sent(seg(client(i), SRV, SYN, i, 0), i);
    // Established from its SYN: never evicted while half-open ones remain.
    expect(t.get(id)?.clientEnd.state).toBe('ESTAB');
    expect(t.size).toBe(100);
  });
});

describe('tracker bounds: eviction order and what may not be evicted', () => {
  it('evicts half-open before nothing else: established records stay, and a full table of them leaves new connections untracked', () => {
    const t = new Tracker({ maxConnections: 4 });
    const est = [establish(t, 1, 0), establish(t, 2, 0), establish(t, 3, 0)];
    const half = t.sent(seg(client(4), SRV, SYN, 1, 0), 1)!.conn.id;
    const next = t.sent(seg(client(5), SRV, SYN, 1, 0), 2)!;
    expect(t.get(half)).toBeUndefined();
    expect(t.bounds.evictedHalfOpen).toBe(1);
    // Complete the newest one's handshake: now all four are assured.
    pass(t, seg(SRV, client(5), SA, 9, 2), 3);
    pass(t, seg(client(5), SRV, ACK, 2, 10), 3);
    expect(t.sent(seg(client(6), SRV, SYN, 1, 0), 4)).toBeUndefined();
    expect(t.sent(seg(client(7), SRV, ACK, 1, 1), 4)).toBeUndefined();
    expect(t.bounds.untracked).toBe(2);
    expect(t.size).toBe(4);
    for (const id of [...est, next.conn.id]) expect(t.get(id)).toBeDefined();
    // Untracked segments are not found later either, so delivering them changes nothing.
    expect(t.deliver(seg(client(6), SRV, SYN, 1, 0), 4)).toEqual({ changes: [] });
  });

  it('the least recently seen goes first: a half-open record seen again outlives younger silent ones', () => {
    const t = new Tracker({ maxConnections: 3 });
    const a = t.sent(seg(client(1), SRV, SYN, 1, 0), 0)!.conn.id;
    const b = t.sent(seg(client(2), SRV, SYN, 1, 0), 1)!.conn.id;
    const c = t.sent(seg(client(3), SRV, SYN, 1, 0), 2)!.conn.id;
    t.sent(seg(client(1), SRV, SYN, 1, 0), 3); // a's SYN retransmitted
    t.sent(seg(client(4), SRV, SYN, 1, 0), 4);
    expect([a, b, c].map((id) => t.get(id) !== undefined)).toEqual([true, false, true]);
    t.sent(seg(client(5), SRV, SYN, 1, 0), 5);
    expect([a, c].map((id) => t.get(id) !== undefined)).toEqual([true, false]);
  });

  it('finished records (TIME-WAIT) and picked-up ones are evictable and counted by kind', () => {
    const t = new Tracker({ maxConnections: 2 });
    const c = client(1);
    establish(t, 1, 0);
    pass(t, seg(c, SRV, FA, 1001, 5001), 1);
    pass(t, seg(SRV, c, FA, 5001, 1002), 1);
    pass(t, seg(c, SRV, ACK, 1002, 5002), 1);
    const p = t.sent(seg(client(2), SRV, ACK, 1, 1), 2)!;
    expect(p.conn.pickedUp).toBe(true);
    t.sent(seg(client(3), SRV, SYN, 1, 0), 3);
    expect(t.bounds.evictedClosed).toBe(1);
    t.sent(seg(client(4), SRV, SYN, 1, 0), 4);
    expect(t.bounds.evictedPickedUp).toBe(1);
  });

  it('a record evicted while it still sends is picked up again by its next segment', () => {
    const t = new Tracker({ maxConnections: 1 });
    const first = t.sent(seg(client(1), SRV, ACK, 1, 1), 0)!.conn.id;
    t.sent(seg(client(2), SRV, ACK, 1, 1), 1);
    const again = t.sent(seg(client(1), SRV, ACK, 1, 1), 2)!;
    expect(again.isNew).toBe(true);
    expect(again.conn.pickedUp).toBe(true);
    expect(again.conn.id).not.toBe(first);
  });
});

describe('tracker bounds: idle timeouts for every state', () => {
  it('established from its SYN: forgotten after the established timeout, not before', () => {
    const t = new Tracker();
    const id = establish(t, 1, 0);
    t.advance(DEFAULT_ESTABLISHED_MS - 1);
    expect(t.get(id)).toBeDefined();
    t.advance(DEFAULT_ESTABLISHED_MS);
    expect(t.get(id)).toBeUndefined();
    expect(t.bounds.expired).toBe(1);
  });

  it('a segment restarts the idle time', () => {
    const t = new Tracker({ establishedMs: 1000 });
    const id = establish(t, 1, 0);
    pass(t, seg(client(1), SRV, ACK, 1001, 5001), 900);
    t.advance(1500);
    expect(t.get(id)).toBeDefined();
    t.advance(1900);
    expect(t.get(id)).toBeUndefined();
  });

  it('picked up mid-stream: seen one way, the half-open timeout; seen both ways, the established timeout', () => {
    const t = new Tracker({ staleMs: 100, establishedMs: 10_000 });
    const lone = t.sent(seg(client(1), SRV, ACK, 1, 1), 0)!.conn.id;
    const both = pass(t, seg(client(2), SRV, ACK, 1, 1), 0)!.conn.id;
    pass(t, seg(SRV, client(2), ACK, 1, 1), 0);
    t.advance(100);
    expect(t.get(lone)).toBeUndefined();
    expect(t.get(both)?.clientEnd.state).toBe('ESTAB');
    t.advance(10_000);
    expect(t.get(both)).toBeUndefined();
    expect(t.bounds.expired).toBe(2);
  });

  it('a FIN never acknowledged (FIN-WAIT-1 / CLOSE-WAIT): forgotten after the closing timeout', () => {
    const t = new Tracker();
    const id = establish(t, 1, 0);
    pass(t, seg(client(1), SRV, FA, 1001, 5001), 10);
    expect([t.get(id)?.clientEnd.state, t.get(id)?.serverEnd.state]).toEqual(['FIN-WAIT-1', 'CLOSE-WAIT']);
    t.advance(10 + DEFAULT_CLOSING_MS - 1);
    expect(t.get(id)).toBeDefined();
    t.advance(10 + DEFAULT_CLOSING_MS);
    expect(t.get(id)).toBeUndefined();
  });

  it('refuses a bound below one', () => {
    expect(() => new Tracker({ maxConnections: 0 })).toThrow(/at least 1/);
  });
});
