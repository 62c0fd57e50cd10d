import { describe, expect, it } from 'vitest';
import { SocketTableDiff, isLabAddress, isLabConnection } from '../../../src/io/kernel-probe-diff.js';
import { lostEvents, parseTraceLine } from '../../../src/io/kernel-probe-trace.js';
import { parseConfigHz } from '../../../src/io/kernel-config.js';

const L = '198.18.0.1:40000';
const R = '198.18.0.2:8080';
const row = (state: string, inode = 1234, local = L, remote = R) => ({ local, remote, state, inode }) as const;
const listener = { local: '0.0.0.0:8080', remote: '0.0.0.0:0', state: 'LISTEN', inode: 99 } as const;

describe('SocketTableDiff', () => {
  it('reports appearance from CLOSED, each change, and disappearance as → CLOSED', () => {
    const d = new SocketTableDiff();
    expect(d.update([row('ESTAB')])).toEqual([{ local: L, remote: R, from: 'CLOSED', to: 'ESTAB' }]);
    expect(d.update([row('ESTAB')])).toEqual([]);
    expect(d.update([row('FIN-WAIT-2')])).toEqual([{ local: L, remote: R, from: 'ESTAB', to: 'FIN-WAIT-2' }]);
    expect(d.update([row('TIME-WAIT', 0)])).toEqual([{ local: L, remote: R, from: 'FIN-WAIT-2', to: 'TIME-WAIT' }]);
    expect(d.update([])).toEqual([{ local: L, remote: R, from: 'TIME-WAIT', to: 'CLOSED' }]);
    expect(d.update([])).toEqual([]);
  });

  it('a socket accepted from a listener on its port starts from LISTEN, as the tracepoint says', () => {
    const d = new SocketTableDiff();
    expect(d.update([listener, row('ESTAB', 5, R, L)])).toEqual([{ local: R, remote: L, from: 'LISTEN', to: 'ESTAB' }]);
    // A server that closed its listener right after accept(): the port is still known to have listened.
    const e = new SocketTableDiff();
    e.update([listener]);
    expect(e.update([row('ESTAB', 5, R, L)])).toEqual([{ local: R, remote: L, from: 'LISTEN', to: 'ESTAB' }]);
  });

  it('a new socket on a tuple held in TIME-WAIT (a SYN reused it): the old one ends, the new one starts', () => {
    const d = new SocketTableDiff();
    d.update([listener, row('TIME-WAIT', 0, R, L)]);
    // Both may be listed for a moment: the live socket is the one that matters.
    expect(d.update([listener, row('TIME-WAIT', 0, R, L), row('ESTAB', 7, R, L)])).toEqual([
      { local: R, remote: L, from: 'TIME-WAIT', to: 'CLOSED' },
      { local: R, remote: L, from: 'LISTEN', to: 'ESTAB' },
    ]);
    // A client socket with another inode on the same tuple is another socket too.
    const c = new SocketTableDiff();
    c.update([row('CLOSE-WAIT', 10)]);
    expect(c.update([row('SYN-SENT', 11)])).toEqual([
      { local: L, remote: R, from: 'CLOSE-WAIT', to: 'CLOSED' },
      { local: L, remote: R, from: 'CLOSED', to: 'SYN-SENT' },
    ]);
  });

  it('an orphan: FIN-WAIT-1/2 with no inode (sock_orphan), reported once, also without a state change', () => {
    const d = new SocketTableDiff();
    d.update([row('ESTAB', 10)]);
    expect(d.update([row('FIN-WAIT-2', 10)])).toEqual([{ local: L, remote: R, from: 'ESTAB', to: 'FIN-WAIT-2' }]);
    expect(d.update([row('FIN-WAIT-2', 0)])).toEqual([{ local: L, remote: R, from: 'FIN-WAIT-2', to: 'FIN-WAIT-2', orphan: true }]);
    expect(d.update([row('FIN-WAIT-2', 0)])).toEqual([]);
    const e = new SocketTableDiff();
    e.update([row('ESTAB', 10)]);
    expect(e.update([row('FIN-WAIT-1', 0)])).toEqual([{ local: L, remote: R, from: 'ESTAB', to: 'FIN-WAIT-1', orphan: true }]);
    expect(e.update([row('FIN-WAIT-2', 0)])).toEqual([{ local: L, remote: R, from: 'FIN-WAIT-1', to: 'FIN-WAIT-2' }]);
  });

  it('keeps only lab connections', () => {
    expect(isLabAddress('198.18.0.2:8080')).toBe(true);
    expect(isLabAddress('198.19.255.1:1')).toBe(true);
    expect(isLabAddress('198.20.0.1:1')).toBe(false);
    expect(isLabAddress('[2001:2::2]:8080')).toBe(true);
    expect(isLabAddress('[2001:2:0:1::2]:8080')).toBe(true);
    expect(isLabAddress('[2001:2:1::2]:8080')).toBe(false);
    expect(isLabAddress('[2001:20::2]:8080')).toBe(false);
    expect(isLabConnection({ remote: '0.0.0.0:0', state: 'LISTEN' })).toBe(false);
    expect(isLabConnection({ remote: '10.0.0.1:22', state: 'ESTAB' })).toBe(false);
    expect(isLabConnection({ remote: R, state: 'CLOSE-WAIT' })).toBe(true);
  });
});

