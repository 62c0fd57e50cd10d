import { describe, expect, it } from 'vitest';
import { KernelJoin, type JoinOutput, type KernelObservation, type SendActivity } from '../../../src/engine/kernel-join.js';
import type { ConnectionEvent, StateEvent } from '../../../src/engine/events.js';
import type { TcpState } from '../../../src/tcp/state.js';

const C = '198.18.0.1:40000';
const S = '198.18.0.2:8080';
const connection = (conn = 1): ConnectionEvent => ({ type: 'connection', t: 0, conn, client: C, server: S, pickedUp: false });

function inferred(t: number, endpoint: 'client' | 'server', from: TcpState, to: TcpState, cause = 'sent FIN', conn = 1): StateEvent {
  return { type: 'state', t, conn, endpoint, from, to, source: 'inferred', cause };
}
function kernel(t: number, ns: 'client' | 'server', from: TcpState, to: TcpState, extra: Partial<KernelObservation> = {}): KernelObservation {
  return { ns, local: ns === 'client' ? C : S, remote: ns === 'client' ? S : C, from, to, t, ...extra };
}
const of = (outs: JoinOutput[], type: JoinOutput['type']) => outs.filter((o) => o.type === type);

/** The server accepted the connection and sent its FIN, in both views alike (FIN-WAIT-1 at 0.5 s). */
function serverFinWait1(j: KernelJoin): void {
    j.onEvent(connection());
    j.onKernel(kernel(0.01, 'server', 'LISTEN', 'SYN-RECV'));
    j.onKernel(kernel(0.011, 'server', 'SYN-RECV', 'ESTAB'));
    j.onEvent(inferred(0.01, 'server', 'LISTEN', 'SYN-RECV', 'received SYN'));
    j.onEvent(inferred(0.011, 'server', 'SYN-RECV', 'ESTAB', 'received ACK'));
    j.onKernel(kernel(0.5, 'server', 'ESTAB', 'FIN-WAIT-1'));
    j.onEvent(inferred(0.5, 'server', 'ESTAB', 'FIN-WAIT-1', 'sent FIN'));
}


