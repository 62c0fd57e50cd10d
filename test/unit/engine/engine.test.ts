import { describe, expect, it } from 'vitest';
import { Playbook, CISN, SISN } from './playbook.js';
import type { Decider, MatchContext, Plan } from '../../../src/engine/plan.js';
import { PASS } from '../../../src/engine/plan.js';
import { EventBus } from '../../../src/engine/event-bus.js';
import type { SegmentEvent, TcpmitmEvent } from '../../../src/engine/events.js';
import { TextLogFormatter } from '../../../src/io/text-log.js';
import { commentFor } from '../../../src/io/pcapng-writer.js';

/** A decider with one rule: `plan` for segments that satisfy `when`, `times` at most. */
function oneRule(when: (c: MatchContext) => boolean, plan: Plan, times = Infinity): Decider {
  let n = 0;
  return {
    decide: (c) => (when(c) && n++ < times ? { rule: 1, plan } : PASS),
    forget: () => undefined,
  };
}

describe('engine: passthrough', () => {
  it('forwards every segment to the other port, unchanged, and infers a four-way close', () => {
    const p = new Playbook();
    p.handshake();
    const data = p.fromClient('PA', 1, 1, 100);
    p.fromServer('A', 1, 101);
    p.fromClient('FA', 101, 1);
    p.fromServer('A', 1, 102);
    p.fromServer('FA', 1, 102);
    p.fromClient('A', 102, 2);
    expect(p.sendsRaw().find((s) => s.len === 100)!.frame).toEqual(data);
    expect(p.takeSends()).toEqual(['b S', 'a SA', 'b A', 'b PA', 'a A', 'b FA', 'a A', 'a FA', 'b A']);
    expect(p.states('client')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    expect(p.states('server')).toEqual(['SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    const seg = p.events.find((e) => e.type === 'segment' && e.flags === 'FA' && e.from === 'client');
    expect(seg).toMatchObject({ seq: 101, ack: 1, role: 'fin', verdict: 'pass' });
  });

  it('forwards malformed and non-TCP frames untouched and counts them', () => {
    const p = new Playbook();
    const arp = Buffer.from('ffffffffffff02000000000108060001080006040001020000000001c6120001000000000000c6120002', 'hex');
    p.engine.onFrame('a', arp, 0);
    const bad = Buffer.from(p.fromClient('S', 0, 0));
    p.outputs.length = 0;
    bad[14 + 20 + 12] = 0x10; // TCP data offset 4 words (< 5): malformed
    p.engine.onFrame('a', bad, 0);
    const sends = p.sendsRaw();
    expect(sends.map((s) => s.frame)).toEqual([bad]);
    expect(p.engine.stats).toMatchObject({ nonTcp: 1, malformed: 1 });
  });
});

describe('engine: actions', () => {
  it('drop: the last ACK never reaches the server, which stays in LAST-ACK', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'last-ack', { kind: 'drop' }) });
    p.handshake();
    p.fromClient('FA', 1, 1);
    p.fromServer('FA', 1, 2);
    p.takeSends();
    p.fromClient('A', 2, 2);
    expect(p.takeSends()).toEqual([]);
    expect(p.states('client').at(-1)).toBe('TIME-WAIT');
    expect(p.states('server').at(-1)).toBe('LAST-ACK');
    expect(p.events.find((e) => e.type === 'segment' && e.verdict === 'drop')).toMatchObject({ role: 'last-ack', rule: 1 });
    // The server retransmits its FIN; the client in TIME-WAIT re-ACKs; that one passes (times: 1).
    p.engine.setDecider(oneRule((c) => c.role === 'last-ack', { kind: 'drop' }, 0));
    p.fromServer('FA', 1, 2);
    p.fromClient('A', 2, 2);
    expect(p.takeSends()).toEqual(['a FA', 'b A']);
    expect(p.states('server').at(-1)).toBe('CLOSED');
  });

  it('delay: holds the FIN, keeps later segments of that direction behind it, not the other direction', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'fin', { kind: 'delay', ms: 200, reorder: false }) });
    p.handshake();
    p.takeSends();
    p.fromClient('FA', 1, 1);
    expect(p.takeSends()).toEqual([]);
    expect(p.outputs).toEqual([]);
    p.fromClient('A', 2, 1); // a later segment of the same direction waits
    p.fromServer('PA', 1, 1, 10); // the other direction flows
    expect(p.takeSends()).toEqual(['a PA']);
    expect(p.states('client').at(-1)).toBe('FIN-WAIT-1');
    expect(p.states('server').at(-1)).toBe('ESTAB');
    p.advance(199);
    expect(p.takeSends()).toEqual([]);
    p.advance(1);
    expect(p.takeSends()).toEqual(['b FA', 'b A']);
    expect(p.states('server').at(-1)).toBe('CLOSE-WAIT');
    const release = p.events.find((e) => e.type === 'action' && e.action === 'release');
    expect(release).toMatchObject({ detail: expect.stringContaining('after 200 ms') });
  });

  it('delay: a segment queued behind a delayed one says so when captured, and its release is reported when it really leaves', () => {
    // issue 11 item 7: delay-fin with a client that keeps writing. The closed
    // server's RST waits behind its delayed FIN; it must not read as passed at capture.
    const p = new Playbook({ decider: oneRule((c) => c.from === 'server' && (c.flags & 0x01) !== 0, { kind: 'delay', ms: 1500, reorder: false }) });
    p.handshake();
    p.takeSends();
    p.now = 100;
    p.fromServer('FA', 1, 1); // delayed
    p.now = 300;
    p.fromClient('PA', 1, 1, 10); // the client keeps writing: passes at once
    p.fromServer('R', 2, 0); // the server (closed) answers with RST: queued
    expect(p.takeSends()).toEqual(['b PA']);
    const rst = p.events.find((e) => e.type === 'segment' && e.flags === 'R');
    expect(rst).toMatchObject({ t: 0.3, role: 'rst', verdict: 'pass', detail: 'queued behind 1 delayed segment' });
    // Nothing reached the client yet: it is still ESTAB.
    expect(p.states('client').at(-1)).toBe('ESTAB');
    p.advance(1299); // t = 1599 ms: the FIN (captured at 100 ms) still has 1 ms to wait
    expect(p.takeSends()).toEqual([]);
    expect(p.events.filter((e) => e.type === 'action')).toEqual([]);
    p.advance(1);
    expect(p.takeSends()).toEqual(['a FA', 'a R']);
    const releases = p.events.filter((e) => e.type === 'action' && e.action === 'release');
    expect(releases).toEqual([
      { type: 'action', t: 1.6, conn: 1, action: 'release', rule: 1, detail: 'released fin from server after 1500 ms' },
      { type: 'action', t: 1.6, conn: 1, action: 'release', detail: 'released rst from server after 1300 ms (queued behind a delayed segment)' },
    ]);
    // The client's changes happen at the release, not at capture.
    const client = p.events.filter((e) => e.type === 'state' && e.endpoint === 'client').slice(-2);
    expect(client).toMatchObject([
      { t: 1.6, from: 'ESTAB', to: 'CLOSE-WAIT' },
      { t: 1.6, from: 'CLOSE-WAIT', to: 'CLOSED' },
    ]);
    // The text log shows the wait too (not a bare pass), and when it ended.
    const log = new TextLogFormatter({ segments: true });
    const lines = p.events.map((e) => log.format(e)).filter((l): l is string => l !== undefined);
    expect(lines).toContain('+0.300s  #1 s→c  [R] seq=2 len=0 win=502  rst  queued behind 1 delayed segment');
    expect(lines).toContain('+1.600s  #1 RELEASE  released rst from server after 1300 ms (queued behind a delayed segment)');
    // And so does the pcapng comment on the captured packet.
    expect(commentFor(rst as SegmentEvent)).toBe('queued behind 1 delayed segment');
  });

  it('delay: a held segment let go behind a delay says it is queued, and is reported again when it leaves', () => {
    const p = new Playbook({ interactive: true, decider: oneRule((c) => c.role === 'data', { kind: 'delay', ms: 500, reorder: false }, 1) });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 10); // delayed 500 ms
    p.engine.onControl({ kind: 'hold-mode', on: true }, 0);
    p.fromClient('FA', 11, 1); // held by hand
    p.engine.onControl({ kind: 'release-first' }, 0);
    expect(p.takeSends()).toEqual([]);
    expect(p.events.filter((e) => e.type === 'action').map((e) => (e as { detail: string }).detail)).toEqual([
      'released fin from client, queued behind 1 delayed segment',
    ]);
    p.advance(500);
    expect(p.takeSends()).toEqual(['b PA', 'b FA']);
    expect(p.events.filter((e) => e.type === 'action').map((e) => (e as { detail: string }).detail).slice(1)).toEqual([
      'released data from client after 500 ms',
      'released fin from client after 500 ms (queued behind a delayed segment)',
    ]);
  });

  it('delay: once the queue has drained, later segments pass with no note', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'data', { kind: 'delay', ms: 50, reorder: false }, 1) });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 10);
    p.advance(50);
    p.fromClient('PA', 11, 1, 10);
    expect(p.takeSends()).toEqual(['b PA', 'b PA']);
    const last = p.events.filter((e) => e.type === 'segment').at(-1);
    expect(last).toMatchObject({ verdict: 'pass' });
    expect(last).not.toHaveProperty('detail');
    expect(p.events.filter((e) => e.type === 'action')).toHaveLength(1);
  });

  it('delay with reorder lets later segments overtake', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'data', { kind: 'delay', ms: 50, reorder: true }, 1) });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 10);
    p.fromClient('PA', 11, 1, 10);
    expect(p.takeSends()).toEqual(['b PA']);
    p.advance(50);
    expect(p.sendsRaw().map((s) => s.seq)).toEqual([CISN + 1]);
  });

  it('rst: forges RST|ACK with seq = the receiver\'s rcv_nxt, and the receiver is CLOSED', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'data' && c.from === 'client', { kind: 'rst', to: 'server', instead: true, seqOffset: 0 }) });
    p.handshake();
    p.fromClient('PA', 1, 1, 10); // replaced by a RST to the server
    const sends = p.sendsRaw().slice(3);
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ port: 'b', flags: 'RA', seq: CISN + 1, ack: SISN + 1 });
    expect(p.states('server').at(-1)).toBe('CLOSED');
    expect(p.states('client').at(-1)).toBe('ESTAB');
    expect(p.engine.stats.forged).toBe(1);
  });

  it('rst by hand to both ends uses each receiver\'s own numbers and the right ports', () => {
    const p = new Playbook();
    p.handshake();
    p.fromClient('PA', 1, 1, 5);
    p.fromServer('PA', 1, 6, 7);
    p.takeSends();
    p.engine.onControl({ kind: 'rst', conn: 1, to: 'both' }, 0);
    const s = p.sendsRaw();
    expect(s.map((x) => [x.port, x.flags, x.seq])).toEqual([
      ['a', 'RA', SISN + 8],
      ['b', 'RA', CISN + 6],
    ]);
    expect(p.states('client').at(-1)).toBe('CLOSED');
    expect(p.states('server').at(-1)).toBe('CLOSED');
  });

  it('rst with a sequence offset inside the window changes nothing (RFC 5961 challenge ACK)', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'data', { kind: 'rst', to: 'server', instead: false, seqOffset: 1 }) });
    p.handshake();
    p.fromClient('PA', 1, 1, 10);
    expect(p.states('server').at(-1)).toBe('ESTAB');
  });

  it('coalesce: the passive closer\'s pure ACK rides on its FIN; the client skips FIN-WAIT-2', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'ack-of-fin' && c.from === 'server', { kind: 'coalesce', windowMs: 400 }) });
    p.handshake();
    p.fromClient('FA', 1, 1);
    p.takeSends();
    p.fromServer('A', 1, 2); // held
    expect(p.takeSends()).toEqual([]);
    p.now += 200;
    p.fromClient('FA', 1, 1); // client retransmits its FIN (tail-loss probe)
    p.fromServer('A', 1, 2); // a second pure ACK of the same FIN: absorbed too
    p.now += 100;
    p.fromServer('FA', 1, 2);
    p.fromClient('A', 2, 2);
    expect(p.takeSends()).toEqual(['b FA', 'a FA', 'b A']);
    expect(p.states('client')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'TIME-WAIT']);
    expect(p.states('server')).toEqual(['SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    expect(p.engine.stats.coalesced).toBe(2);
  });

  it('coalesce: a different segment first releases the held ACK ahead of it, and says so', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'ack-of-fin' || c.role === 'ack', { kind: 'coalesce', windowMs: 400 }) });
    p.handshake();
    p.fromClient('FA', 1, 1);
    p.takeSends();
    p.fromServer('A', 1, 2); // held
    p.fromServer('PA', 1, 2, 10); // data, not the FIN: the ACK goes first
    expect(p.takeSends()).toEqual(['a A', 'a PA']);
    expect(p.events.find((e) => e.type === 'action' && e.action === 'release')).toMatchObject({ detail: 'released ack-of-fin from server: its FIN did not follow' });
    expect(p.engine.pendingCount()).toBe(0);
  });

  it('coalesce: releases the ACK when no FIN follows within the window', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'ack-of-fin', { kind: 'coalesce', windowMs: 400 }) });
    p.handshake();
    p.fromClient('FA', 1, 1);
    p.takeSends();
    p.fromServer('A', 1, 2);
    p.advance(399);
    expect(p.takeSends()).toEqual([]);
    p.advance(1);
    expect(p.takeSends()).toEqual(['a A']);
    expect(p.states('client').at(-1)).toBe('FIN-WAIT-2');
  });

  it('await-peer-fin: the FINs cross, both ends pass through CLOSING', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'fin' && c.from === 'client', { kind: 'await-peer-fin', timeoutMs: 2000 }, 1) });
    p.handshake();
    p.takeSends();
    p.fromClient('FA', 1, 1);
    expect(p.takeSends()).toEqual([]);
    p.fromServer('FA', 1, 1); // server closes on its own: its FIN does not ack the client's
    expect(p.takeSends()).toEqual(['b FA', 'a FA']);
    p.fromClient('A', 2, 2);
    p.fromServer('A', 2, 2);
    expect(p.states('client')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'CLOSING', 'TIME-WAIT']);
    expect(p.states('server')).toEqual(['SYN-RECV', 'ESTAB', 'FIN-WAIT-1', 'CLOSING', 'TIME-WAIT']);
  });

  it('blackhole: this and every later segment of the connection is dropped, both ways', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'data', { kind: 'blackhole' }, 1) });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 10);
    p.fromServer('PA', 1, 1, 10);
    p.fromClient('PA', 1, 1, 10);
    expect(p.takeSends()).toEqual([]);
    expect(p.engine.stats.dropped).toBe(3);
  });

  it("rules see the bytes the sender has sent so far, this segment included", () => {
    const p = new Playbook({ decider: oneRule((c) => c.from === 'client' && c.senderBytes >= 15, { kind: 'drop' }) });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 10); // 10 bytes so far: passes
    p.fromServer('PA', 1, 11, 10); // the server's bytes are its own: passes
    p.fromClient('PA', 11, 11, 10); // 20 bytes so far: dropped
    expect(p.takeSends()).toEqual(['b PA', 'a PA']);
  });

  it('duplicate sends a segment twice', () => {
    const p = new Playbook({ decider: oneRule((c) => c.role === 'data', { kind: 'duplicate' }) });
    p.handshake();
    p.takeSends();
    p.fromClient('PA', 1, 1, 10);
    expect(p.takeSends()).toEqual(['b PA', 'b PA']);
  });

  it('hold: headless passes with one warning; interactive waits for release by hand', () => {
    const headless = new Playbook({ decider: oneRule(() => true, { kind: 'hold' }) });
    headless.handshake();
    expect(headless.takeSends()).toHaveLength(3);
    expect(headless.events.filter((e) => e.type === 'warning')).toHaveLength(1);

    const p = new Playbook({ interactive: true });
    p.handshake();
    p.takeSends();
    p.engine.onControl({ kind: 'hold-mode', on: true }, 0);
    p.fromClient('PA', 1, 1, 10);
    p.fromClient('FA', 11, 1);
    expect(p.takeSends()).toEqual([]);
    expect(p.engine.pendingCount()).toBe(2);
    p.engine.onControl({ kind: 'release-first' }, 0);
    expect(p.takeSends()).toEqual(['b PA']);
    p.engine.onControl({ kind: 'drop-first-held' }, 0);
    expect(p.takeSends()).toEqual([]);
    expect(p.engine.pendingCount()).toBe(0);
    expect(p.states('client').at(-1)).toBe('FIN-WAIT-1');
    expect(p.states('server').at(-1)).toBe('ESTAB');
  });

  it('drop-next by hand drops exactly one segment of that direction', () => {
    const p = new Playbook();
    p.handshake();
    p.takeSends();
    p.engine.onControl({ kind: 'drop-next', conn: 1, dir: 's2c' }, 0);
    p.fromClient('PA', 1, 1, 10);
    p.fromServer('A', 1, 11);
    p.fromServer('A', 1, 11);
    expect(p.takeSends()).toEqual(['b PA', 'a A']);
  });

  it('a command given by hand with an id: the segment event carrying it out echoes the id, in queue order', () => {
    const p = new Playbook({ interactive: true });
    p.handshake();
    p.takeSends();
    p.engine.onControl({ kind: 'drop-next', conn: 1, dir: 'c2s', hand: 7 }, 0);
    p.engine.onControl({ kind: 'drop-next', conn: 1, dir: 'c2s', hand: 8 }, 0);
    p.engine.onControl({ kind: 'delay-next-fin', conn: 1, ms: 300, hand: 9 }, 0);
    p.fromServer('PA', 1, 1, 5);
    p.fromClient('PA', 1, 6, 10);
    p.fromClient('PA', 1, 6, 10);
    p.fromClient('FA', 1, 6);
    const segs = p.events.filter((e): e is SegmentEvent => e.type === 'segment').slice(3);
    expect(segs.map((e) => [e.from, e.verdict, e.hand])).toEqual([
      ['server', 'pass', undefined],
      ['client', 'drop', 7],
      ['client', 'drop', 8],
      ['client', 'delay', 9],
    ]);
    expect(segs[1]!.detail).toBe('by hand');
  });

  it('asks for a wake-up at the tracker\'s TIME-WAIT deadline and emits CLOSED then', () => {
    const p = new Playbook({ timeWaitMs: 1000 });
    p.handshake();
    p.fromClient('FA', 1, 1);
    p.fromServer('FA', 1, 2);
    p.fromClient('A', 2, 2);
    const wakes = p.outputs.filter((o) => o.kind === 'wake');
    expect(wakes.at(-1)).toMatchObject({ at: 1000 });
    p.advance(1000);
    expect(p.states('client').at(-1)).toBe('CLOSED');
  });
});

