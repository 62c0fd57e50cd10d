import { describe, expect, it } from 'vitest';
import { UiModel } from '../../../src/ui/model.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import {
  coalescedClose,
  established,
  fourWayClose,
  holdAndRelease,
  holdDrop,
  holdRelease,
  kernelDisagreement,
  lastAckDropped,
} from './fixtures/closes.js';
import { seg, st, start } from './fixtures/build.js';

function model(...seqs: (readonly TcpmitmEvent[])[]): UiModel {
  const m = new UiModel();
  for (const evs of seqs) for (const e of evs) m.apply(e);
  return m;
}

describe('UiModel connections', () => {
  it('tracks both endpoints through a four-way close', () => {
    const m = model(fourWayClose);
    const r = m.conn(1)!;
    expect(r.client).toBe('198.18.0.1:43210');
    expect(r.server).toBe('198.18.0.2:8080');
    expect(r.inferred).toEqual({ client: 'CLOSED', server: 'CLOSED' });
    expect(r.bytes).toEqual({ c2s: 5, s2c: 5 });
    expect(r.ladder.filter((e) => e.kind === 'seg')).toHaveLength(10);
    expect(m.frames).toBe(10); // no stats event: counted from segments
  });

  it('marks a disagreement reported by the probe and clears it when they agree again', () => {
    const m = model(kernelDisagreement);
    const r = m.conn(2)!;
    expect(r.disagree).toEqual({ client: true, server: false });
    expect(r.kernel.client).toBe('TIME-WAIT');
    expect(r.inferred.client).toBe('FIN-WAIT-2');
    expect(m.conn(1)!.disagree).toEqual({ client: false, server: false });
    m.apply(st(2000, 'client', 'FIN-WAIT-2', 'TIME-WAIT', 'delivered FIN seq=6', 'inferred', 2));
    expect(r.disagree.client).toBe(false);
  });

  it('shows a lag the kernel explains as a kernel line, not as a disagreement', () => {
    const m = model(kernelDisagreement.slice(0, -1));
    m.apply({ type: 'lag', t: 1950, conn: 2, endpoint: 'client', state: 'FIN-WAIT-1', kernelT: 1.9, inferredT: 1.95, ms: 50, reason: 'close() queued the FIN behind unsent data' });
    expect(m.conn(2)!.disagree.client).toBe(false);
    expect(m.events.at(-1)).toMatchObject({ tone: 'kernel', text: '#2 client: kernel reached FIN-WAIT-1 50 ms before the wire (close() queued the FIN behind unsent data)' });
  });

  it('does not treat a transient kernel lag as a disagreement (only the probe says so)', () => {
    const m = model(kernelDisagreement.slice(0, -1));
    expect(m.conn(2)!.disagree.client).toBe(false);
    expect(m.conn(2)!.kernel.client).toBe('TIME-WAIT');
  });
});

