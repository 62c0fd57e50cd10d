import { describe, expect, it } from 'vitest';
import { SocketTableDiff, isLabAddress, isLabConnection } from '../../../src/io/kernel-probe-diff.js';
import { parseTraceLine } from '../../../src/io/kernel-probe-trace.js';

const L = '198.18.0.1:40000';
const R = '198.18.0.2:8080';

describe('SocketTableDiff', () => {
  it('reports appearance from CLOSED, each change, and disappearance as → CLOSED', () => {
    const d = new SocketTableDiff();
    expect(d.update([{ local: L, remote: R, state: 'ESTAB' }])).toEqual([{ local: L, remote: R, from: 'CLOSED', to: 'ESTAB' }]);
    expect(d.update([{ local: L, remote: R, state: 'ESTAB' }])).toEqual([]);
    expect(d.update([{ local: L, remote: R, state: 'FIN-WAIT-2' }])).toEqual([{ local: L, remote: R, from: 'ESTAB', to: 'FIN-WAIT-2' }]);
    expect(d.update([{ local: L, remote: R, state: 'TIME-WAIT' }])).toEqual([{ local: L, remote: R, from: 'FIN-WAIT-2', to: 'TIME-WAIT' }]);
    expect(d.update([])).toEqual([{ local: L, remote: R, from: 'TIME-WAIT', to: 'CLOSED' }]);
    expect(d.update([])).toEqual([]);
  });

  it('prefers the live socket when a tuple is listed twice (TIME-WAIT and a reuse)', () => {
    const d = new SocketTableDiff();
    d.update([{ local: L, remote: R, state: 'TIME-WAIT' }]);
    expect(d.update([{ local: L, remote: R, state: 'TIME-WAIT' }, { local: L, remote: R, state: 'SYN-SENT' }])).toEqual([
      { local: L, remote: R, from: 'TIME-WAIT', to: 'SYN-SENT' },
    ]);
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
    expect(parseTraceLine(v4.replace('IPPROTO_TCP', 'IPPROTO_SCTP'))).toBeUndefined();
    expect(parseTraceLine('# tracer: nop')).toBeUndefined();
  });
});
