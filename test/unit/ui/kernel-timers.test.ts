// The kernel's timers on the UI's timers line (issue 15): what a sock_diag
// answer means (as `ss -o` prints it), when the reader reads, which sockets
// the UI asks for, how the kernel's timer and the inference's share the
// line, and data segments sent again, counted from the segment events.

import { describe, expect, it } from 'vitest';
import { MAX_WATCHED, MIN_READ_GAP_MS, READ_PERIOD_MS, boundWatch, expiresOf, nextReadInMs, timerOf, type KernelSocketTimer, type WatchedSocket } from '../../../src/io/kernel-timers.js';
import { KERNEL_FRESH_MS, endpointTimer, kernelTimerText, timersLines, watchedSockets, type TimerSettings } from '../../../src/ui/timers.js';
import { UiModel, type KernelTimerEntry } from '../../../src/ui/model.js';
import { BatchBuilder, decodeBatch, decodeToParent, type UiEvent } from '../../../src/ui/protocol.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { CLIENT, SERVER, connection, seg, st, start } from './fixtures/build.js';

const settings: TimerSettings = { timeWaitMs: 60_000, finTimeoutMs: { client: 60_000, server: 60_000 } };

function modelOf(evs: readonly UiEvent[]): UiModel {
  const m = new UiModel();
  for (const e of evs) m.apply(e);
  return m;
}

const established: TcpmitmEvent[] = [
  start(0),
  connection(10),
  seg(10, 'c2s', 'S', 0, 0, 0, 'syn'),
  st(10, 'client', 'CLOSED', 'SYN-SENT'),
  seg(11, 's2c', 'SA', 0, 1, 0, 'syn-ack'),
  st(11, 'server', 'LISTEN', 'SYN-RECV'),
  seg(12, 'c2s', 'A', 1, 1, 0, 'handshake-ack'),
  st(12, 'client', 'SYN-SENT', 'ESTAB'),
  st(12, 'server', 'SYN-RECV', 'ESTAB'),
];

describe('a sock_diag answer, as ss -o reads it', () => {
  it('idiag_timer 1–4 are on, keepalive, timewait, persist; 0 and unknown codes are no timer', () => {
    expect(timerOf(1, 1600, 2)).toEqual({ kind: 'on', expiresMs: 1600, count: 2 });
    expect(timerOf(2, 7_200_000, 0)).toEqual({ kind: 'keepalive', expiresMs: 7_200_000, count: 0 });
    expect(timerOf(3, 57_000, 0)).toEqual({ kind: 'timewait', expiresMs: 57_000, count: 0 });
    expect(timerOf(4, 400, 1)).toEqual({ kind: 'persist', expiresMs: 400, count: 1 });
    expect(timerOf(0, 0, 0)).toBeUndefined();
    expect(timerOf(5, 10, 0)).toBeUndefined();
  });
  it('an overdue timer that older kernels wrapped to ~2^32 ms is due now', () => {
    expect(expiresOf(0xffff_fff0)).toBe(0);
    expect(timerOf(1, 0xffff_ff00, 3)).toEqual({ kind: 'on', expiresMs: 0, count: 3 });
    expect(expiresOf(59_999)).toBe(59_999);
  });
});

