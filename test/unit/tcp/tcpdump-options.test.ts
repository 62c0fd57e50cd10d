import { describe, expect, it } from 'vitest';
import { tcpdumpOptions } from '../../../src/tcp/tcpdump-options.js';
import { buildTcpFrame } from '../../../src/packet/build.js';
import { decodeFrame, type TcpFrame } from '../../../src/packet/frame.js';

describe('TCP options as tcpdump prints them', () => {
  it("a Linux SYN's options, in their order", () => {
    const syn = buildTcpFrame({
      srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', src: '198.18.0.1', dst: '198.18.0.2', srcPort: 40000, dstPort: 8080, seq: 1, flags: 'S', window: 64240,
      options: [{ kind: 'mss', value: 1460 }, { kind: 'sack-permitted' }, { kind: 'timestamps', tsval: 3902, tsecr: 0 }, { kind: 'nop' }, { kind: 'window-scale', shift: 7 }],
    });
    const d = decodeFrame(syn);
    expect(d.ok && d.value.kind).toBe('tcp');
    expect(tcpdumpOptions((d as { value: TcpFrame }).value.tcpOptions)).toBe('mss 1460,sackOK,TS val 3902 ecr 0,nop,wscale 7');
  });

  it('SACK edges relative to the base, as the ack is; unknown options in hex; none is empty', () => {
    expect(tcpdumpOptions([{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[1001 + 1448, 1001 + 2896]] }], 1001)).toBe('nop,nop,sack 1 {1448:2896}');
    expect(tcpdumpOptions([{ kind: 'unknown', type: 253, data: Uint8Array.of(0xab, 0x01) }])).toBe('unknown-253 0xab01');
    expect(tcpdumpOptions([{ kind: 'eol' }, { kind: 'padding', data: Uint8Array.of(0, 0) }])).toBe('eol');
    expect(tcpdumpOptions([{ kind: 'malformed', data: Uint8Array.of(8, 1) }])).toBe('bad opt');
    expect(tcpdumpOptions([])).toBe('');
  });
});
