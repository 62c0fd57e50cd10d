import { describe, expect, it } from 'vitest';
import { KernelJoin, type KernelObservation } from '../../../src/engine/kernel-join.js';
import type { ConnectionEvent, StateEvent } from '../../../src/engine/events.js';
import type { TcpState } from '../../../src/tcp/state.js';

const C = '198.18.0.1:40000';
const S = '198.18.0.2:8080';
const connection: ConnectionEvent = { type: 'connection', t: 0, conn: 1, client: C, server: S, pickedUp: false };

function inferred(t: number, endpoint: 'client' | 'server', from: TcpState, to: TcpState): StateEvent {
  return { type: 'state', t, conn: 1, endpoint, from, to, source: 'inferred' };
}
function kernel(t: number, ns: 'client' | 'server', from: TcpState, to: TcpState): KernelObservation {
  return ns === 'client' ? { ns, local: C, remote: S, from, to, t } : { ns, local: S, remote: C, from, to, t };
}

describe('KernelJoin', () => {
  it('maps a socket of either namespace to its connection and endpoint, also when seen before the connection', () => {
    const j = new KernelJoin(50);
    expect(j.onKernel(kernel(0.001, 'client', 'CLOSED', 'SYN-SENT'))).toBeUndefined(); // the SYN not captured yet
    const replayed = j.onEvent(connection);
    expect(replayed).toEqual([{ type: 'state', t: 0.001, conn: 1, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT', source: 'kernel' }]);
    expect(j.onKernel(kernel(0.01, 'server', 'SYN-RECV', 'ESTAB'))).toMatchObject({ conn: 1, endpoint: 'server', to: 'ESTAB', source: 'kernel' });
  });

  it('reports a difference of current states only once it has lasted longer than the grace period, and once', () => {
    const j = new KernelJoin(50);
    j.onEvent(connection);
    j.onEvent(inferred(1.0, 'server', 'LAST-ACK', 'CLOSED'));
    j.onKernel(kernel(1.0, 'server', 'CLOSE-WAIT', 'LAST-ACK'));
    expect(j.check(1.05)).toEqual([]);
    expect(j.check(1.051)).toEqual([{ type: 'disagreement', t: 1.051, conn: 1, endpoint: 'server', inferred: 'CLOSED', kernel: 'LAST-ACK', forMs: 51 }]);
    expect(j.check(2)).toEqual([]);
  });

  it('never calls a state the poller merely missed a disagreement: states that agree again in time are not reported', () => {
    const j = new KernelJoin(50);
    j.onEvent(connection);
    j.onEvent(inferred(1.0, 'server', 'CLOSE-WAIT', 'LAST-ACK'));
    j.onEvent(inferred(1.001, 'server', 'LAST-ACK', 'CLOSED'));
    // The 5 ms poller never saw LAST-ACK: CLOSE-WAIT, then the socket gone.
    j.onKernel(kernel(1.004, 'server', 'CLOSE-WAIT', 'CLOSED'));
    expect(j.check(1.2)).toEqual([]);
  });

  it('allows the kernel timer wheel its slack at the end of TIME-WAIT', () => {
    const j = new KernelJoin(50);
    j.onEvent(connection);
    j.onKernel(kernel(0.5, 'client', 'FIN-WAIT-2', 'TIME-WAIT'));
    j.onEvent(inferred(0.5, 'client', 'FIN-WAIT-2', 'TIME-WAIT'));
    j.onEvent(inferred(60.5, 'client', 'TIME-WAIT', 'CLOSED'));
    expect(j.check(61.0)).toEqual([]);
    expect(j.check(62.1)).toMatchObject([{ endpoint: 'client', inferred: 'CLOSED', kernel: 'TIME-WAIT' }]);
  });
});