describe('when the reader reads, and what', () => {
  const at = (timer: KernelSocketTimer['timer']): KernelSocketTimer => ({ conn: 1, endpoint: 'server', state: 'LAST-ACK', timer });
  it('once a second, or just after a timer fires, never closer than the minimum gap', () => {
    expect(nextReadInMs([])).toBe(READ_PERIOD_MS);
    expect(nextReadInMs([at(undefined)])).toBe(READ_PERIOD_MS);
    expect(nextReadInMs([at({ kind: 'timewait', expiresMs: 30_000, count: 0 })])).toBe(READ_PERIOD_MS);
    expect(nextReadInMs([at({ kind: 'keepalive', expiresMs: 500, count: 3 })])).toBe(530);
    expect(nextReadInMs([at({ kind: 'on', expiresMs: 400, count: 1 })])).toBe(430);
    expect(nextReadInMs([at({ kind: 'persist', expiresMs: 600, count: 0 }), at({ kind: 'on', expiresMs: 5000, count: 0 })])).toBe(630);
    expect(nextReadInMs([at({ kind: 'on', expiresMs: 10, count: 1 })])).toBe(MIN_READ_GAP_MS);
  });
  it('at most MAX_WATCHED sockets, one per connection endpoint, in the order given', () => {
    const w = (conn: number, endpoint: 'client' | 'server'): WatchedSocket => ({ conn, endpoint, local: 'a:1', remote: 'b:2' });
    expect(boundWatch([w(1, 'client'), w(1, 'client'), w(1, 'server')])).toEqual([w(1, 'client'), w(1, 'server')]);
    const many = Array.from({ length: 100 }, (_, i) => w(i, 'client'));
    expect(boundWatch(many)).toEqual(many.slice(0, MAX_WATCHED));
  });
  it('the UI asks for the shown connection\'s sockets, each as its own namespace names it, and none CLOSED in both views', () => {
    const row = modelOf(established).conn(1)!;
    expect(watchedSockets(row)).toEqual([
      { conn: 1, endpoint: 'client', local: CLIENT, remote: SERVER },
      { conn: 1, endpoint: 'server', local: SERVER, remote: CLIENT },
    ]);
    const closed = modelOf([...established, st(20, 'server', 'ESTAB', 'CLOSED'), st(21, 'server', 'ESTAB', 'CLOSED', undefined, 'kernel')]).conn(1)!;
    expect(watchedSockets(closed).map((w) => w.endpoint)).toEqual(['client']);
    // Inferred CLOSED but the kernel's socket still there: still watched.
    const lingering = modelOf([...established, st(20, 'server', 'ESTAB', 'CLOSED'), st(21, 'server', 'ESTAB', 'LAST-ACK', undefined, 'kernel')]).conn(1)!;
    expect(watchedSockets(lingering).map((w) => w.endpoint)).toEqual(['client', 'server']);
  });
  it('the watch crosses from the UI process to the run, checked', () => {
    const sockets = [{ conn: 1, endpoint: 'client', local: CLIENT, remote: SERVER }];
    expect(decodeToParent({ kind: 'watch', sockets })).toEqual({ kind: 'watch', sockets });
    expect(decodeToParent({ kind: 'watch', sockets: [{ conn: 1, endpoint: 'middle', local: CLIENT, remote: SERVER }] })).toBeUndefined();
    expect(decodeToParent({ kind: 'watch', sockets: 'all' })).toBeUndefined();
  });
  it('a read reaches the UI process in its batch, in order, and lands on the rows it names only', () => {
    const b = new BatchBuilder();
    const read: UiEvent = { type: 'kernel-timers', t: 30, sockets: [{ conn: 1, endpoint: 'server', state: 'LAST-ACK', timer: { kind: 'on', expiresMs: 400, count: 2 } }, { conn: 9, endpoint: 'client', state: 'ESTAB', timer: undefined }] };
    for (const e of established) b.add(e);
    b.add(read);
    const got: UiEvent[] = [];
    decodeBatch(b.take(), (e) => got.push(e));
    expect(got.at(-1)).toEqual(read);
    const m = modelOf(got);
    expect(m.conn(1)!.kernelTimers.server).toEqual({ t: 30, state: 'LAST-ACK', timer: { kind: 'on', expiresMs: 400, count: 2 } });
    expect(m.conn(9)).toBeUndefined();
  });
});