describe('UiModel counters', () => {
  it('counts a drop once although segment and action both report it', () => {
    expect(model(lastAckDropped).counters.dropped).toBe(2);
  });
  it('counts a coalesce once; the held ACK ends as coalesced, not waiting', () => {
    const m = model(coalescedClose);
    expect(m.counters.coalesced).toBe(1);
    expect(m.heldNow).toBe(0);
    const ack = m.conn(1)!.ladder.find((e) => e.kind === 'seg' && e.role === 'ack-of-fin')!;
    expect(ack.kind === 'seg' && ack.outcome).toBe('coalesce');
  });
  it('counts a replayed copy once, from its segment; a replay given up at the end is not one', () => {
    const copy = seg(2000, 'c2s', 'PA', 1, 1, 100, 'data', 'replay', { detail: 'captured 2000 ms ago, original seq=1001', rule: 1 });
    const act: TcpmitmEvent = { type: 'action', t: 2000, conn: 1, rule: 1, action: 'replay', detail: 'replayed data from client of #1 into #1 (seq=1001 len=100)' };
    const unused: TcpmitmEvent = { type: 'action', t: 3000, conn: 1, rule: 2, action: 'replay', detail: 'not replayed: ack from server of #1 (no next connection on its 4-tuple came)' };
    const m = model([start(), ...established()], [copy, act, unused]);
    expect(m.counters.replayed).toBe(1);
    // The copy is tcpmitm's, not bytes the client sent.
    expect(m.conn(1)!.bytes.c2s).toBe(5);
  });
  it('pairs a forged RST whichever of action and segment comes first', () => {
    const rst = seg(50, 'c2s', 'R', 7, 0, 0, 'rst', 'forged', { detail: 'to server' });
    const act: TcpmitmEvent = { type: 'action', t: 50, conn: 1, action: 'rst', detail: 'forged RST to server seq=7' };
    expect(model([start(), ...established()], [act, rst]).counters.forged).toBe(1);
    expect(model([start(), ...established()], [rst, act]).counters.forged).toBe(1);
    // Two separate RSTs a second apart are two.
    expect(model([start(), ...established()], [rst, act, { ...rst, t: 1050 }, { ...act, t: 1050 }]).counters.forged).toBe(2);
    // The forged segment's length is not the client's traffic.
    expect(model([start(), ...established()], [rst]).conn(1)!.bytes.c2s).toBe(5);
  });
  it('takes rates from consecutive stats events', () => {
    const s = (t: number, frames: number, bytes: number): TcpmitmEvent => ({
      type: 'stats', t, frames, bytes, malformed: 0, nonTcp: 0, dropped: 0, delayed: 0, forged: 0, coalesced: 0, held: 0, duplicated: 0,
      tracked: frames / 100, evictedHalfOpen: 3, evictedPickedUp: 2, evictedClosed: 1, expired: 7, untracked: 4,
    });
    const m = model([start(), s(1000, 100, 10_000), s(3000, 2100, 1_010_000)]);
    expect(m.framesPerSec).toBe(1000);
    expect(m.bytesPerSec).toBe(500_000);
    expect(m.frames).toBe(2100);
    // The connection table as the latest stats event gives it: evictions of every kind summed.
    expect(m.table).toEqual({ tracked: 21, evicted: 6, untracked: 4 });
  });
});

describe('UiModel hold mode', () => {
  it('shows held segments as waiting', () => {
    const m = model(holdAndRelease);
    const r = m.conn(1)!;
    expect(m.heldNow).toBe(2);
    expect(r.waiting.map((w) => w.role)).toEqual(['fin', 'retransmission']);
    expect(m.counters.held).toBe(2);
  });
  it('an echo of a released segment (segment event after the action) adds no arrow', () => {
    const m = model(holdAndRelease, holdRelease, [seg(2000, 'c2s', 'FA', 6, 6, 0, 'fin', 'pass', { detail: 'released' })]);
    expect(m.conn(1)!.ladder.filter((e) => e.kind === 'seg' && e.flags === 'FA')).toHaveLength(2);
    expect(m.heldNow).toBe(1);
  });
  it('a delayed segment delivered later does not release a held one', () => {
    const m = model(holdAndRelease, [{ type: 'action', t: 400, conn: 1, action: 'release', detail: 'released data from server after 200 ms' }]);
    expect(m.heldNow).toBe(2);
  });
  it('release: the named segment leaves and the state change it caused lands on it', () => {
    const m = model(holdAndRelease, holdRelease);
    const r = m.conn(1)!;
    expect(m.heldNow).toBe(1);
    const fin = r.ladder.find((e) => e.kind === 'seg' && e.role === 'fin')!;
    expect(fin.kind === 'seg' && fin.held).toBe('released');
    expect(fin.kind === 'seg' && fin.serverState).toBe('CLOSE-WAIT');
    expect(r.ladder.filter((e) => e.kind === 'seg' && e.flags === 'FA')).toHaveLength(2);
    expect(r.bytes.c2s).toBe(5);
  });
  it('drop of the first held counts a drop', () => {
    const m = model(holdAndRelease, holdRelease, holdDrop);
    expect(m.heldNow).toBe(0);
    expect(m.counters.dropped).toBe(1);
    const rtx = m.conn(1)!.ladder.find((e) => e.kind === 'seg' && e.role === 'retransmission')!;
    expect(rtx.kind === 'seg' && rtx.held).toBe('dropped');
  });
  it('a segment event alone (no action) also resolves a held one', () => {
    const m = model(holdAndRelease, [seg(2000, 'c2s', 'FA', 6, 6, 0, 'fin', 'pass')]);
    expect(m.heldNow).toBe(1);
    expect(m.conn(1)!.waiting[0]!.role).toBe('retransmission');
  });
});

