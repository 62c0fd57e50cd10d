// A queue-fed mode (intercept: NFQUEUE) must give the kernel exactly one
// verdict per queued packet: accept for a frame that leaves unchanged, drop
// for one that never leaves. The engine hands each capture's ticket back once:
// with the send of that very frame, or by discard. Copies and forged segments
// carry none (they leave by another way: a raw socket).

import { describe, expect, it } from 'vitest';
import { Playbook } from './playbook.js';
import type { Decider, MatchContext, Plan } from '../../../src/engine/plan.js';
import { PASS } from '../../../src/engine/plan.js';

function oneRule(when: (c: MatchContext) => boolean, plan: Plan, times = Infinity): Decider {
  let n = 0;
  return {
    decide: (c) => (when(c) && n++ < times ? { rule: 1, plan } : PASS),
    forget: () => undefined,
  };
}

/** Every ticket given came back exactly once; a ticket sent went with its own frame, byte for byte, on the other port. */
function expectEachTicketOnce(p: Playbook, captured: ReadonlyMap<number, { port: 'a' | 'b'; frame: Buffer }>): void {
  const seen = new Map<number, number>();
  for (const t of p.ticketsBack) seen.set(t.ticket, (seen.get(t.ticket) ?? 0) + 1);
  for (let t = 1; t <= p.ticketsGiven; t++) expect(seen.get(t), `ticket ${t}`).toBe(1);
  expect(p.ticketsBack.every((t) => t.ticket >= 1 && t.ticket <= p.ticketsGiven)).toBe(true);
  for (const back of p.ticketsBack) {
    const c = captured.get(back.ticket)!;
    if (back.how === 'discarded') expect(back.port).toBe(c.port);
    else {
      const sent = p.outputs.find((o) => o.kind === 'send' && o.ticket === back.ticket);
      expect(sent).toMatchObject({ port: c.port === 'a' ? 'b' : 'a' });
      expect(sent?.kind === 'send' && sent.frame.equals(c.frame)).toBe(true);
    }
  }
}

/** A playbook whose captures are remembered by ticket (port and intact bytes). */
function ticketed(decider?: Decider): { p: Playbook; captured: Map<number, { port: 'a' | 'b'; frame: Buffer }>; c: (f: string, s: number, a: number, len?: number) => number; s: (f: string, s: number, a: number, len?: number) => number } {
  const p = new Playbook({ decider, tickets: true });
  const captured = new Map<number, { port: 'a' | 'b'; frame: Buffer }>();
  const c = (f: string, s: number, a: number, len = 0): number => {
    captured.set(p.ticketsGiven + 1, { port: 'a', frame: p.fromClient(f, s, a, len) });
    return p.ticketsGiven;
  };
  const s = (f: string, sq: number, a: number, len = 0): number => {
    captured.set(p.ticketsGiven + 1, { port: 'b', frame: p.fromServer(f, sq, a, len) });
    return p.ticketsGiven;
  };
  return { p, captured, c, s };
}

const back = (p: Playbook, ticket: number) => p.ticketsBack.filter((t) => t.ticket === ticket).map((t) => t.how);