describe('the kernel\'s timer, counted down from its read', () => {
  const e = (state: KernelTimerEntry['state'], kind: 'on' | 'keepalive' | 'timewait' | 'persist', expiresMs: number, count = 0): KernelTimerEntry => ({ t: 1000, state, timer: { kind, expiresMs, count } });
  it('says what each timer waits for, in the words of the state it runs in', () => {
    expect(kernelTimerText(e('TIME-WAIT', 'timewait', 57_000), 1200)).toBe('TIME-WAIT 56.8s left');
    expect(kernelTimerText(e('FIN-WAIT-2', 'timewait', 58_000), 1000)).toBe('FIN-WAIT-2 orphan timeout in 58.0s');
    expect(kernelTimerText(e('FIN-WAIT-2', 'keepalive', 90_000), 1000)).toBe('FIN-WAIT-2 timeout in 90.0s');
    expect(kernelTimerText(e('ESTAB', 'keepalive', 7_200_000), 1000)).toBe('keepalive in 7200s');
    expect(kernelTimerText(e('ESTAB', 'keepalive', 1000, 1), 1000)).toBe('keepalive in 1.0s, 1 probe sent');
    expect(kernelTimerText(e('ESTAB', 'keepalive', 1000, 3), 1000)).toBe('keepalive in 1.0s, 3 probes sent');
    expect(kernelTimerText(e('LAST-ACK', 'on', 1600, 2), 1100)).toBe('retransmit ×2, next in 1.5s');
    expect(kernelTimerText(e('ESTAB', 'on', 204), 1000)).toBe('retransmit timer 0.2s');
    expect(kernelTimerText(e('SYN-SENT', 'on', 2000, 1), 1000)).toBe('SYN ×1, next in 2.0s');
    expect(kernelTimerText(e('SYN-RECV', 'on', 1000), 1000)).toBe('SYN-ACK timer 1.0s');
    expect(kernelTimerText(e('ESTAB', 'persist', 400, 1), 1000)).toBe('window probe ×1 in 0.4s');
  });
  it('never below zero; nothing for no timer, no socket or a stale read', () => {
    expect(kernelTimerText(e('LAST-ACK', 'on', 100, 1), 1500)).toBe('retransmit ×1, next in 0.0s');
    expect(kernelTimerText({ t: 1000, state: 'ESTAB', timer: undefined }, 1000)).toBe('');
    expect(kernelTimerText({ t: 1000, state: undefined, timer: undefined }, 1000)).toBe('');
    expect(kernelTimerText(undefined, 1000)).toBe('');
    expect(kernelTimerText(e('TIME-WAIT', 'timewait', 57_000), 1000 + KERNEL_FRESH_MS + 1)).toBe('');
  });
});

