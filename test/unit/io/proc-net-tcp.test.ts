import { describe, expect, it } from 'vitest';
import { parseProcAddress, parseProcTcp, parseProcTcpLine, stateOfCode } from '../../../src/io/proc-net-tcp.js';

// Rows in the exact layout of /proc/net/tcp{,6} on x86-64 (little-endian words).
const TCP = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 020012C6:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0',
  '   1: 010012C6:9C40 020012C6:1F90 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 0000000000000000 20 4 30 10 -1',
  '   2: 010012C6:9C41 020012C6:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
].join('\n');

const TCP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 02000120000000000000000001000000:9C40 02000120000000000000000002000000:1F90 04 00000000:00000000 01:00000014 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1',
  '   1: 0000000000000000FFFF0000020012C6:1F90 0000000000000000FFFF0000010012C6:9C42 08 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 20 4 30 10 -1',
  '   2: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4244 1 0000000000000000 100 0 0 10 0',
].join('\n');

describe('proc-net-tcp', () => {
  it('decodes IPv4 rows: host-order words, hex ports, state names as ss prints them', () => {
    expect(parseProcTcp(TCP)).toEqual([
      { local: '198.18.0.2:8080', remote: '0.0.0.0:0', state: 'LISTEN', inode: 31337 },
      { local: '198.18.0.1:40000', remote: '198.18.0.2:8080', state: 'ESTAB', inode: 31338 },
      { local: '198.18.0.1:40001', remote: '198.18.0.2:8080', state: 'TIME-WAIT', inode: 0 },
    ]);
  });

  it('decodes IPv6 rows and names v4-mapped sockets by their IPv4 tuple', () => {
    expect(parseProcTcp(TCP6)).toEqual([
      { local: '[2001:2::1]:40000', remote: '[2001:2::2]:8080', state: 'FIN-WAIT-1', inode: 4242 },
      { local: '198.18.0.2:8080', remote: '198.18.0.1:40002', state: 'CLOSE-WAIT', inode: 4243 },
      { local: '[::]:8080', remote: '[::]:0', state: 'LISTEN', inode: 4244 },
    ]);
  });

  it('maps every kernel state code', () => {
    const names = Array.from({ length: 12 }, (_, i) => stateOfCode(i + 1));
    expect(names).toEqual([
      'ESTAB', 'SYN-SENT', 'SYN-RECV', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT',
      'CLOSED', 'CLOSE-WAIT', 'LAST-ACK', 'LISTEN', 'CLOSING', 'SYN-RECV',
    ]);
    expect(stateOfCode(0)).toBeUndefined();
    expect(stateOfCode(13)).toBeUndefined();
  });

  it('honours big-endian word order when told', () => {
    expect(parseProcAddress('C6120001:0050', false)).toBe('198.18.0.1:80');
    expect(parseProcAddress('20010002000000000000000000000001:0050', false)).toBe('[2001:2::1]:80');
  });

  it('rejects headers and malformed rows instead of guessing', () => {
    expect(parseProcTcpLine('  sl  local_address rem_address   st tx_queue')).toBeUndefined();
    expect(parseProcTcpLine('   0: 020012C6:1F90 00000000:0000 0Z 0 0 0 0 0 0')).toBeUndefined();
    expect(parseProcTcpLine('   0: 020012C:1F90 00000000:0000 0A 0 0 0 0 0 0')).toBeUndefined();
    expect(parseProcTcpLine('   0: 020012C6:1F90 00000000:0000 0D 0 0 0 0 0 0')).toBeUndefined();
    expect(parseProcTcpLine('')).toBeUndefined();
    expect(parseProcAddress('020012C6')).toBeUndefined();
  });
});
