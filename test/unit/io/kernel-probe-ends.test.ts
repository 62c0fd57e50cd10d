// The kernel probe's two ways to tell whose a socket is (kernel-probe-diff.ts
// EndsBy): the lab's addresses, or — intercept, both ends in one namespace on
// loopback — the server's port. The same connect()/accept() sequences as
// kernel-probe-sockets.test.ts, on 127.0.0.1.

import { describe, expect, it } from 'vitest';
import { SocketTableDiff, endOfSocket, isTrackedConnection, type EndsBy } from '../../../src/io/kernel-probe-diff.js';
import { TraceSockets, type Transition } from '../../../src/io/kernel-probe-sockets.js';
import type { TcpState } from '../../../src/tcp/state.js';
import { parseTraceId, traceId } from '../../../src/intercept/rules.js';

const PORT: EndsBy = { by: 'server-port', port: 8080 };
const C = '127.0.0.1:40000';
const S = '127.0.0.1:8080';
const tr = (t: number, local: string, remote: string, from: TcpState, to: TcpState): Transition => ({ t, local, remote, from, to });

describe('endOfSocket', () => {
  it("by the server's port: its own socket has it as local port, the client's as remote", () => {
    expect(endOfSocket(S, C, PORT)).toBe('server');
    expect(endOfSocket(C, S, PORT)).toBe('client');
    expect(endOfSocket('[::1]:40000', '[::1]:8080', PORT)).toBe('client');
    expect(endOfSocket('127.0.0.1:40000', '127.0.0.1:9090', PORT)).toBeUndefined();
  });
  it("with the namespace's addresses: a socket of another namespace on the same kernel (the tracepoint is host-wide) is none of the run's", () => {
    const ends: EndsBy = { by: 'server-port', port: 8080, localHosts: ['198.18.77.1', '2001:2:77::1'] };
    expect(endOfSocket('198.18.77.1:8080', '198.18.77.2:40000', ends)).toBe('server');
    expect(endOfSocket('198.18.77.2:40000', '198.18.77.1:8080', ends)).toBeUndefined();
    expect(endOfSocket('[2001:2:77::1]:8080', '[2001:2:77::2]:40000', ends)).toBe('server');
    expect(endOfSocket('[2001:2:77::2]:40000', '[2001:2:77::1]:8080', ends)).toBeUndefined();
    // Loopback is always this namespace's, also as an IPv4-mapped address.
    expect(endOfSocket(C, S, ends)).toBe('client');
    expect(endOfSocket('[::ffff:127.0.0.1]:40000', '[::ffff:127.0.0.1]:8080', ends)).toBe('client');
    expect(endOfSocket('[::1]:8080', '[::1]:40000', ends)).toBe('server');
  });
  it("by the lab's addresses, as before", () => {
    expect(endOfSocket('198.18.0.1:40000', '198.18.0.2:8080', { by: 'lab-address' })).toBe('client');
    expect(endOfSocket('[2001:2::2]:8080', '[2001:2::1]:40000', { by: 'lab-address' })).toBe('server');
    expect(endOfSocket(C, S, { by: 'lab-address' })).toBeUndefined();
  });
  it('listeners and other ports are not tracked', () => {
    expect(isTrackedConnection({ local: S, remote: '0.0.0.0:0', state: 'LISTEN' }, PORT)).toBe(false);
    expect(isTrackedConnection({ local: C, remote: S, state: 'ESTAB' }, PORT)).toBe(true);
    expect(isTrackedConnection({ local: C, remote: '127.0.0.1:22', state: 'ESTAB' }, PORT)).toBe(false);
  });
});

