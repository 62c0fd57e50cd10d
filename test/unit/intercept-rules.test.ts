// Intercept mode's rules as text (src/intercept/rules.ts) and the kernel's
// queue counters (io/nfqueue-port.ts parseQueueCounts): exact argument lists,
// chain names that survive a round trip within xtables' 28 characters, and
// `iptables -S` parsing that finds only tcpmitm's chains.

import { describe, expect, it } from 'vitest';
import { backendOf, catchesLogin, chainName, findChains, INJECT_MARK, parseChainName, setupArgs, teardownArgs } from '../../src/intercept/rules.js';
import { parseQueueCounts } from '../../src/io/nfqueue-port.js';

describe('chain names', () => {
  it('record the owner, and read back', () => {
    expect(chainName({ pid: 23828, start: 5_702_137 })).toBe('tcpmitm-23828-3e7sp');
    expect(parseChainName('tcpmitm-23828-3e7sp')).toEqual({ pid: 23828, start: 5_702_137 });
  });

  it('stay within 28 characters for the largest pid and a year of uptime in ticks', () => {
    const name = chainName({ pid: 4_194_304, start: 100 * 86_400 * 365 * 10 });
    expect(name.length).toBeLessThanOrEqual(28);
    expect(parseChainName(name)).toEqual({ pid: 4_194_304, start: 100 * 86_400 * 365 * 10 });
  });

  it.each(['tcpmitm-', 'tcpmitm-0-1', 'tcpmitm-12', 'tcpmitm-12-', 'tcpmitm-12-AB', 'tcpmitmx-12-ab', 'OUTPUT', 'tcpmitm-12-ab-c', 'my-tcpmitm-12-ab'])('%s is not one of ours', (name) => {
    expect(parseChainName(name)).toBeUndefined();
  });
});

describe('rules', () => {
  it('fill the chain: our own marked packets by, then both directions of the port to their queues, fail-open, hooked first into OUTPUT, (from other hosts) INPUT and (routed) FORWARD', () => {
    expect(INJECT_MARK).toBe(0x746d6974);
    expect(setupArgs({ chain: 'tcpmitm-1-a', port: 8080, queues: [7400, 7401] })).toEqual([
      ['-w', '-N', 'tcpmitm-1-a'],
      ['-w', '-A', 'tcpmitm-1-a', '-m', 'mark', '--mark', '0x746d6974', '-j', 'RETURN'],
      ['-w', '-A', 'tcpmitm-1-a', '-p', 'tcp', '--dport', '8080', '-j', 'NFQUEUE', '--queue-num', '7400', '--queue-bypass'],
      ['-w', '-A', 'tcpmitm-1-a', '-p', 'tcp', '--sport', '8080', '-j', 'NFQUEUE', '--queue-num', '7401', '--queue-bypass'],
      ['-w', '-I', 'OUTPUT', '1', '-j', 'tcpmitm-1-a'],
      ['-w', '-I', 'INPUT', '1', '!', '-i', 'lo', '-j', 'tcpmitm-1-a'],
      ['-w', '-I', 'FORWARD', '1', '-j', 'tcpmitm-1-a'],
    ]);
  });

  it('with --host: to the host on the way in, from it on the way back', () => {
    const a = setupArgs({ chain: 'tcpmitm-1-a', port: 5432, host: '127.0.0.2', queues: [7402, 7403] });
    expect(a[2]).toEqual(['-w', '-A', 'tcpmitm-1-a', '-p', 'tcp', '-d', '127.0.0.2', '--dport', '5432', '-j', 'NFQUEUE', '--queue-num', '7402', '--queue-bypass']);
    expect(a[3]).toEqual(['-w', '-A', 'tcpmitm-1-a', '-p', 'tcp', '-s', '127.0.0.2', '--sport', '5432', '-j', 'NFQUEUE', '--queue-num', '7403', '--queue-bypass']);
  });

  it('come out: unhook, flush, delete', () => {
    expect(teardownArgs('tcpmitm-1-a')).toEqual([
      ['-w', '-D', 'OUTPUT', '-j', 'tcpmitm-1-a'],
      ['-w', '-D', 'INPUT', '!', '-i', 'lo', '-j', 'tcpmitm-1-a'],
      ['-w', '-D', 'FORWARD', '-j', 'tcpmitm-1-a'],
      ['-w', '-F', 'tcpmitm-1-a'],
      ['-w', '-X', 'tcpmitm-1-a'],
    ]);
  });
});

