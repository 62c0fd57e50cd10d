// fast-check: random interleavings of a close — sends, reordered or dropped
// deliveries, retransmissions, clock jumps — never throw, never make a
// transition RFC 9293's diagram (plus Linux's collapsed FIN-WAIT-1 → TIME-WAIT
// and timers) does not have, and once everything is finally delivered and the
// timers have run, leave both endpoints CLOSED and no record behind.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TcpFlag } from '../../../src/tcp/segment.js';
import type { StateChange } from '../../../src/tcp/tracker.js';
import type { TcpState } from '../../../src/tcp/state.js';
import { HANDSHAKE, Lab } from './script.js';

/** Transitions of a close without RST: RFC 9293 Figure 5, FIN-WAIT-1 → TIME-WAIT on one FIN+ACK, and the two timers. */
const CLOSE_EDGES: Record<TcpState, TcpState[]> = {
  CLOSED: ['SYN-SENT'],
  LISTEN: ['SYN-RECV'],
  'SYN-SENT': ['ESTAB', 'SYN-RECV'],
  'SYN-RECV': ['ESTAB', 'FIN-WAIT-1', 'CLOSE-WAIT'],
  ESTAB: ['FIN-WAIT-1', 'CLOSE-WAIT'],
  'FIN-WAIT-1': ['FIN-WAIT-2', 'CLOSING', 'TIME-WAIT'],
  'FIN-WAIT-2': ['TIME-WAIT', 'CLOSED'],
  'CLOSE-WAIT': ['LAST-ACK'],
  CLOSING: ['TIME-WAIT'],
  'LAST-ACK': ['CLOSED'],
  'TIME-WAIT': ['CLOSED'],
};

/** With RSTs anywhere, any synchronized or handshake state may also drop to CLOSED. */
function legal(from: TcpState, to: TcpState, withRst: boolean): boolean {
  if (CLOSE_EDGES[from].includes(to)) return true;
  return withRst && to === 'CLOSED' && from !== 'LISTEN' && from !== 'CLOSED';
}

function checkChanges(changes: StateChange[], withRst: boolean): void {
  const last = new Map<string, TcpState>();
  for (const ch of changes) {
    expect(legal(ch.from, ch.to, withRst), `${ch.endpoint} ${ch.from} → ${ch.to} (${ch.cause})`).toBe(true);
    const k = `${ch.conn}/${ch.endpoint}`;
    const prev = last.get(k);
    if (prev !== undefined) expect(ch.from, `chain of ${k}`).toBe(prev);
    last.set(k, ch.to);
  }
}

type Cmd =
  | { k: 'send'; side: 'c' | 's'; what: 'data' | 'ack' | 'fin' | 'retx' | 'rst' }
  | { k: 'deliver'; i: number; drop: boolean }
  | { k: 'forge'; to: 'client' | 'server'; off: number }
  | { k: 'wait'; ms: number };

const cmd = (withRst: boolean): fc.Arbitrary<Cmd> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant('send' as const), side: fc.constantFrom('c' as const, 's' as const), what: fc.constantFrom(...(withRst ? (['data', 'ack', 'fin', 'retx', 'rst'] as const) : (['data', 'ack', 'fin', 'retx'] as const))) }) },
    { weight: 5, arbitrary: fc.record({ k: fc.constant('deliver' as const), i: fc.nat(20), drop: fc.boolean() }) },
    { weight: withRst ? 1 : 0, arbitrary: fc.record({ k: fc.constant('forge' as const), to: fc.constantFrom('client' as const, 'server' as const), off: fc.integer({ min: -2, max: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('wait' as const), ms: fc.oneof(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 70_000 })) }) },
  );

function play(cmds: Cmd[], isns: [number, number]): Lab {
  const lab = new Lab({ clientIsn: isns[0], serverIsn: isns[1] }).run(HANDSHAKE);
  for (const c of cmds) {
    switch (c.k) {
      case 'send': {
        const side = c.side === 'c' ? lab.c : lab.s;
        const dir = c.side === 'c' ? 'c>s' : 's>c';
        if (c.what === 'rst') lab.step(`${dir} RA hold`);
        else if (c.what === 'fin' && !side.finSent) lab.step(`${dir} FA hold`);
        else if (c.what === 'data' && !side.finSent) lab.step(`${dir} PA len=7 hold`);
        else if (c.what === 'retx' && side.lastSpace !== undefined) lab.step(`${dir} A retx hold`.replace(' A ', side.lastSpace.flags & TcpFlag.FIN ? ' FA ' : ' PA '));
        else lab.step(`${dir} A hold`);
        break;
      }
      case 'deliver':
        if (lab.held.length > 0) lab.releaseAt(c.i % lab.held.length, c.drop);
        break;
      case 'forge': {
        const r = lab.tracker.rstFor(1, c.to);
        if (r !== undefined) lab.forge(c.to, TcpFlag.RST | TcpFlag.ACK, r.seq + c.off, r.ack);
        break;
      }
      case 'wait':
        lab.step(`wait ${c.ms}`);
        break;
    }
  }
  return lab;
}

/** Both sides close, then everything is re-sent and acknowledged until nothing is missing. */
function settle(lab: Lab): void {
  lab.run('release');
  if (!lab.c.finSent) lab.step('c>s FA');
  if (!lab.s.finSent) lab.step('s>c FA');
  for (let round = 0; round < 2; round++) {
    lab.run(`
      c>s A all
      s>c A all
      c>s A
      s>c A`);
  }
}

const isn = fc.oneof(fc.constant(0xfffffff0), fc.constant(0), fc.nat({ max: 0xffffffff }));

describe('tracker properties', () => {
  it('random interleavings of a valid close: legal transitions only, no throw, nothing left', () => {
    fc.assert(
      fc.property(fc.array(cmd(false), { maxLength: 40 }), fc.tuple(isn, isn), (cmds, isns) => {
        const lab = play(cmds, isns);
        settle(lab);
        lab.step('wait 400000');
        checkChanges(lab.changes, false);
        for (const e of ['client', 'server'] as const) expect(lab.states(e, 1, e === 'client' ? 'CLOSED' : 'LISTEN').at(-1)).toBe('CLOSED');
        expect(lab.tracker.size).toBe(0);
        expect(lab.tracker.nextDeadline()).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('with RSTs sent and forged at random: legal transitions only, no throw, nothing left', () => {
    fc.assert(
      fc.property(fc.array(cmd(true), { maxLength: 40 }), fc.tuple(isn, isn), (cmds, isns) => {
        const lab = play(cmds, isns);
        lab.run('release');
        lab.step('wait 400000');
        checkChanges(lab.changes, true);
        // Whatever is left can only be a live connection nobody closed (no timer runs in ESTAB, CLOSE-WAIT…).
        for (const conn of lab.tracker.connections()) {
          const states = [conn.clientEnd.state, conn.serverEnd.state];
          expect(states.some((s) => s === 'CLOSED' || s === 'TIME-WAIT' || s === 'LISTEN')).toBe(false);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