describe('parseTraceLine', () => {
  it('reads sock:inet_sock_set_state lines, IPv4 and IPv6', () => {
    const v4 = '          <idle>-0       [001] ..s2. 12345.678901: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=40000 dport=8080 saddr=198.18.0.1 daddr=198.18.0.2 saddrv6=::ffff:198.18.0.1 daddrv6=::ffff:198.18.0.2 oldstate=TCP_FIN_WAIT2 newstate=TCP_CLOSE';
    expect(parseTraceLine(v4)).toEqual({ ts: 12345.678901, local: L, remote: R, from: 'FIN-WAIT-2', to: 'CLOSED' });
    const v6 = '            node-4242    [000] b..1.   99.000001: inet_sock_set_state: family=AF_INET6 protocol=IPPROTO_TCP sport=8080 dport=40000 saddr=0.0.0.0 daddr=0.0.0.0 saddrv6=2001:2::2 daddrv6=2001:2::1 oldstate=TCP_CLOSE_WAIT newstate=TCP_LAST_ACK';
    expect(parseTraceLine(v6)).toEqual({ ts: 99.000001, local: '[2001:2::2]:8080', remote: '[2001:2::1]:40000', from: 'CLOSE-WAIT', to: 'LAST-ACK' });
    // connect() before the port is bound.
    const connect = '   python3-77 [000] ..... 5.000001: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=0 dport=8080 saddr=198.18.0.1 daddr=198.18.0.2 saddrv6=::ffff:198.18.0.1 daddrv6=::ffff:198.18.0.2 oldstate=TCP_CLOSE newstate=TCP_SYN_SENT';
    expect(parseTraceLine(connect)).toMatchObject({ local: '198.18.0.1:0', from: 'CLOSED', to: 'SYN-SENT' });
    expect(parseTraceLine(v4.replace('IPPROTO_TCP', 'IPPROTO_SCTP'))).toBeUndefined();
    expect(parseTraceLine('# tracer: nop')).toBeUndefined();
  });

  it('counts the transitions the ring buffer lost', () => {
    expect(lostEvents('CPU:1 [LOST 12 EVENTS]')).toBe(12);
    expect(lostEvents('  <idle>-0  [001] ..s2. 1.0: inet_sock_set_state: family=AF_INET')).toBe(0);
  });
});

describe('parseConfigHz', () => {
  it('reads CONFIG_HZ from a kernel config', () => {
    expect(parseConfigHz('# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\nCONFIG_SCHED_HRTICK=y\n')).toBe(250);
    expect(parseConfigHz('CONFIG_HZ_1000=y\n')).toBeUndefined();
  });
});