describe('findChains', () => {
  const save = [
    '-P INPUT ACCEPT',
    '-P FORWARD ACCEPT',
    '-P OUTPUT ACCEPT',
    '-N DOCKER',
    '-N tcpmitm-23828-3gi2p',
    '-N tcpmitm-99-zz',
    '-N tcpmitm-7-r0',
    '-N tcpmitm-notours',
    '-A OUTPUT -j tcpmitm-23828-3gi2p',
    '-A OUTPUT -j DOCKER',
    '-A FORWARD -j tcpmitm-7-r0',
    '-A tcpmitm-23828-3gi2p -m mark --mark 0x746d6974 -j RETURN',
    '-A tcpmitm-23828-3gi2p -p tcp -m tcp --dport 7777 -j NFQUEUE --queue-num 7400 --queue-bypass',
    '-A tcpmitm-23828-3gi2p -p tcp -m tcp --sport 7777 -j NFQUEUE --queue-num 7401 --queue-bypass',
  ].join('\n');

  it("finds ours only, with the port they queue and whether OUTPUT jumps to them", () => {
    expect(findChains(save)).toEqual([
      { chain: 'tcpmitm-23828-3gi2p', owner: { pid: 23828, start: parseInt('3gi2p', 36) }, port: 7777, hooked: true },
      // Half made (the run died between -N and -A): no port, not hooked — still ours to remove.
      { chain: 'tcpmitm-99-zz', owner: { pid: 99, start: parseInt('zz', 36) }, hooked: false },
      // Left hooked into FORWARD alone (the run died between its hooks).
      { chain: 'tcpmitm-7-r0', owner: { pid: 7, start: parseInt('r0', 36) }, hooked: true },
    ]);
  });

  it('finds nothing in an empty table', () => {
    expect(findChains('-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n')).toEqual([]);
  });
});

describe('backendOf', () => {
  it.each([
    ['iptables v1.8.9 (nf_tables)', 'nf_tables'],
    ['iptables v1.8.7 (legacy)', 'legacy'],
    ['iptables v1.4.21', undefined],
  ] as const)('%s → %s', (line, backend) => {
    expect(backendOf(line)).toBe(backend);
  });
});

describe('catchesLogin', () => {
  const ssh = '198.51.100.7 52114 203.0.113.5 22';
  it('the port of the SSH server this session came in by', () => {
    expect(catchesLogin(ssh, 22, undefined)).toBe(true);
    expect(catchesLogin(ssh, 22, '203.0.113.5')).toBe(true);
    expect(catchesLogin(ssh, 22, '127.0.0.1')).toBe(false);
  });
  it("the SSH client's port on the far end (the replies go to it)", () => {
    expect(catchesLogin(ssh, 52114, undefined)).toBe(true);
  });
  it('anything else, or no SSH at all', () => {
    expect(catchesLogin(ssh, 8080, undefined)).toBe(false);
    expect(catchesLogin(undefined, 22, undefined)).toBe(false);
    expect(catchesLogin('garbage', 22, undefined)).toBe(false);
  });
});

describe('parseQueueCounts', () => {
  it('sums the queue-full and could-not-hand-over drops of our queues only', () => {
    const text = ' 7400  20486     0 2 65531     3     1        6  1\n 7401  20486     0 2 65531     0     2        5  1\n    9   1234     0 2 65531    50    50       99  1\n';
    expect(parseQueueCounts(text, [7400, 7401])).toEqual({ queueDropped: 3, userDropped: 3 });
    expect(parseQueueCounts('', [7400, 7401])).toEqual({ queueDropped: 0, userDropped: 0 });
  });
});
