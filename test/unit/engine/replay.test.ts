// The engine's replay action, as a playbook (inputs → sends and events): a
// copy of the segment, byte for byte, re-sent into the same direction after a
// delay or into the next connection on the 4-tuple once it is established;
// the original passes or is dropped; memory is bounded and freed at the end.

import { describe, expect, it } from 'vitest';
import { Playbook, CISN, SISN, CLIENT, SERVER, seg } from './playbook.js';
import type { Decider, MatchContext, Plan } from '../../../src/engine/plan.js';
import { PASS } from '../../../src/engine/plan.js';
import type { ActionEvent, SegmentEvent } from '../../../src/engine/events.js';
import { MAX_REMEMBERED } from '../../../src/engine/replay-store.js';

function oneRule(when: (c: MatchContext) => boolean, plan: Plan, times = Infinity): Decider {
  let n = 0;
  return { decide: (c) => (when(c) && n++ < times ? { rule: 1, plan } : PASS), forget: () => undefined };
}

const clientData = (c: MatchContext) => c.from === 'client' && c.role === 'data';
const replays = (p: Playbook) => p.events.filter((e): e is SegmentEvent => e.type === 'segment' && e.verdict === 'replay');
const replayActions = (p: Playbook) => p.events.filter((e): e is ActionEvent => e.type === 'action' && e.action === 'replay');

/** Connection 1 carries 10 bytes from the client, then the server closes first: the server ends in TIME-WAIT. */
function firstConnection(p: Playbook): Buffer {
  p.handshake();
  const data = p.fromClient('PA', 1, 1, 10);
  p.fromServer('A', 1, 11);
  p.fromServer('FA', 1, 11);
  p.fromClient('A', 11, 2);
  p.fromClient('FA', 11, 2);
  p.fromServer('A', 2, 12);
  return data;
}

/** A second connection on the same 4-tuple, with ISNs 1e6 further on (Linux: the ISN clock has moved). */
const C2 = CISN + 1_000_000;
const S2 = SISN + 3_000_000;
function secondHandshake(p: Playbook, upTo: 'S' | 'SA' | 'A' = 'A'): void {
  p.capture('a', seg(CLIENT, SERVER, 'S', C2, 0, 0));
  if (upTo === 'S') return;
  p.capture('b', seg(SERVER, CLIENT, 'SA', S2, C2 + 1, 0));
  if (upTo === 'SA') return;
  p.capture('a', seg(CLIENT, SERVER, 'A', C2 + 1, S2 + 1, 0));
}

