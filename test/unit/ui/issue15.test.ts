// What the UI shows of what the tracker and the engine know (issue 15): one
// time base, absolute numbers on request (tcpdump -S), retransmissions and
// roles on the ladder, messages that go once their command is done, program
// output collapsed, a scrollable event pane, and tap's keys limited to what
// tap can do.

import { describe, expect, it } from 'vitest';
import { UiModel, handCountKey } from '../../../src/ui/model.js';
import { interpretKey, type KeyContext } from '../../../src/ui/keys.js';
import { applyUiActions, initialUiState, settleAwaiting, type UiView } from '../../../src/ui/ui-state.js';
import { ladderGeometry, ladderLines } from '../../../src/ui/ladder.js';
import { BatchBuilder, decodeBatch, decodeToParent, type UiEvent } from '../../../src/ui/protocol.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { connection, seg, st, start } from './fixtures/build.js';
import { endpointTimer, timersLines, type TimerSettings } from '../../../src/ui/timers.js';
import { fourWayClose, lastAckDropped } from './fixtures/closes.js';
import { EVENT_KINDS, connMatches, eventMatches, nextEventKind, type EventKind } from '../../../src/ui/filters.js';

const CISN = 3_000_000_000;
const SISN = 12_345;

/** A handshake whose SYNs carry their ISNs, then a FIN sent three times. */
const retransmittedFin: TcpmitmEvent[] = [
  start(0),
  connection(10),
  { ...seg(10, 'c2s', 'S', 0, 0, 0, 'syn'), isn: CISN },
  { ...seg(11, 's2c', 'SA', 0, 1, 0, 'syn-ack'), isn: SISN },
  seg(12, 'c2s', 'A', 1, 1, 0, 'handshake-ack'),
  seg(100, 'c2s', 'FA', 1, 1, 0, 'fin'),
  seg(300, 'c2s', 'FA', 1, 1, 0, 'retransmission'),
  seg(700, 'c2s', 'FA', 1, 1, 0, 'retransmission'),
  seg(701, 's2c', 'A', 1, 2, 0, 'ack-of-fin'),
];

function modelOf(evs: readonly TcpmitmEvent[]): UiModel {
  const m = new UiModel();
  for (const e of evs) m.apply(e);
  return m;
}