describe('KernelJoin: routing', () => {
  it('maps a socket of either namespace to its connection and endpoint, also when seen before the connection', () => {
    const j = new KernelJoin();
    expect(j.onKernel(kernel(0.001, 'client', 'CLOSED', 'SYN-SENT'))).toEqual([]); // the SYN not captured yet
    expect(j.onEvent(connection())).toEqual([{ type: 'state', t: 0.001, conn: 1, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT', source: 'kernel' }]);
    expect(j.onKernel(kernel(0.01, 'server', 'LISTEN', 'SYN-RECV'))).toMatchObject([{ conn: 1, endpoint: 'server', from: 'LISTEN', to: 'SYN-RECV', source: 'kernel' }]);
  });

  it('a new socket on a tuple held in TIME-WAIT: the old connection ends, the new one gets the new socket, whichever event comes first', () => {
    const j = new KernelJoin();
    j.onEvent(connection(1));
    j.onKernel(kernel(0.01, 'server', 'LISTEN', 'SYN-RECV'));
    j.onKernel(kernel(0.01, 'server', 'SYN-RECV', 'ESTAB'));
    j.onKernel(kernel(0.02, 'server', 'ESTAB', 'FIN-WAIT-1'));
    j.onKernel(kernel(0.03, 'server', 'FIN-WAIT-1', 'TIME-WAIT'));
    j.onKernel(kernel(0.02, 'client', 'CLOSED', 'SYN-SENT'));
    j.onKernel(kernel(0.04, 'client', 'LAST-ACK', 'CLOSED'));
    // The client binds the same port and connects again: its new socket is read before conn 2 is known.
    expect(j.onKernel(kernel(1.0, 'client', 'CLOSED', 'SYN-SENT'))).toEqual([]);
    const atConn2 = j.onEvent({ ...connection(2), t: 1.0 });
    expect(atConn2).toMatchObject([{ conn: 2, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT' }]);
    // The server's TIME-WAIT ended at the SYN; the probe reports that first, then the new socket.
    expect(j.onKernel(kernel(1.001, 'server', 'TIME-WAIT', 'CLOSED', { since: 0.99 }))).toMatchObject([{ conn: 1, endpoint: 'server', from: 'TIME-WAIT', to: 'CLOSED' }]);
    expect(j.onKernel(kernel(1.001, 'server', 'LISTEN', 'SYN-RECV'))).toMatchObject([{ conn: 2, endpoint: 'server', from: 'LISTEN', to: 'SYN-RECV' }]);
    expect(j.onKernel(kernel(1.001, 'server', 'SYN-RECV', 'ESTAB'))).toMatchObject([{ conn: 2, endpoint: 'server', to: 'ESTAB' }]);
  });

  it('a TIME-WAIT reused by a SYN: its end goes to the old connection even when the tracker has forgotten that one already', () => {
    const j = new KernelJoin();
    j.onEvent(connection(1));
    j.onKernel(kernel(0.01, 'server', 'LISTEN', 'SYN-RECV'));
    j.onKernel(kernel(0.01, 'server', 'SYN-RECV', 'ESTAB'));
    j.onKernel(kernel(0.02, 'server', 'ESTAB', 'FIN-WAIT-1'));
    j.onKernel(kernel(0.03, 'server', 'FIN-WAIT-1', 'TIME-WAIT'));
    j.onEvent({ ...connection(2), t: 1.0 });
    // The tracker closed #1's server at the SYN and forgot #1 (both ends CLOSED); the prune comes before the probe's report.
    j.prune((conn) => conn !== 1);
    expect(j.onKernel(kernel(1.003, 'server', 'TIME-WAIT', 'CLOSED', { since: 0.99 }))).toMatchObject([{ conn: 1, endpoint: 'server', from: 'TIME-WAIT', to: 'CLOSED' }]);
    expect(j.onKernel(kernel(1.003, 'server', 'LISTEN', 'SYN-RECV'))).toMatchObject([{ conn: 2, endpoint: 'server', from: 'LISTEN', to: 'SYN-RECV' }]);
    // Ended: the next prune forgets #1.
    j.prune((conn) => conn !== 1);
    expect(j.size).toBe(2);
  });

  it('thousands of connections: a new connection\'s socket seen before its connection event still joins it; early-only tuples stay bounded', () => {
    const j = new KernelJoin();
    const client = (i: number) => `198.18.0.1:${10000 + i}`;
    for (let i = 0; i < 5000; i++) j.onEvent({ type: 'connection', t: 0, conn: i + 1, client: client(i), server: S, pickedUp: false });
    const early: KernelObservation = { ns: 'client', local: client(5000), remote: S, from: 'CLOSED', to: 'SYN-SENT', t: 1 };
    expect(j.onKernel(early)).toEqual([]);
    expect(j.onEvent({ type: 'connection', t: 1, conn: 5001, client: client(5000), server: S, pickedUp: false })).toMatchObject([{ conn: 5001, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT', source: 'kernel' }]);
    // Another lab's sockets (never joined): the oldest are dropped, the newest kept.
    for (let i = 0; i < 3000; i++) j.onKernel({ ns: 'server', local: S, remote: `198.18.0.9:${i + 1}`, from: 'LISTEN', to: 'SYN-RECV', t: 2 });
    expect(j.onEvent({ type: 'connection', t: 2, conn: 9000, client: '198.18.0.9:3000', server: S, pickedUp: false })).toMatchObject([{ conn: 9000, endpoint: 'server', from: 'LISTEN', to: 'SYN-RECV' }]);
    expect(j.onEvent({ type: 'connection', t: 2, conn: 9001, client: '198.18.0.9:1', server: S, pickedUp: false })).toEqual([]);
  });

  it('names the sockets the views differ on, for the probe to keep fresh', () => {
    const j = new KernelJoin();
    j.onEvent(connection());
    j.onKernel(kernel(0.01, 'server', 'LISTEN', 'SYN-RECV'));
    j.onKernel(kernel(0.011, 'server', 'SYN-RECV', 'ESTAB'));
    j.onEvent(inferred(0.01, 'server', 'LISTEN', 'SYN-RECV', 'received SYN'));
    j.onEvent(inferred(0.011, 'server', 'SYN-RECV', 'ESTAB', 'received ACK'));
    expect([...j.differingSockets()]).toEqual([]);
    // A difference the tracepoint will end by itself: not named.
    j.onKernel(kernel(0.5, 'server', 'ESTAB', 'FIN-WAIT-1'));
    expect([...j.differingSockets()]).toEqual([]);
    j.onEvent(inferred(0.5, 'server', 'ESTAB', 'FIN-WAIT-1', 'sent FIN'));
    // FIN-WAIT-2 changes without a tracepoint (the socket may become an orphan, then a mini-socket's TIME-WAIT): named while they differ.
    j.onKernel(kernel(0.6, 'server', 'FIN-WAIT-1', 'FIN-WAIT-2'));
    expect([...j.differingSockets()]).toEqual([{ ns: 'server', key: `${S}|${C}` }]);
    j.onEvent(inferred(0.6, 'server', 'FIN-WAIT-1', 'FIN-WAIT-2', 'received ACK'));
    expect([...j.differingSockets()]).toEqual([]);
  });

  it('passes the probe only what joined or left the differing sockets since it last asked', () => {
    const j = new KernelJoin({ graceMs: 50 });
    const socket = { ns: 'server', key: `${S}|${C}` };
    serverFinWait1(j);
    expect(j.takeFocusChanges()).toEqual({ add: [], remove: [] });
    j.onKernel(kernel(0.6, 'server', 'FIN-WAIT-1', 'FIN-WAIT-2'));
    expect(j.takeFocusChanges()).toEqual({ add: [socket], remove: [] });
    // Asked again with nothing new: nothing.
    expect(j.takeFocusChanges()).toEqual({ add: [], remove: [] });
    j.onEvent(inferred(0.6, 'server', 'FIN-WAIT-1', 'FIN-WAIT-2', 'received ACK'));
    expect(j.takeFocusChanges()).toEqual({ add: [], remove: [socket] });
    // In and out between two asks: nothing to pass on.
    j.onKernel(kernel(0.7, 'server', 'FIN-WAIT-2', 'TIME-WAIT'));
    j.onEvent(inferred(0.7, 'server', 'FIN-WAIT-2', 'TIME-WAIT', 'received FIN'));
    expect(j.takeFocusChanges()).toEqual({ add: [], remove: [] });
  });

  it('takes a difference out of focus once it is reported as a disagreement', () => {
    const j = new KernelJoin({ graceMs: 50 });
    const socket = { ns: 'server', key: `${S}|${C}` };
    serverFinWait1(j);
    // The kernel's FIN-WAIT-2 with no ACK on the wire: a difference that lasts.
    j.onKernel(kernel(0.6, 'server', 'FIN-WAIT-1', 'FIN-WAIT-2'));
    expect(j.takeFocusChanges()).toEqual({ add: [socket], remove: [] });
    expect(j.check(1)).toMatchObject([{ type: 'disagreement', endpoint: 'server', inferred: 'FIN-WAIT-1', kernel: 'FIN-WAIT-2' }]);
    expect(j.takeFocusChanges()).toEqual({ add: [], remove: [socket] });
    expect([...j.differingSockets()]).toEqual([]);
  });

  it('passes an orphan on with the earliest time it may have happened', () => {
    const j = new KernelJoin();
    j.onEvent(connection());
    j.onKernel(kernel(0.01, 'client', 'CLOSED', 'SYN-SENT'));
    expect(j.onKernel(kernel(2.0, 'client', 'FIN-WAIT-2', 'FIN-WAIT-2', { since: 1.99, orphan: true }))).toEqual([{ type: 'orphaned', conn: 1, endpoint: 'client', t: 1.99 }]);
  });
});

describe('KernelJoin: disagreements', () => {
  it('reports a difference once it has certainly lasted longer than the grace period, and once', () => {
    const j = new KernelJoin({ graceMs: 50 });
    j.onEvent(connection());
    j.onKernel(kernel(0.5, 'server', 'ESTAB', 'CLOSE-WAIT'));
    j.onEvent(inferred(0.5, 'server', 'ESTAB', 'CLOSE-WAIT', 'delivered FIN'));
    j.onEvent(inferred(1.0, 'server', 'LAST-ACK', 'CLOSED', 'delivered ACK'));
    j.onKernel(kernel(1.0, 'server', 'CLOSE-WAIT', 'LAST-ACK'));
    expect(j.check(1.05)).toEqual([]);
    expect(j.check(1.051)).toEqual([{ type: 'disagreement', t: 1.051, conn: 1, endpoint: 'server', inferred: 'CLOSED', kernel: 'LAST-ACK', forMs: 51 }]);
    expect(j.check(2)).toEqual([]);
  });

  it('never calls a state the poller merely missed a disagreement', () => {
    const j = new KernelJoin();
    j.onEvent(connection());
    j.onKernel(kernel(0.9, 'server', 'ESTAB', 'CLOSE-WAIT'));
    j.onEvent(inferred(0.9, 'server', 'ESTAB', 'CLOSE-WAIT', 'delivered FIN'));
    j.onEvent(inferred(1.0, 'server', 'CLOSE-WAIT', 'LAST-ACK'));
    j.onEvent(inferred(1.001, 'server', 'LAST-ACK', 'CLOSED', 'delivered ACK'));
    // The 5 ms poller never saw LAST-ACK: CLOSE-WAIT, then the socket gone.
    expect(j.onKernel(kernel(1.004, 'server', 'CLOSE-WAIT', 'CLOSED', { since: 0.999 }))).toMatchObject([{ type: 'state' }]);
    expect(j.check(1.2)).toEqual([]);
  });

  it('a loaded machine: kernel changes read late are judged only up to the watermark, and not at all once they show the views agreed', () => {
    const j = new KernelJoin();
    j.onEvent(connection());
    j.onKernel(kernel(0.5, 'server', 'CLOSE-WAIT', 'LAST-ACK'));
    j.onEvent(inferred(0.5, 'server', 'CLOSE-WAIT', 'LAST-ACK'));
    j.onEvent(inferred(1.0, 'server', 'LAST-ACK', 'CLOSED', 'delivered ACK'), 1.0);
    // The probe's reads stall for 200 ms: its watermark stays at 1.002.
    for (let t = 1.0; t < 1.2; t += 0.01) expect(j.check(Math.min(1.002, t))).toEqual([]);
    // Then the late read: LAST-ACK ended 0.3 ms after the ACK was sent on.
    expect(of(j.onKernel(kernel(1.0003, 'server', 'LAST-ACK', 'CLOSED')), 'disagreement')).toEqual([]);
    expect(j.check(1.2)).toEqual([]);
  });

  it('a loaded event loop: a delivered segment takes effect when tcpmitm sends it on, not at its capture time', () => {
    const j = new KernelJoin();
    j.onEvent(connection());
    j.onKernel(kernel(0.5, 'server', 'CLOSE-WAIT', 'LAST-ACK'));
    j.onEvent(inferred(0.5, 'server', 'CLOSE-WAIT', 'LAST-ACK'));
    // The last ACK was captured at 1.0 but handled at 1.08; the server's kernel closed right after.
    j.onEvent(inferred(1.0, 'server', 'LAST-ACK', 'CLOSED', 'delivered ACK'), 1.08);
    expect(j.check(1.08)).toEqual([]);
    expect(of(j.onKernel(kernel(1.0801, 'server', 'LAST-ACK', 'CLOSED')), 'disagreement')).toEqual([]);
  });

  it('a polled change counts from its previous look: certainly different only until then', () => {
    const quiet = new KernelJoin();
    quiet.onEvent(connection());
    quiet.onKernel(kernel(0.5, 'client', 'FIN-WAIT-1', 'FIN-WAIT-2'));
    quiet.onEvent(inferred(0.5, 'client', 'FIN-WAIT-1', 'FIN-WAIT-2', 'delivered ACK'));
    quiet.onEvent(inferred(1.0, 'client', 'FIN-WAIT-2', 'TIME-WAIT', 'delivered FIN'));
    // Seen at 1.2 by a read that came late; the look before was at 1.001.
    expect(of(quiet.onKernel(kernel(1.2, 'client', 'FIN-WAIT-2', 'TIME-WAIT', { since: 1.001 })), 'disagreement')).toEqual([]);

    const real = new KernelJoin();
    real.onEvent(connection());
    real.onKernel(kernel(0.5, 'client', 'FIN-WAIT-1', 'FIN-WAIT-2'));
    real.onEvent(inferred(0.5, 'client', 'FIN-WAIT-1', 'FIN-WAIT-2', 'delivered ACK'));
    real.onEvent(inferred(1.0, 'client', 'FIN-WAIT-2', 'TIME-WAIT', 'delivered FIN'));
    // A look at 1.1 still saw FIN-WAIT-2: 100 ms of certain difference, reported when it ends.
    expect(of(real.onKernel(kernel(1.2, 'client', 'FIN-WAIT-2', 'TIME-WAIT', { since: 1.1 })), 'disagreement')).toEqual([
      { type: 'disagreement', t: 1.1, conn: 1, endpoint: 'client', inferred: 'TIME-WAIT', kernel: 'FIN-WAIT-2', forMs: 100 },
    ]);
  });
});

describe('KernelJoin: lags the kernel explains', () => {
  /** A client ESTAB in both views. */
  function established(): KernelJoin {
    const j = new KernelJoin();
    j.onEvent(connection());
    j.onKernel(kernel(0.01, 'client', 'CLOSED', 'SYN-SENT'));
    j.onKernel(kernel(0.011, 'client', 'SYN-SENT', 'ESTAB'));
    j.onEvent(inferred(0.01, 'client', 'CLOSED', 'SYN-SENT'));
    j.onEvent(inferred(0.011, 'client', 'SYN-SENT', 'ESTAB', 'delivered SYN+ACK'));
    return j;
  }

  function closeQueued(): KernelJoin {
    const j = established();
    // close() with data still queued: the kernel is in FIN-WAIT-1, the wire has no FIN yet.
    j.onKernel(kernel(1.0, 'client', 'ESTAB', 'FIN-WAIT-1'));
    return j;
  }

  it('FIN queued behind data that keeps flowing: no disagreement, a lag once the FIN is on the wire', () => {
    const j = closeQueued();
    let bytes = 1_000_000;
    const flowing = (): SendActivity => ({ bytes: (bytes += 65_000), peerWindowClosed: false });
    for (let t = 1.0; t <= 1.3; t += 0.01) expect(j.check(t, flowing)).toEqual([]);
    const outs = j.onEvent(inferred(1.3, 'client', 'ESTAB', 'FIN-WAIT-1', 'sent FIN+ACK'));
    expect(of(outs, 'lag')).toEqual([
      { type: 'lag', t: 1.3, conn: 1, endpoint: 'client', state: 'FIN-WAIT-1', kernelT: 1.0, inferredT: 1.3, ms: 300, reason: expect.stringMatching(/queued the FIN behind unsent data/) },
    ]);
    expect(of(outs, 'disagreement')).toEqual([]);
  });

  it("FIN queued behind data, the kernel's change read only after the wire's (a loaded loop read the probe late): the same lag, told when the kernel's change is read", () => {
    const j = established();
    expect(j.onEvent(inferred(1.3, 'client', 'ESTAB', 'FIN-WAIT-1', 'sent FIN+ACK'))).toEqual([]);
    const outs = j.onKernel(kernel(1.0, 'client', 'ESTAB', 'FIN-WAIT-1'));
    expect(of(outs, 'lag')).toEqual([
      { type: 'lag', t: 1.3, conn: 1, endpoint: 'client', state: 'FIN-WAIT-1', kernelT: 1.0, inferredT: 1.3, ms: 300, reason: expect.stringMatching(/queued the FIN behind unsent data/) },
    ]);
    expect(of(outs, 'disagreement')).toEqual([]);
    // Within the grace it is no lag at all, as when read in time.
    const k = established();
    k.onEvent(inferred(1.03, 'client', 'ESTAB', 'FIN-WAIT-1', 'sent FIN+ACK'));
    expect(of(k.onKernel(kernel(1.0, 'client', 'ESTAB', 'FIN-WAIT-1')), 'lag')).toEqual([]);
  });

  it('FIN queued behind data, looks far apart (a loaded loop): data sent since the last look explains up to the FIN', () => {
    const j = closeQueued();
    let bytes = 1_000_000;
    const flowing = (): SendActivity => ({ bytes: (bytes += 65_000), peerWindowClosed: false });
    expect(j.check(1.0, flowing)).toEqual([]);
    expect(j.check(1.01, flowing)).toEqual([]);
    // No look for 80 ms while the data went on; then the wire's FIN.
    const outs = j.onEvent(inferred(1.09, 'client', 'ESTAB', 'FIN-WAIT-1', 'sent FIN+ACK'));
    expect(of(outs, 'disagreement')).toEqual([]);
    expect(of(outs, 'lag')).toMatchObject([{ state: 'FIN-WAIT-1', ms: 90, reason: expect.stringMatching(/queued the FIN behind unsent data/) }]);
    // Nothing sent since the last look: the same gap is a disagreement.
    const k = closeQueued();
    const stalled = (): SendActivity => ({ bytes: 1_000_000, peerWindowClosed: false });
    expect(k.check(1.0, stalled)).toEqual([]);
    expect(k.check(1.01, stalled)).toEqual([]);
    expect(of(k.onEvent(inferred(1.09, 'client', 'ESTAB', 'FIN-WAIT-1', 'sent FIN+ACK')), 'disagreement')).toMatchObject([{ inferred: 'ESTAB', kernel: 'FIN-WAIT-1' }]);
  });

  it('FIN queued while the peer window is closed: explained too', () => {
    const j = closeQueued();
    for (let t = 1.0; t <= 1.5; t += 0.01) expect(j.check(t, () => ({ bytes: 5, peerWindowClosed: true }))).toEqual([]);
  });

  it('a kernel FIN-WAIT-1 with nothing sent for longer than the grace is a disagreement', () => {
    const j = closeQueued();
    const stalled = (): SendActivity => ({ bytes: 1_000_000, peerWindowClosed: false });
    expect(j.check(1.01, stalled)).toEqual([]);
    expect(j.check(1.06, stalled)).toEqual([]);
    expect(j.check(1.061, stalled)).toMatchObject([{ type: 'disagreement', endpoint: 'client', inferred: 'ESTAB', kernel: 'FIN-WAIT-1' }]);
  });

  it('TIME-WAIT ends up to one timer-wheel granularity late: a lag, and a disagreement beyond it', () => {
    const run = (kernelEnd: number) => {
      const j = new KernelJoin({ hz: 250 });
      j.onEvent(connection());
      j.onKernel(kernel(0.5, 'client', 'FIN-WAIT-2', 'TIME-WAIT'));
      j.onEvent(inferred(0.5, 'client', 'FIN-WAIT-2', 'TIME-WAIT', 'delivered FIN'));
      j.onEvent(inferred(60.5, 'client', 'TIME-WAIT', 'CLOSED', 'timer 2MSL'));
      const checks = [];
      for (let t = 60.5; t < kernelEnd; t += 0.1) checks.push(...j.check(t));
      return { checks, end: j.onKernel(kernel(kernelEnd, 'client', 'TIME-WAIT', 'CLOSED', { since: kernelEnd - 0.005 })) };
    };
    // 60 s at HZ=250: level 3, 512 jiffies = 2.048 s (+ a tick).
    const late = run(62.14);
    expect(late.checks).toEqual([]);
    expect(of(late.end, 'lag')).toMatchObject([{ state: 'CLOSED', inferredT: 60.5, kernelT: 62.14, ms: 1640, reason: expect.stringMatching(/timer wheel slack: a 60\.0 s timer fires up to 2052 ms late \(HZ=250\)/) }]);
    const tooLate = run(63);
    expect(tooLate.checks).toMatchObject([{ type: 'disagreement', inferred: 'CLOSED', kernel: 'TIME-WAIT' }]);
    expect(tooLate.checks[0]!.t).toBeGreaterThan(60.5 + 2.052 + 0.05);
  });

  it("an orphan's FIN-WAIT-2 timer: the orphan time's uncertainty is allowed on top of the wheel's slack", () => {
    const j = new KernelJoin({ hz: 250 });
    j.onEvent(connection());
    j.onKernel(kernel(0.5, 'client', 'FIN-WAIT-1', 'FIN-WAIT-2'));
    j.onEvent(inferred(0.5, 'client', 'FIN-WAIT-1', 'FIN-WAIT-2', 'delivered ACK'));
    // A poller saw the orphan between 1.0 and 1.2; the tracker timed 3 s from 1.0.
    j.onKernel(kernel(1.2, 'client', 'FIN-WAIT-2', 'FIN-WAIT-2', { since: 1.0, orphan: true }));
    j.onEvent(inferred(4.0, 'client', 'FIN-WAIT-2', 'CLOSED', 'timer tcp_fin_timeout (orphaned: its application closed it)'));
    for (let t = 4.0; t < 4.45; t += 0.01) expect(j.check(t)).toEqual([]);
    expect(of(j.onKernel(kernel(4.45, 'client', 'FIN-WAIT-2', 'CLOSED', { since: 4.445 })), 'lag')).toMatchObject([{ state: 'CLOSED', ms: 450 }]);
  });
});

describe('KernelJoin: bounded by the tracker', () => {
  it('prune() forgets the sides of connections the tracker no longer holds, and only those', () => {
    const j = new KernelJoin();
    for (let conn = 1; conn <= 1000; conn++) {
      j.onEvent({ ...connection(conn), client: `198.18.1.${1 + (conn % 250)}:${10_000 + conn}` });
      j.onEvent(inferred(0, 'client', 'CLOSED', 'SYN-SENT', 'sent SYN', conn));
    }
    expect(j.size).toBe(2000);
    j.prune((conn) => conn > 990);
    expect(j.size).toBe(20);
    // A kept connection still joins the kernel's view.
    expect(j.onKernel({ ns: 'client', local: '198.18.1.242:10991', remote: S, from: 'CLOSED', to: 'SYN-SENT', t: 0.001 })).toMatchObject([{ conn: 991, endpoint: 'client', source: 'kernel' }]);
  });
});