describe('engine: capture tickets (queue-fed modes)', () => {
  it('passthrough: each frame goes out with its own ticket', () => {
    const { p, captured, c, s } = ticketed();
    c('S', 0, 0);
    s('SA', 0, 1);
    c('A', 1, 1);
    c('PA', 1, 1, 10);
    s('FA', 1, 11);
    c('FA', 11, 2);
    s('A', 2, 12);
    expect(p.ticketsBack.map((t) => t.how)).toEqual(Array(7).fill('sent'));
    expectEachTicketOnce(p, captured);
  });

  it('a malformed frame and a non-TCP frame are sent untouched with their tickets', () => {
    const p = new Playbook({ tickets: true });
    const arp = Buffer.from('ffffffffffff02000000000108060001080006040001020000000001c6120001000000000000c6120002', 'hex');
    p.engine.onFrame('a', arp, 0, ++p.ticketsGiven);
    const bad = Buffer.from(p.fromClient('S', 0, 0));
    bad[14 + 20 + 12] = 0x10; // TCP data offset 4 words: malformed
    p.engine.onFrame('b', bad, 0, ++p.ticketsGiven);
    expect(p.ticketsBack).toEqual([
      { ticket: 1, how: 'sent', port: 'b' },
      { ticket: 2, how: 'sent', port: 'b' },
      { ticket: 3, how: 'sent', port: 'a' },
    ]);
  });

  it('drop: the dropped last ACK is discarded on the port it came in by', () => {
    const { p, captured, c, s } = ticketed(oneRule((m) => m.role === 'last-ack', { kind: 'drop' }));
    c('S', 0, 0);
    s('SA', 0, 1);
    c('A', 1, 1);
    c('FA', 1, 1);
    s('FA', 1, 2);
    const last = c('A', 2, 2);
    expect(back(p, last)).toEqual(['discarded']);
    expectEachTicketOnce(p, captured);
  });

  it('delay: the FIN keeps its ticket until it leaves, then goes with it; the segment queued behind it too', () => {
    const { p, captured, c, s } = ticketed(oneRule((m) => m.role === 'fin', { kind: 'delay', ms: 200, reorder: false }));
    c('S', 0, 0);
    s('SA', 0, 1);
    c('A', 1, 1);
    const fin = c('FA', 1, 1);
    const behind = c('A', 2, 1);
    expect(back(p, fin)).toEqual([]);
    expect(back(p, behind)).toEqual([]);
    p.advance(200);
    expect(back(p, fin)).toEqual(['sent']);
    expect(back(p, behind)).toEqual(['sent']);
    expectEachTicketOnce(p, captured);
  });

  it('coalesce: the absorbed pure ACKs are discarded; the FIN they ride on leaves with its own ticket', () => {
    const { p, captured, c, s } = ticketed(oneRule((m) => m.role === 'ack-of-fin' && m.from === 'server', { kind: 'coalesce', windowMs: 400 }));
    c('S', 0, 0);
    s('SA', 0, 1);
    c('A', 1, 1);
    c('FA', 1, 1);
    const ack = s('A', 1, 2);
    p.now += 100;
    const fin = s('FA', 1, 2);
    c('A', 2, 2);
    expect(back(p, ack)).toEqual(['discarded']);
    expect(back(p, fin)).toEqual(['sent']);
    expectEachTicketOnce(p, captured);
  });

  it('coalesce with no FIN in the window: the held ACK leaves at the timer, with its ticket', () => {
    const { p, captured, c, s } = ticketed(oneRule((m) => m.role === 'ack-of-fin' && m.from === 'server', { kind: 'coalesce', windowMs: 400 }));
    c('S', 0, 0);
    s('SA', 0, 1);
    c('A', 1, 1);
    c('FA', 1, 1);
    const ack = s('A', 1, 2);
    expect(back(p, ack)).toEqual([]);
    p.advance(400);
    expect(back(p, ack)).toEqual(['sent']);
    expectEachTicketOnce(p, captured);
  });

  it('duplicate: the original goes with its ticket, the copy with none', () => {
    const { p, captured, c, s } = ticketed(oneRule((m) => m.role === 'data', { kind: 'duplicate' }));
    c('S', 0, 0);
    s('SA', 0, 1);
    c('A', 1, 1);
    const data = c('PA', 1, 1, 10);
    const sends = p.outputs.filter((o) => o.kind === 'send' && o.flags === 'PA');
    expect(sends.map((o) => (o.kind === 'send' ? o.ticket : -1))).toEqual([data, undefined]);
    expectEachTicketOnce(p, captured);
  });

  it('rst instead of a segment: the segment is discarded, the forged RST carries no ticket', () => {
    const { p, captured, c, s } = ticketed(oneRule((m) => m.role === 'data' && m.from === 'client', { kind: 'rst', to: 'server', instead: true, seqOffset: 0 }));
    c('S', 0, 0);
    s('SA', 0, 1);
    c('A', 1, 1);
    const data = c('PA', 1, 1, 10);
    expect(back(p, data)).toEqual(['discarded']);
    const rst = p.outputs.find((o) => o.kind === 'send' && o.flags === 'RA');
    expect(rst?.kind === 'send' && rst.ticket).toBeUndefined();
    expectEachTicketOnce(p, captured);
  });

  it('blackhole: every later segment of the connection is discarded, both ways', () => {
    const { p, captured, c, s } = ticketed(oneRule((m) => m.role === 'data', { kind: 'blackhole' }, 1));
    c('S', 0, 0);
    s('SA', 0, 1);
    c('A', 1, 1);
    const t = [c('PA', 1, 1, 10), s('PA', 1, 1, 10), c('PA', 1, 1, 10)];
    expect(t.map((x) => back(p, x))).toEqual([['discarded'], ['discarded'], ['discarded']]);
    expectEachTicketOnce(p, captured);
  });
});