describe('engine: replay', () => {
  it('after_ms: the original passes, and an exact copy of its frame goes the same way that long after', () => {
    const p = new Playbook({ decider: oneRule(clientData, { kind: 'replay', afterMs: 2000, into: 'same-conn', instead: false }, 1) });
    p.handshake();
    const intact = p.fromClient('PA', 1, 1, 10);
    p.fromServer('A', 1, 11);
    expect(p.takeSends()).toEqual(['b S', 'a SA', 'b A', 'b PA', 'a A']);
    expect(p.engine.pendingCount()).toBe(1);
    p.advance(1999);
    expect(p.takeSends()).toEqual([]);
    p.advance(1);
    const sent = p.sendsRaw();
    expect(sent.map((s) => `${s.port} ${s.flags} ${s.seq} ${s.len}`)).toEqual([`b PA ${CISN + 1} 10`]);
    // The copy was taken before the capture slab was overwritten (the playbook fills it with 0xee).
    expect(sent[0]!.frame.equals(intact)).toBe(true);
    expect(replays(p)).toEqual([expect.objectContaining({ conn: 1, from: 'client', dir: 'c2s', verdict: 'replay', seq: 1, len: 10, rule: 1, detail: `captured 2000 ms ago, original seq=${CISN + 1}` })]);
    expect(replayActions(p).map((a) => a.detail)).toEqual([`replayed data from client of #1 into #1 (seq=${CISN + 1} len=10)`]);
    expect(p.events.find((e) => e.type === 'segment' && e.rule === 1 && e.verdict === 'pass')).toMatchObject({ detail: 'remembered, replayed in 2000 ms' });
    // An old duplicate left of the server's window changes nothing (tcp_sequence: the kernel answers with an ACK).
    expect(p.states('server')).toEqual(['SYN-RECV', 'ESTAB']);
    expect(p.engine.stats).toMatchObject({ replayed: 1, replayUnused: 0 });
    expect(p.engine.pendingCount()).toBe(0);
  });

  it('instead: the original is dropped; the copy, arriving later, is the first the server gets', () => {
    const p = new Playbook({ decider: oneRule(clientData, { kind: 'replay', afterMs: 500, into: 'same-conn', instead: true }, 1) });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 10);
    expect(p.takeSends()).toEqual([]);
    expect(p.events.find((e) => e.type === 'segment' && e.verdict === 'drop')).toMatchObject({ rule: 1, detail: 'remembered, replayed in 500 ms' });
    p.advance(500);
    expect(p.takeSends()).toEqual(['b PA']);
    expect(p.engine.stats).toMatchObject({ dropped: 1, replayed: 1 });
  });

  it('into next-conn: waits for a later connection on the 4-tuple, and its wait starts once that one is ESTAB at the receiver', () => {
    const p = new Playbook({ decider: oneRule(clientData, { kind: 'replay', afterMs: 200, into: 'next-conn', instead: false }, 1) });
    const intact = firstConnection(p);
    expect(p.states('server')).toEqual(['SYN-RECV', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    // Waiting for a next connection is not "pending" at tcpmitm: a run may end without one.
    expect(p.engine.pendingCount()).toBe(0);
    p.advance(5000);
    p.takeSends();
    secondHandshake(p, 'SA');
    p.advance(1000);
    expect(p.takeSends()).toEqual(['b S', 'a SA']);
    p.capture('a', seg(CLIENT, SERVER, 'A', C2 + 1, S2 + 1, 0)); // the handshake ACK: the server is ESTAB
    p.takeSends();
    expect(p.engine.pendingCount()).toBe(1);
    p.advance(199);
    expect(p.takeSends()).toEqual([]);
    p.advance(1);
    const sent = p.sendsRaw();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.frame.equals(intact)).toBe(true);
    const ev = replays(p)[0]!;
    expect(ev).toMatchObject({ conn: 2, from: 'client', verdict: 'replay', len: 10, detail: expect.stringMatching(/^of #1, captured \d+ ms ago, original seq=1001$/) });
    // Relative to connection 2's ISN, the old segment is far left of its window.
    expect(ev.seq).toBe((CISN + 1 - C2) >>> 0);
    expect(replayActions(p)[0]!).toMatchObject({ conn: 2, detail: `replayed data from client of #1 into #2 (seq=${CISN + 1} len=10)` });
    // The server's TIME-WAIT of #1 ended at the new SYN; #2's server is not moved by the old duplicate.
    expect(p.states('server', 1).at(-1)).toBe('CLOSED');
    expect(p.states('server', 2)).toEqual(['SYN-RECV', 'ESTAB']);
    expect(p.engine.stats.replayed).toBe(1);
  });

  it('into next-conn: a run that ends without one frees it, reported and counted', () => {
    const p = new Playbook({ decider: oneRule(clientData, { kind: 'replay', afterMs: 0, into: 'next-conn', instead: false }, 1) });
    firstConnection(p);
    p.engine.finish(p.now);
    expect(replayActions(p).map((a) => a.detail)).toEqual(['not replayed: data from client of #1 (no next connection on its 4-tuple came)']);
    expect(p.engine.stats).toMatchObject({ replayed: 0, replayUnused: 1 });
    // Nothing fires later.
    secondHandshake(p);
    p.advance(1000);
    expect(replays(p)).toEqual([]);
  });

  it(`remembers at most ${MAX_REMEMBERED} segments: a match beyond passes untouched, with one warning`, () => {
    const p = new Playbook({ decider: oneRule(clientData, { kind: 'replay', afterMs: 60_000, into: 'same-conn', instead: true }) });
    p.handshake();
    for (let i = 0; i < MAX_REMEMBERED + 2; i++) p.fromClient('PA', 1 + 10 * i, 1, 10);
    expect(p.engine.stats).toMatchObject({ dropped: MAX_REMEMBERED, replayUnused: 2 });
    expect(p.events.filter((e) => e.type === 'warning')).toHaveLength(1);
    expect(p.takeSends().filter((s) => s === 'b PA')).toHaveLength(2);
    p.advance(60_000);
    expect(p.takeSends().filter((s) => s === 'b PA')).toHaveLength(MAX_REMEMBERED);
    expect(p.engine.stats.replayed).toBe(MAX_REMEMBERED);
  });
});

describe('engine: forge a SYN', () => {
  const lastAck = (c: MatchContext) => c.from === 'server' && c.role === 'last-ack';

  it('beyond the TIME-WAIT\'s rcv_nxt: a bare SYN from the client\'s side, and the TIME-WAIT ends (TCP_TW_SYN)', () => {
    const p = new Playbook({ decider: oneRule(lastAck, { kind: 'forge', to: 'server', flags: 'SYN', seqOffset: 1, instead: false }, 1) });
    firstConnection(p);
    const sent = p.sendsRaw().at(-1)!;
    // The client's FIN was at 11 (10 bytes after the SYN): rcv_nxt = 12, plus 1.
    expect(sent).toMatchObject({ port: 'b', flags: 'S', seq: CISN + 13, ack: 0, len: 0 });
    expect(p.events.find((e) => e.type === 'segment' && e.verdict === 'forged')).toMatchObject({ from: 'client', role: 'syn', detail: 'SYN to server (seq off by 1)' });
    expect(p.events.find((e) => e.type === 'action' && e.action === 'forge')).toMatchObject({ detail: `forged SYN to server seq=${CISN + 13} (rule 1 on last-ack from server)` });
    expect(p.states('server')).toEqual(['SYN-RECV', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'CLOSED']);
    expect(p.engine.stats.forged).toBe(1);
  });

  it('at rcv_nxt (not beyond): the TIME-WAIT stays (Linux answers with its ACK, TCP_TW_ACK)', () => {
    const p = new Playbook({ decider: oneRule(lastAck, { kind: 'forge', to: 'server', flags: 'SYN', seqOffset: 0, instead: false }, 1) });
    firstConnection(p); // the server closes first; the forged SYN follows its last ACK, into its TIME-WAIT
    expect(p.sendsRaw().at(-1)).toMatchObject({ port: 'b', flags: 'S', seq: CISN + 12 });
    expect(p.states('server').at(-1)).toBe('TIME-WAIT');
  });
});
