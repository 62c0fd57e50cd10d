// Frames captured short of their end (intercept: a packet longer than the
// 65 531 bytes a netfilter queue copies; nfqueue.c hands it over at its real
// length, the tail zero-filled, and says how many bytes are missing). The
// engine tracks them exactly, their verdict is the kernel's own packet (the
// ticket), and their bytes never leave as a copy: a duplicate or a replay of
// one would carry zeros where the data's last bytes are.

import { describe, expect, it } from 'vitest';
import { Playbook, CISN, SISN, CLIENT, SERVER, seg } from './playbook.js';
import type { Decider, Plan } from '../../../src/engine/plan.js';
import { PASS } from '../../../src/engine/plan.js';

const dataRule = (plan: Plan): Decider => ({ decide: (c) => (c.role === 'data' ? { rule: 1, plan } : PASS), forget: () => undefined });

/** A client segment of `len` payload bytes whose last `missing` the capture lacks (zero-filled, as nfqueue.c leaves them). */
function partialFromClient(p: Playbook, seqRel: number, len: number, missing: number): number {
  const frame = seg(CLIENT, SERVER, 'PA', CISN + seqRel, SISN + 1, len);
  frame.fill(0, frame.length - missing);
  const ticket = ++p.ticketsGiven;
  p.engine.onFrame('a', frame, p.now, ticket, missing);
  return ticket;
}

const BIG = 65_483;

describe('engine: partial captures', () => {
  it('are tracked at their real length and counted', () => {
    const p = new Playbook({ tickets: true });
    p.handshake();
    const t = partialFromClient(p, 1, BIG, 4);
    p.fromServer('A', 1, 1 + BIG);
    expect(p.ticketsBack.find((b) => b.ticket === t)).toEqual({ ticket: t, how: 'sent', port: 'b' });
    expect(p.engine.stats.partial).toBe(1);
    expect(p.engine.stats.malformed).toBe(0);
    // The server's ACK of all of it is an ACK of data the engine saw: the close that follows is tracked as usual.
    p.fromClient('FA', 1 + BIG, 1);
    p.fromServer('FA', 1, 2 + BIG);
    p.fromClient('A', 2 + BIG, 2);
    expect(p.states('client')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'TIME-WAIT']);
    expect(p.states('server')).toEqual(['SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
  });

  it('a duplicate of one is not sent: the original goes once, with its ticket', () => {
    const p = new Playbook({ decider: dataRule({ kind: 'duplicate' }), tickets: true });
    p.handshake();
    p.outputs.length = 0;
    const t = partialFromClient(p, 1, BIG, 4);
    const sends = p.sendsRaw();
    expect(sends.map((o) => o.ticket)).toEqual([t]);
    expect(p.engine.stats.duplicated).toBe(0);
    const ev = p.events.find((e) => e.type === 'segment' && e.role === 'data');
    expect(ev).toMatchObject({ verdict: 'pass', rule: 1 });
    expect(String((ev as { detail?: string }).detail)).toMatch(/^not copied: tcpmitm has only the first 65 531 bytes/);
  });

  it('a replay of one is not remembered: it passes, counted in replayUnused, and nothing is re-sent later', () => {
    const p = new Playbook({ decider: dataRule({ kind: 'replay', afterMs: 100, into: 'same-conn', instead: false }), tickets: true });
    p.handshake();
    p.outputs.length = 0;
    const t = partialFromClient(p, 1, BIG, 5);
    p.advance(500);
    expect(p.sendsRaw().map((o) => o.ticket)).toEqual([t]);
    expect(p.engine.stats.replayUnused).toBe(1);
    expect(p.engine.stats.replayed).toBe(0);
  });

  it('a whole frame is still duplicated (the same rule, nothing missing)', () => {
    const p = new Playbook({ decider: dataRule({ kind: 'duplicate' }), tickets: true });
    p.handshake();
    p.outputs.length = 0;
    const t = ++p.ticketsGiven;
    p.engine.onFrame('a', seg(CLIENT, SERVER, 'PA', CISN + 1, SISN + 1, 1000), p.now, t, 0);
    expect(p.sendsRaw().map((o) => o.ticket)).toEqual([t, undefined]);
    expect(p.engine.stats.partial).toBe(0);
  });
});