describe('the ladder shows what the tracker knows', () => {
  const m = modelOf(retransmittedFin);
  const row = m.conn(1)!;
  it('learns each side\'s ISN from its SYN', () => {
    expect(row.isn).toEqual({ client: CISN, server: SISN });
  });
  it('a retransmitted FIN says so, with which copy it is, in its own tone; roles the flags do not tell are written', () => {
    const lines = ladderLines(row.ladder, ladderGeometry(80), { originT: 0 });
    const fins = lines.filter((l) => l.text.includes('FA seq=1'));
    expect(fins.map((l) => /FA seq=1 ack=1 len=0( \S+ ?#?\d*)? ─/.exec(l.text)?.[1]?.trim())).toEqual([undefined, 'RETRANSMISSION #1', 'RETRANSMISSION #2']);
    expect(fins.map((l) => l.tone)).toEqual(['pass', 'retransmission', 'retransmission']);
    expect(lines.at(-1)!.text).toContain('A seq=1 ack=2 len=0 ack-of-fin');
  });
  it('absolute numbers (tcpdump -S) from the ISNs: seq from the sender\'s, ack from the receiver\'s', () => {
    const abs = ladderLines(row.ladder, ladderGeometry(100), { originT: 0, isn: row.isn }).map((l) => l.text);
    expect(abs[0]).toContain(`S seq=${CISN} len=0`);
    expect(abs[1]).toContain(`SA seq=${SISN} ack=${CISN + 1} len=0`);
    expect(abs.at(-1)).toContain(`A seq=${SISN + 1} ack=${CISN + 2} len=0`);
    // 2^32 wraps: 3e9 + 2e9 is past it.
    const wrapped = ladderLines(row.ladder, ladderGeometry(100), { originT: 0, isn: { client: 4_294_967_295, server: 0 } }).map((l) => l.text);
    expect(wrapped[2]).toContain('A seq=0 ack=1 len=0');
  });
  it('times count from the run\'s start', () => {
    const wide = ladderLines(row.ladder, ladderGeometry(120), { originT: 0 }).map((l) => l.text);
    expect(wide[0]!.startsWith('   0.010 ')).toBe(true);
  });
  it('a SYN with its ISN crosses the UI\'s batch whole, in order', () => {
    const b = new BatchBuilder();
    for (const e of retransmittedFin) b.add(e);
    const out: UiEvent[] = [];
    decodeBatch(b.take(), (e) => out.push(e));
    expect(out).toEqual(retransmittedFin);
  });
});

const ctx: KeyContext = { mode: 'normal', selectedConn: 4, holdOn: false };

describe('keys', () => {
  it('S switches relative / absolute numbers and says which', () => {
    expect(interpretKey('S', {}, ctx).ui).toEqual([{ type: 'absolute', on: true }, { type: 'message', text: 'absolute sequence numbers (as tcpdump -S)' }]);
    expect(interpretKey('S', {}, { ...ctx, absolute: true }).ui[0]).toEqual({ type: 'absolute', on: false });
  });
  it('a RST to a CLOSED end is not sent: the message says why, and b resets only the end still open', () => {
    const closed = { ...ctx, selectedStates: { client: 'CLOSED', server: 'CLOSED' } } as const;
    for (const k of ['r', 'R', 'b']) expect(interpretKey(k, {}, closed).commands).toEqual([]);
    expect(interpretKey('b', {}, closed).ui).toEqual([{ type: 'message', text: '#4 is closed on both ends: there is no connection left to reset' }]);
    expect(interpretKey('R', {}, closed).ui).toEqual([{ type: 'message', text: 'the server of #4 is CLOSED: there is no connection left to reset' }]);
    const half = { ...ctx, selectedStates: { client: 'TIME-WAIT', server: 'CLOSED' } } as const;
    expect(interpretKey('b', {}, half)).toEqual({
      commands: [{ kind: 'rst', conn: 4, to: 'client' }],
      ui: [{ type: 'message', text: 'RST to the client only: the server of #4 is CLOSED' }],
    });
  });
  it('tap: the keys that act on segments are refused with a word on why, RSTs and the rest still work', () => {
    const tap = { ...ctx, inline: false };
    for (const k of ['d', 'f', 'h', ' ', 'x', 'a']) {
      const r = interpretKey(k, {}, tap);
      expect(r.commands).toEqual([]);
      expect(r.ui).toEqual([{ type: 'message', text: expect.stringMatching(/^tap watches beside the path: it cannot drop, delay or hold/) }]);
    }
    expect(interpretKey('r', {}, tap).commands).toEqual([{ kind: 'rst', conn: 4, to: 'client' }]);
  });
});

describe('status lines that go once done', () => {
  const view: UiView = { connIds: [4], ladderBase: 0, ladderCount: 0, ladderRows: 5 };
  it('"dropping the next segment…" stays until the engine has dropped it, then goes', () => {
    const m = modelOf([start(0), connection(1, 4)]);
    const v = { ...view, handCount: (k: string) => m.handCount(k) };
    const keys = interpretKey('c', {}, { ...ctx, mode: 'drop-dir' });
    expect(keys.commands).toEqual([{ kind: 'drop-next', conn: 4, dir: 'c2s' }]);
    let s = applyUiActions(initialUiState(undefined), keys.ui, v);
    expect(s.message).toBe('dropping the next segment from the client…');
    // A segment of the other direction, or dropped by a rule, is not it.
    m.apply(seg(5, 's2c', 'A', 1, 1, 0, 'ack', 'drop', { conn: 4, detail: 'by hand' }));
    m.apply(seg(6, 'c2s', 'A', 1, 1, 0, 'ack', 'drop', { conn: 4, rule: 1 }));
    s = settleAwaiting(s, (k) => m.handCount(k));
    expect(s.message).toBe('dropping the next segment from the client…');
    m.apply(seg(7, 'c2s', 'A', 1, 1, 0, 'ack', 'drop', { conn: 4, detail: 'by hand' }));
    expect(m.handCount(handCountKey('drop', 4, 'c2s'))).toBe(1);
    s = settleAwaiting(s, (k) => m.handCount(k));
    expect(s.message).toBeUndefined();
    expect(s.awaiting).toBeUndefined();
  });
  it('the FIN delay\'s line goes once a FIN is delayed', () => {
    const m = modelOf([start(0), connection(1, 4)]);
    const v = { ...view, handCount: (k: string) => m.handCount(k) };
    let s = applyUiActions(initialUiState(undefined), interpretKey('', { return: true }, { ...ctx, mode: 'fin-ms', finBuffer: '300' }).ui, v);
    expect(s.message).toBe('delaying the next FIN by 300 ms…');
    m.apply(seg(9, 's2c', 'FA', 1, 1, 0, 'fin', 'delay', { conn: 4, detail: '300 ms' }));
    s = settleAwaiting(s, (k) => m.handCount(k));
    expect(s.message).toBeUndefined();
  });
});

describe('the event pane', () => {
  it('a run of the same program output is one line, counted; another event breaks the run', () => {
    const app = (t: number, detail: string): TcpmitmEvent => ({ type: 'app', t, endpoint: 'client', event: 'sent', detail });
    const m = modelOf([start(0), app(50, '10 bytes'), app(100, '20 bytes'), app(150, '30 bytes'), st(160, 'client', 'ESTAB', 'FIN-WAIT-1'), app(200, '40 bytes')]);
    const lines = m.events.map((e) => [e.text, e.repeat, e.t]);
    expect(lines.slice(1)).toEqual([
      ['client app: sent (30 bytes)', 3, 150],
      ['#1 client ESTAB → FIN-WAIT-1', 1, 160],
      ['client app: sent (40 bytes)', 1, 200],
    ]);
  });
  it('[ scrolls back a page and stays there while lines arrive; ] past the newest follows again', () => {
    const m = new UiModel({ maxEvents: 50 });
    for (let i = 0; i < 40; i++) m.apply({ type: 'warning', t: i, message: `w${i}` });
    const view = (): UiView => ({ connIds: [], ladderBase: 0, ladderCount: 0, ladderRows: 5, eventsBase: m.eventsBase, eventsCount: m.events.length, eventRows: 10 });
    let s = applyUiActions(initialUiState(undefined), interpretKey('[', {}, ctx).ui, view());
    expect(s.eventsTop).toBe(20);
    for (let i = 40; i < 45; i++) m.apply({ type: 'warning', t: i, message: `w${i}` });
    expect(s.eventsTop).toBe(20);
    s = applyUiActions(s, interpretKey(']', {}, ctx).ui, view());
    expect(s.eventsTop).toBe(30);
    s = applyUiActions(s, interpretKey(']', {}, ctx).ui, view());
    expect(s.eventsTop).toBeUndefined();
  });
});

describe('protocol', () => {
  it('the child says when its first frame is up', () => {
    expect(decodeToParent({ kind: 'shown' })).toEqual({ kind: 'shown' });
  });
});

describe('filters', () => {
  const m = modelOf([
    start(0),
    connection(1, 1),
    st(2, 'client', 'CLOSED', 'SYN-SENT', undefined, 'inferred', 1),
    { type: 'connection', t: 3, conn: 2, client: '198.18.0.1:40002', server: '198.18.0.2:9090', pickedUp: false },
    st(4, 'client', 'ESTAB', 'FIN-WAIT-2', undefined, 'inferred', 2),
    st(5, 'server', 'ESTAB', 'CLOSE-WAIT', undefined, 'kernel', 2),
  ]);
  const ids = (f: string) => m.conns.filter((r) => connMatches(r, f)).map((r) => r.conn);
  it('by connection, port, state (either end, inferred or kernel, any spelling), endpoint and address', () => {
    expect(ids('#2')).toEqual([2]);
    expect(ids('8080')).toEqual([1]);
    expect(ids('9090')).toEqual([2]);
    expect(ids('syn_sent')).toEqual([1]);
    expect(ids('CLOSE-WAIT')).toEqual([2]);
    expect(ids('client=FIN-WAIT-2')).toEqual([2]);
    expect(ids('server=FIN-WAIT-2')).toEqual([]);
    expect(ids('198.18.0.1:40002')).toEqual([2]);
    // Every word must match.
    expect(ids('9090 SYN-SENT')).toEqual([]);
    expect(ids('')).toEqual([1, 2]);
  });
  it('events by kind, e cycling through them back to all', () => {
    const kinds = m.events.map((e) => EVENT_KINDS.filter((k) => k !== 'all' && eventMatches(e, k)));
    expect(kinds.slice(-2)).toEqual([['states'], ['states']]);
    let k: EventKind = 'all';
    const seen: EventKind[] = [];
    for (let i = 0; i < EVENT_KINDS.length; i++) seen.push((k = nextEventKind(k)));
    expect(seen).toEqual(['states', 'actions', 'app', 'checks', 'all']);
  });
  it('/ types a filter, Enter applies it, Esc keeps the one in force', () => {
    let s = applyUiActions(initialUiState(undefined), interpretKey('/', {}, ctx).ui, { connIds: [], ladderBase: 0, ladderCount: 0, ladderRows: 3 });
    expect(s.mode).toBe('filter');
    for (const ch of '8080') s = applyUiActions(s, interpretKey(ch, {}, { ...ctx, mode: 'filter', filterBuffer: s.filterBuffer }).ui, { connIds: [], ladderBase: 0, ladderCount: 0, ladderRows: 3 });
    s = applyUiActions(s, interpretKey('', { return: true }, { ...ctx, mode: 'filter', filterBuffer: s.filterBuffer }).ui, { connIds: [], ladderBase: 0, ladderCount: 0, ladderRows: 3 });
    expect([s.mode, s.connFilter]).toEqual(['normal', '8080']);
    expect(interpretKey('', { escape: true }, { ...ctx, mode: 'filter', filterBuffer: 'x' }).ui).toEqual([{ type: 'mode', mode: 'normal' }]);
  });
});

describe('timers, like ss -o, from the inference', () => {
  const settings: TimerSettings = { timeWaitMs: 60_000, finTimeoutMs: { client: 60_000, server: 30_000 } };
  it('a FIN sent again: the count so far and the next copy due when the back-off doubles; TIME-WAIT\'s 2MSL left', () => {
    // The last ACK dropped twice: the server's FIN at 102, again at 310 (208 ms later), again at 720.
    const m = modelOf(lastAckDropped.slice(0, -3));
    const row = m.conn(1)!;
    expect(row.resent.server).toEqual({ what: 'FIN', count: 1, t: 310, gap: 208 });
    expect(endpointTimer(row, 'server', 400, settings)).toBe('FIN ×1, next ≈0.3s');
    expect(endpointTimer(row, 'server', 800, settings)).toBe('FIN ×1, next overdue 0.1s');
    expect(endpointTimer(row, 'client', 10_102, settings)).toBe('TIME-WAIT 50.0s left');
    expect(timersLines(row, 400, settings, 200)).toEqual(['timers: client TIME-WAIT 59.7s left (inferred) · server FIN ×1, next ≈0.3s (inferred)']);
    const later = modelOf(lastAckDropped.slice(0, -1)).conn(1)!;
    expect(later.resent.server).toMatchObject({ count: 2, gap: 410 });
  });
  it('nothing pending, nothing said; the retransmissions stop counting once the state moved on', () => {
    const done = modelOf(lastAckDropped).conn(1)!;
    expect(endpointTimer(done, 'server', 800, settings)).toBe('');
    expect(timersLines(modelOf(fourWayClose).conn(1)!, 70_000, settings, 200)).toEqual([]);
  });
  it('FIN-WAIT-2: how long, against the orphan timeout of that end', () => {
    const m = modelOf(fourWayClose.slice(0, fourWayClose.findIndex((e) => e.type === 'state' && e.to === 'FIN-WAIT-2') + 1));
    expect(endpointTimer(m.conn(1)!, 'client', 2101, settings)).toBe('FIN-WAIT-2 for 2.0s (orphan timeout 60s)');
  });
});

describe('the filter prompt under fast typing', () => {
  it('keys that arrive as one input, Backspaces among them, apply one by one', () => {
    const f = (input: string, buf: string) => interpretKey(input, {}, { ...ctx, mode: 'filter', filterBuffer: buf }).ui;
    expect(f('\u007f\u007f\u007f\u007f8080', '9999')).toEqual([{ type: 'filter-buffer', value: '8080' }]);
    expect(f('80', '')).toEqual([{ type: 'filter-buffer', value: '80' }]);
    expect(f('\u007f', '')).toEqual([]);
  });
});

describe('TCP options on request', () => {
  const withOptions: TcpmitmEvent[] = [
    start(0),
    connection(1),
    { ...seg(1, 'c2s', 'S', 0, 0, 0, 'syn'), options: 'mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7' },
    { ...seg(2, 's2c', 'SA', 0, 1, 0, 'syn-ack'), options: 'mss 1460,nop,wscale 7' },
  ];
  it('cross the UI batch, and show on the ladder only when asked for', () => {
    const b = new BatchBuilder();
    for (const e of withOptions) b.add(e);
    const out: UiEvent[] = [];
    decodeBatch(b.take(), (e) => out.push(e));
    expect(out).toEqual(withOptions);
    const m = modelOf(out);
    expect(m.sawOptions).toBe(true);
    const row = m.conn(1)!;
    const shown = ladderLines(row.ladder, ladderGeometry(160), { originT: 0, options: true }).map((l) => l.text);
    expect(shown[0]).toContain('S seq=0 len=0 [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7] ─');
    expect(ladderLines(row.ladder, ladderGeometry(160), { originT: 0 })[0]!.text).not.toContain('mss');
  });
  it('o toggles them; without --tcp-options it says how to get them', () => {
    expect(interpretKey('o', {}, ctx).ui).toEqual([{ type: 'message', text: 'no segment carries its TCP options in this run: start it with --tcp-options' }]);
    expect(interpretKey('o', {}, { ...ctx, optionsRead: true }).ui[0]).toEqual({ type: 'options', on: true });
    expect(interpretKey('o', {}, { ...ctx, optionsRead: true, options: true }).ui[0]).toEqual({ type: 'options', on: false });
  });
});