describe('UiModel bounds', () => {
  it('keeps the event list bounded', () => {
    const m = new UiModel({ maxEvents: 10 });
    for (let i = 0; i < 1000; i++) m.apply({ type: 'warning', t: i, message: `w${i}` });
    expect(m.events.length).toBeLessThanOrEqual(20);
    expect(m.recentEvents(5).map((e) => e.text)).toEqual(['w995', 'w996', 'w997', 'w998', 'w999']);
  });
  it('trims old ladder entries and keeps absolute indexes', () => {
    const m = new UiModel({ maxLadder: 100 });
    for (let i = 0; i < 1000; i++) m.apply(seg(i, 'c2s', 'PA', 1 + i * 10, 1, 10, 'data'));
    const r = m.conn(1)!;
    expect(r.ladder.length).toBeLessThanOrEqual(100);
    expect(UiModel.ladderEnd(r)).toBe(1000);
    const first = r.ladder[0]!;
    expect(first.kind === 'seg' && first.seq).toBe(1 + r.ladderBase * 10);
    expect(r.bytes.c2s).toBe(10_000);
  });
  it('forgets the oldest closed connection beyond the cap', () => {
    const m = new UiModel({ maxConnections: 2 });
    m.apply({ type: 'connection', t: 0, conn: 1, client: 'a:1', server: 'b:2', pickedUp: false });
    m.apply(st(1, 'client', 'TIME-WAIT', 'CLOSED', 'timer 2MSL', 'inferred', 1));
    m.apply(st(1, 'server', 'LAST-ACK', 'CLOSED', undefined, 'inferred', 1));
    m.apply({ type: 'connection', t: 2, conn: 2, client: 'a:3', server: 'b:2', pickedUp: false });
    m.apply({ type: 'connection', t: 3, conn: 3, client: 'a:4', server: 'b:2', pickedUp: false });
    expect(m.conns.map((r) => r.conn)).toEqual([2, 3]);
  });
  it('applies 100k segment events quickly', () => {
    const m = new UiModel();
    const evs = Array.from({ length: 100_000 }, (_, i) => seg(i, i % 2 ? 's2c' : 'c2s', 'PA', i, i, 100, 'data', 'pass', { conn: i % 50 }));
    const t0 = performance.now();
    for (const e of evs) m.apply(e);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('a refused connection', () => {
  it('has no server side: the row says refused once the client learns ECONNREFUSED', async () => {
    const { REFUSED_CAUSE } = await import('../../../src/tcp/cause.js');
    const m = new UiModel();
    m.apply({ type: 'connection', t: 0, conn: 1, client: '198.18.0.1:43210', server: '198.18.0.2:9', pickedUp: false });
    m.apply({ type: 'state', t: 1, conn: 1, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT', source: 'inferred', cause: 'sent SYN seq=0' });
    expect(m.conn(1)!.refused).toBe(false);
    m.apply({ type: 'state', t: 2, conn: 1, endpoint: 'client', from: 'SYN-SENT', to: 'CLOSED', source: 'inferred', cause: `delivered RST+ACK seq=0 ack=1 (${REFUSED_CAUSE})` });
    expect(m.conn(1)).toMatchObject({ refused: true, inferred: { client: 'CLOSED', server: undefined } });
  });
});

describe('UiModel and cues', () => {
  it('a signal about no connection (a time trigger since the run) is an event line, not a connection #0', () => {
    const m = model([{ type: 'action', t: 0.5, conn: 0, rule: 1, action: 'signal', detail: "sent SIGUSR1 to the client's program (pid 7, built-in client) on rule 1" }]);
    expect(m.conn(0)).toBeUndefined();
    expect(m.events.at(-1)?.text).toBe("signal: sent SIGUSR1 to the client's program (pid 7, built-in client) on rule 1");
  });
});
