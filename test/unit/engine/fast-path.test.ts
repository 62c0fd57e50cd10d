// The engine's fast path (a plain pass nobody reads the segment event of)
// must change nothing but that: the same frames leave in the same order, the
// same state changes, actions and warnings come out in the same order, and
// the tracker ends with the same view, as when every segment takes the
// general path (a reader of pass segments: the UI, --segments, --json). Run
// on one script with retransmissions, reordering, a rule that drops and a
// delay, hand commands, a forged RST, a close and a new connection reusing
// the 4-tuple.

import { describe, expect, it } from 'vitest';
import { Playbook } from './playbook.js';
import { PASS, type Decider, type MatchContext } from '../../../src/engine/plan.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';

/** Drops the client's third data segment, delays the server's second by 30 ms (order kept). */
function rules(): Decider {
  const seen = { c: 0, s: 0 };
  return {
    decide: (m: MatchContext) => {
      if (m.role !== 'data') return PASS;
      if (m.from === 'client' && ++seen.c === 3) return { rule: 1, plan: { kind: 'drop' } };
      if (m.from === 'server' && ++seen.s === 2) return { rule: 2, plan: { kind: 'delay', ms: 30, reorder: false } };
      return PASS;
    },
    forget: () => undefined,
  };
}

function script(p: Playbook): void {
  p.handshake();
  p.now += 1;
  p.fromClient('PA', 1, 1, 100);
  p.fromServer('A', 1, 101);
  p.fromClient('PA', 101, 1, 100);
  // A retransmission and a segment past a hole, then the hole.
  p.fromClient('PA', 1, 1, 100);
  p.fromClient('PA', 301, 1, 100); // the rule's third data segment: dropped
  p.fromClient('PA', 401, 1, 100);
  p.fromServer('A', 1, 201);
  p.fromServer('PA', 1, 201, 50);
  p.fromServer('PA', 51, 201, 50); // delayed
  p.fromServer('PA', 101, 201, 50); // queued behind it
  p.advance(40);
  p.fromClient('A', 501, 151);
  p.engine.onControl({ kind: 'drop-next', conn: 1, dir: 'c2s' }, p.now);
  p.fromClient('PA', 501, 151, 10);
  p.fromClient('PA', 501, 151, 10);
  p.fromServer('A', 151, 511);
  // The server closes, the client answers, last ACK; TIME-WAIT on the server.
  p.fromServer('FA', 151, 511);
  p.fromClient('A', 511, 152);
  p.fromClient('FA', 511, 152);
  p.fromServer('A', 152, 512);
  p.advance(100);
  // A new connection on the same 4-tuple reuses the TIME-WAIT, then a forged RST ends it.
  p.fromClient('S', 100_000, 0);
  p.fromServer('SA', 200_000, 100_001);
  p.fromClient('A', 100_001, 200_001);
  p.fromClient('PA', 100_001, 200_001, 20);
  p.engine.onControl({ kind: 'rst', conn: 2, to: 'server' }, p.now);
  p.fromServer('A', 200_001, 100_021);
  p.advance(70_000);
}

/** What the fast path must not change: every event but the plain pass segments. */
const notPlainPass = (evs: readonly TcpmitmEvent[]) => evs.filter((e) => !(e.type === 'segment' && e.verdict === 'pass' && e.rule === undefined && e.detail === undefined));

describe('the fast path', () => {
  for (const [name, decider] of [
    ['passthrough', undefined],
    ['a drop and a delay rule', rules],
  ] as const) {
    it(`changes nothing but the pass segment events nobody reads (${name})`, () => {
      const fast = new Playbook({ passSegments: false, timeWaitMs: 60_000, ...(decider ? { decider: decider() } : {}) });
      const general = new Playbook({ passSegments: true, timeWaitMs: 60_000, ...(decider ? { decider: decider() } : {}) });
      script(fast);
      script(general);
      expect(fast.outputs.map((o) => (o.kind === 'send' ? [o.port, o.frame.toString('hex')] : o))).toEqual(
        general.outputs.map((o) => (o.kind === 'send' ? [o.port, o.frame.toString('hex')] : o)),
      );
      expect(fast.events).toEqual(notPlainPass(general.events));
      // The general path's run did show plain passes: the comparison is not empty on that side.
      expect(general.events.length).toBeGreaterThan(fast.events.length);
      expect([...fast.engine.connections()]).toEqual([...general.engine.connections()]);
      expect(fast.engine.stats).toEqual(general.engine.stats);
      expect(fast.states('server', 2)).toContain('CLOSED');
      expect(fast.engine.stats).toMatchObject({ forged: 1, dropped: decider ? 2 : 1, delayed: decider ? 1 : 0 });
    });
  }
});
