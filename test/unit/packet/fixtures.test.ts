// Real Linux frames (test/fixtures/packet): every frame decodes, agrees with
// tcpdump's own reading of it, verifies its checksums, and re-emits byte for byte.
import { describe, expect, it } from 'vitest';
import { type TcpFrame, decodeFrame, toSegmentInfo } from '../../../src/packet/frame.js';
import { formatEndpoint } from '../../../src/packet/addr.js';

const flowKey = (f: TcpFrame): string => `${formatEndpoint(f.srcAddr, f.srcPort)}>${formatEndpoint(f.dstAddr, f.dstPort)}`;
const reverseFlowKey = (f: TcpFrame): string => `${formatEndpoint(f.dstAddr, f.dstPort)}>${formatEndpoint(f.srcAddr, f.srcPort)}`;
import { emitFrameRepr, parseFrameRepr } from '../../../src/packet/repr.js';
import { TcpFlag, flagLetters } from '../../../src/tcp/segment.js';
import { loadFixtures } from './fixtures.js';

const fixtures = loadFixtures();
const tcpFixtures = fixtures.filter((f) => f.summary.includes('Flags ['));

/** tcpdump's flag notation ("S.", "P.", "R.", "F.") as TcpFlag bits. */
function tcpdumpFlags(s: string): number {
  const m = /Flags \[([^\]]*)\]/.exec(s);
  let f = 0;
  for (const ch of m![1]!) {
    f |= { S: TcpFlag.SYN, F: TcpFlag.FIN, R: TcpFlag.RST, P: TcpFlag.PSH, '.': TcpFlag.ACK, U: TcpFlag.URG, E: TcpFlag.ECE, W: TcpFlag.CWR }[ch] ?? 0;
  }
  return f;
}

function tcp(bytes: Buffer): TcpFrame {
  const r = decodeFrame(bytes);
  if (!r.ok) throw new Error(r.error.message);
  if (r.value.kind !== 'tcp') throw new Error(`not tcp: ${r.value.reason}`);
  return r.value;
}