describe('TraceSockets by port', () => {
  it("connect() and accept() on loopback: each transition goes to its end, the port-less connect() to the client's", () => {
    const s = new TraceSockets(PORT);
    const none = () => undefined;
    expect(s.apply([tr(1.0, '127.0.0.1:0', S, 'CLOSED', 'SYN-SENT')], none, 1.001)).toEqual([]);
    expect(s.apply([tr(1.2, C, S, 'SYN-SENT', 'ESTAB'), tr(1.2001, S, C, 'LISTEN', 'SYN-RECV'), tr(1.2002, S, C, 'SYN-RECV', 'ESTAB')], none, 1.21)).toEqual([
      { ns: 'client', local: C, remote: S, from: 'CLOSED', to: 'SYN-SENT', t: 1.0 },
      { ns: 'client', local: C, remote: S, from: 'SYN-SENT', to: 'ESTAB', t: 1.2 },
      { ns: 'server', local: S, remote: C, from: 'LISTEN', to: 'SYN-RECV', t: 1.2001 },
      { ns: 'server', local: S, remote: C, from: 'SYN-RECV', to: 'ESTAB', t: 1.2002 },
    ]);
  });
});

describe('TraceSockets: throwaway children of a stale request socket', () => {
  it("segments held in an INPUT queue clone children that lose the hash dance (LISTEN → SYN-RECV → CLOSE on the live tuple): the real socket is untouched", () => {
    // As traced on Linux 6.18 with a client in another namespace behind an intercept run's INPUT queue.
    const s = new TraceSockets({ by: 'server-port', port: 7765, localHosts: ['198.18.77.1'] });
    const none = () => undefined;
    const SV = '198.18.77.1:7765';
    const CL = '198.18.77.2:33622';
    const real = s.apply([tr(1.0, SV, CL, 'LISTEN', 'SYN-RECV'), tr(1.00002, SV, CL, 'SYN-RECV', 'ESTAB')], none, 1.001);
    expect(real.map((o) => `${o.from}→${o.to}`)).toEqual(['LISTEN→SYN-RECV', 'SYN-RECV→ESTAB']);
    const stolen = [];
    for (let i = 0; i < 5; i++) stolen.push(tr(1.00004 + i * 1e-5, SV, CL, 'LISTEN', 'SYN-RECV'), tr(1.000045 + i * 1e-5, SV, CL, 'SYN-RECV', 'CLOSED'));
    expect(s.apply(stolen, none, 1.002)).toEqual([]);
    expect(s.apply([tr(1.3, SV, CL, 'ESTAB', 'CLOSE-WAIT')], none, 1.301)).toEqual([{ ns: 'server', local: SV, remote: CL, from: 'ESTAB', to: 'CLOSE-WAIT', t: 1.3 }]);
    // A SYN reusing a TIME-WAIT is a new socket still (the mini-socket is no full socket): see kernel-probe-sockets.test.ts.
  });
});

describe('SocketTableDiff by port', () => {
  it("one namespace's table holds both ends: each end's diff keeps its own socket", () => {
    const rows = [
      { local: S, remote: '0.0.0.0:0', state: 'LISTEN', inode: 1 },
      { local: C, remote: S, state: 'ESTAB', inode: 2 },
      { local: S, remote: C, state: 'ESTAB', inode: 3 },
      { local: '127.0.0.1:41000', remote: '127.0.0.1:22', state: 'ESTAB', inode: 4 },
    ] as const;
    expect(new SocketTableDiff(PORT, 'client').update(rows)).toEqual([{ local: C, remote: S, from: 'CLOSED', to: 'ESTAB' }]);
    expect(new SocketTableDiff(PORT, 'server').update(rows)).toEqual([{ local: S, remote: C, from: 'LISTEN', to: 'ESTAB' }]);
  });
});

describe('trace instance ids', () => {
  it("name the owner as the chain does, and read back; a lab's id is not one", () => {
    expect(traceId({ pid: 23828, start: 5_702_137 })).toBe('i23828_3e7sp');
    expect(parseTraceId('i23828_3e7sp')).toEqual({ pid: 23828, start: 5_702_137 });
    expect(parseTraceId('p4a1b2c3')).toBeUndefined();
    expect(parseTraceId('i12')).toBeUndefined();
  });
});