describe('one timers line for both, marked', () => {
  // The client in TIME-WAIT, the server's FIN sent again once (the last ACK dropped).
  const closing: UiEvent[] = [
    ...established,
    seg(100, 'c2s', 'FA', 1, 1, 0, 'fin'),
    st(100, 'client', 'ESTAB', 'FIN-WAIT-1'),
    seg(101, 's2c', 'A', 1, 2, 0, 'ack-of-fin'),
    st(101, 'client', 'FIN-WAIT-1', 'FIN-WAIT-2'),
    st(101, 'server', 'ESTAB', 'CLOSE-WAIT'),
    seg(102, 's2c', 'FA', 1, 2, 0, 'fin'),
    st(102, 'server', 'CLOSE-WAIT', 'LAST-ACK'),
    st(102, 'client', 'FIN-WAIT-2', 'TIME-WAIT'),
    seg(103, 'c2s', 'A', 2, 2, 0, 'last-ack', 'drop'),
    seg(310, 's2c', 'FA', 1, 2, 0, 'retransmission'),
    seg(311, 'c2s', 'A', 2, 2, 0, 'last-ack', 'drop'),
  ];
  const kernelRead: UiEvent = {
    type: 'kernel-timers',
    t: 400,
    sockets: [
      { conn: 1, endpoint: 'client', state: 'TIME-WAIT', timer: { kind: 'timewait', expiresMs: 59_700, count: 0 } },
      { conn: 1, endpoint: 'server', state: 'LAST-ACK', timer: { kind: 'on', expiresMs: 420, count: 1 } },
    ],
  };
  it('the inferred alone without a kernel read', () => {
    expect(timersLines(modelOf(closing).conn(1)!, 400, settings, 200)).toEqual(['timers: client TIME-WAIT 59.7s left (inferred) · server FIN ×1, next ≈0.3s (inferred)']);
  });
  it('the kernel\'s first, the inferred beside it where there is room, else one line per endpoint', () => {
    const row = modelOf([...closing, kernelRead]).conn(1)!;
    expect(timersLines(row, 400, settings, 200)).toEqual([
      'timers: client TIME-WAIT 59.7s left (kernel); TIME-WAIT 59.7s left (inferred) · server retransmit ×1, next in 0.4s (kernel); FIN ×1, next ≈0.3s (inferred)',
    ]);
    expect(timersLines(row, 400, settings, 120)).toEqual([
      'timers: client TIME-WAIT 59.7s left (kernel); TIME-WAIT 59.7s left (inferred)',
      '        server retransmit ×1, next in 0.4s (kernel); FIN ×1, next ≈0.3s (inferred)',
    ]);
    const narrow = timersLines(row, 400, settings, 76);
    expect(narrow).toEqual(['timers: client TIME-WAIT 59.7s left (kernel)', '        server retransmit ×1, next in 0.4s (kernel)']);
    for (const l of narrow) expect([...l].length).toBeLessThanOrEqual(76);
  });
  it('a stale kernel read gives way to the inferred timer', () => {
    const row = modelOf([...closing, kernelRead]).conn(1)!;
    expect(timersLines(row, 400 + KERNEL_FRESH_MS + 100, settings, 200)).toEqual(['timers: client TIME-WAIT 56.6s left (inferred) · server FIN ×1, next overdue 2.8s (inferred)']);
  });
});

describe('data sent again, from the segment events', () => {
  const lost: UiEvent[] = [
    ...established,
    seg(100, 'c2s', 'PA', 1, 1, 10, 'data', 'drop'),
    seg(310, 'c2s', 'PA', 1, 1, 10, 'retransmission', 'drop'),
  ];
  it('the count so far; the next copy due from the second on, the wait doubling; gone once acknowledged', () => {
    let row = modelOf(lost).conn(1)!;
    expect(row.dataResent.client).toEqual({ seq: 1, end: 11, count: 1, t: 310, gap: undefined });
    expect(endpointTimer(row, 'client', 400, settings)).toBe('data ×1');
    row = modelOf([...lost, seg(730, 'c2s', 'PA', 1, 1, 10, 'retransmission')]).conn(1)!;
    expect(endpointTimer(row, 'client', 800, settings)).toBe('data ×2, next ≈0.8s');
    // An ACK short of its end does not end the wait; one that covers it does.
    row = modelOf([...lost, seg(730, 'c2s', 'PA', 1, 1, 10, 'retransmission'), seg(731, 's2c', 'A', 1, 1, 0, 'ack')]).conn(1)!;
    expect(row.dataResent.client).toBeDefined();
    row = modelOf([...lost, seg(730, 'c2s', 'PA', 1, 1, 10, 'retransmission'), seg(731, 's2c', 'A', 1, 11, 0, 'ack')]).conn(1)!;
    expect(row.dataResent.client).toBeUndefined();
    expect(endpointTimer(row, 'client', 800, settings)).toBe('');
  });
  it('a SYN or FIN sent again is counted as such, not as data', () => {
    const row = modelOf([...established, seg(100, 'c2s', 'FPA', 1, 1, 5, 'fin'), seg(300, 'c2s', 'FPA', 1, 1, 5, 'retransmission')]).conn(1)!;
    expect(row.dataResent.client).toBeUndefined();
    expect(row.resent.client).toMatchObject({ what: 'FIN', count: 1 });
  });
});