describe('real Linux fixtures', () => {
  it('has the sessions it claims (handshake, data, FINs and RSTs, IPv4 and IPv6, non-TCP frames)', () => {
    expect(new Set(fixtures.map((f) => f.file))).toEqual(new Set(['ipv4-close.hex', 'ipv4-rst.hex', 'ipv6-close.hex', 'ipv6-rst.hex']));
    const letters = tcpFixtures.map((f) => flagLetters(tcp(f.bytes).flags));
    for (const l of ['S', 'SA', 'A', 'PA', 'FA', 'RA']) expect(letters).toContain(l);
    expect(fixtures.length - tcpFixtures.length).toBeGreaterThan(3);
  });

  it.each(tcpFixtures.map((f) => [`${f.file}#${f.index}`, f] as const))('%s decodes as tcpdump reads it', (_, f) => {
    const fr = tcp(f.bytes);
    const m = /: (\S+)\.(\d+) > (\S+)\.(\d+): Flags/.exec(f.summary)!;
    expect(fr.srcAddr).toBe(m[1]);
    expect(fr.srcPort).toBe(Number(m[2]));
    expect(fr.dstAddr).toBe(m[3]);
    expect(fr.dstPort).toBe(Number(m[4]));
    expect(fr.flags).toBe(tcpdumpFlags(f.summary));
    expect(fr.payloadLength).toBe(Number(/, length (\d+)(?:: [A-Za-z]+)?$/.exec(f.summary)![1]));
    expect(fr.ipVersion).toBe(f.summary.includes('IPv6') ? 6 : 4);
    expect(fr.linkHeaderLength).toBe(14);
    expect(fr.ipOffset).toBe(14);
    expect(fr.tcpOffset).toBe(fr.ipVersion === 4 ? 34 : 54);
    expect(fr.ipChecksumOk).toBe(true);
    expect(fr.tcpChecksumOk).toBe(true);
    expect(fr.fragment).toBe(false);
    expect(fr.payloadOffset + fr.payloadLength).toBe(f.bytes.length);
    const win = /win (\d+)/.exec(f.summary);
    if (win) expect(fr.window).toBe(Number(win[1]));
    const ws = /wscale (\d+)/.exec(f.summary);
    const info = toSegmentInfo(fr);
    expect(info.windowScale).toBe(ws ? Number(ws[1]) : undefined);
    expect('windowScale' in info).toBe(!!ws);
    expect(info).toMatchObject({ family: fr.ipVersion, seq: fr.seq, ack: fr.ack, flags: fr.flags, payloadLength: fr.payloadLength });
    const key = flowKey(fr);
    const brack = (a: string) => (a.includes(':') ? `[${a}]` : a);
    expect(key).toBe(`${brack(m[1]!)}:${m[2]}>${brack(m[3]!)}:${m[4]}`);
    expect(reverseFlowKey(fr)).toBe(`${brack(m[3]!)}:${m[4]}>${brack(m[1]!)}:${m[2]}`);
  });

  it('absolute seq/ack of SYN and SYN-ACK match tcpdump', () => {
    for (const f of tcpFixtures.filter((x) => x.summary.includes('Flags [S'))) {
      const fr = tcp(f.bytes);
      expect(fr.seq).toBe(Number(/seq (\d+)/.exec(f.summary)![1]));
      const ack = /ack (\d+)/.exec(f.summary);
      if (ack) expect(fr.ack).toBe(Number(ack[1]));
    }
  });

  it('parses the SYN options Linux sends, in order', () => {
    for (const f of tcpFixtures.filter((x) => x.summary.includes('Flags [S]'))) {
      const r = parseFrameRepr(f.bytes);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const opts = r.value.tcp!.options;
      expect(opts.map((o) => o.kind)).toEqual(['mss', 'sack-permitted', 'timestamps', 'nop', 'window-scale']);
      expect(opts[0]).toEqual({ kind: 'mss', value: Number(/mss (\d+)/.exec(f.summary)![1]) });
      expect(opts[2]).toMatchObject({ kind: 'timestamps', tsval: Number(/TS val (\d+)/.exec(f.summary)![1]), tsecr: 0 });
    }
  });

  it.each(fixtures.filter((f) => !f.summary.includes('Flags [')).map((f) => [`${f.file}#${f.index}`, f] as const))(
    '%s (not TCP) passes as other',
    (_, f) => {
      const r = decodeFrame(f.bytes);
      expect(r.ok).toBe(true);
      if (!r.ok || r.value.kind !== 'other') throw new Error('expected other');
      if (f.summary.includes('ARP')) expect(r.value).toMatchObject({ reason: 'not-ip', ethertype: 0x0806, ipVersion: undefined });
      else expect(r.value).toMatchObject({ reason: 'not-tcp', ethertype: 0x86dd, ipVersion: 6, protocol: 58 });
    },
  );

  it('walks the hop-by-hop header of real MLD reports to ICMPv6', () => {
    const mld = fixtures.filter((f) => f.summary.includes('HBH ICMP6'));
    expect(mld.length).toBeGreaterThan(0);
    for (const f of mld) {
      const r = parseFrameRepr(f.bytes);
      if (!r.ok) throw new Error(r.error.message);
      expect(r.value.ip).toMatchObject({ version: 6, protocol: 58 });
      expect(r.value.ip!.version === 6 && r.value.ip!.extensions.map((e) => e.type)).toEqual([0]);
    }
  });

  it.each(fixtures.map((f) => [`${f.file}#${f.index}`, f] as const))('%s re-emits byte for byte', (_, f) => {
    const r = parseFrameRepr(f.bytes);
    if (!r.ok) throw new Error(r.error.message);
    expect(emitFrameRepr(r.value).equals(f.bytes)).toBe(true);
    // And with checksums dropped, emit recomputes the very same values.
    if (r.value.tcp && r.value.ip) {
      const { checksum: _t, ...tcpNoSum } = r.value.tcp;
      const ip = r.value.ip.version === 4 ? (({ checksum: _c, ...rest }) => rest)(r.value.ip) : r.value.ip;
      expect(emitFrameRepr({ ...r.value, ip, tcp: tcpNoSum }).equals(f.bytes)).toBe(true);
    }
  });
});