describe('engine: memory', () => {
  it('frees its per-connection state once the tracker forgets the connection', () => {
    const p = new Playbook({ timeWaitMs: 1000 });
    p.handshake();
    p.fromClient('FA', 1, 1);
    p.fromServer('FA', 1, 2);
    p.fromClient('A', 2, 2);
    expect(p.engine.connectionBytes(1)).toBeDefined();
    p.advance(1000); // TIME-WAIT ends: both CLOSED
    expect(p.states('client').at(-1)).toBe('CLOSED');
    p.advance(10_000); // the record lingers 10 s for late segments, then goes
    expect([...p.engine.connections()]).toHaveLength(0);
    expect(p.engine.connectionBytes(1)).toBeUndefined();
  });
});

describe('engine: nobody reading plain pass segments', () => {
  it('builds no segment event for a segment that simply passed, and every other event as before', () => {
    const all = new Playbook();
    const lean = new Playbook({ passSegments: false });
    for (const p of [all, lean]) {
      p.handshake();
      p.fromClient('PA', 1, 1, 100);
      p.fromServer('A', 1, 101);
      p.fromClient('FA', 101, 1);
      p.fromServer('A', 1, 102);
    }
    expect(lean.events.filter((e) => e.type === 'segment')).toEqual([]);
    expect(lean.events).toEqual(all.events.filter((e) => e.type !== 'segment'));
    expect(lean.takeSends()).toEqual(all.takeSends());
  });

  it('still reports a segment a rule acted on', () => {
    const p = new Playbook({ passSegments: false, decider: oneRule((c) => c.role === 'last-ack', { kind: 'drop' }) });
    p.handshake();
    p.fromClient('FA', 1, 1);
    p.fromServer('FA', 1, 2);
    p.fromClient('A', 2, 2);
    expect(p.events.filter((e) => e.type === 'segment').map((e) => (e as { verdict: string }).verdict)).toEqual(['drop']);
  });
});

describe('event bus', () => {
  it('knows whether any consumer reads plain pass segments', () => {
    const bus = new EventBus(() => 0);
    expect(bus.wantsPassSegments()).toBe(false);
    const offLog = bus.subscribe('log', () => {}, { passSegments: false });
    expect(bus.wantsPassSegments()).toBe(false);
    const offUi = bus.subscribe('ui', () => {});
    expect(bus.wantsPassSegments()).toBe(true);
    offUi();
    expect(bus.wantsPassSegments()).toBe(false);
    offLog();
  });

  it('reports a consumer that throws as a warning, detaches it, and keeps delivering', () => {
    const bus = new EventBus(() => 1.5);
    const got: TcpmitmEvent[] = [];
    bus.subscribe('bad', () => {
      throw new Error('boom');
    });
    bus.subscribe('good', (e) => got.push(e));
    bus.emit({ type: 'warning', t: 0, message: 'one' });
    bus.emit({ type: 'warning', t: 0, message: 'two' });
    expect(got.map((e) => (e as { message: string }).message)).toEqual([
      'one',
      'event consumer "bad" failed and was detached: boom',
      'two',
    ]);
    expect(bus.size).toBe(1);
  });
});
