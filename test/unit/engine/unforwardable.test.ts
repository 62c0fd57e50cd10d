// Frames that cannot cross (issue 12 §5): counted by reason, explained once
// per reason and interface, with the ethtool command for the far end when its
// name is known, else how to find it; an MTU mismatch is told apart from offloads.

import { describe, expect, it } from 'vitest';
import { Unforwardable, type LinkFacts } from '../../../src/engine/unforwardable.js';
import { buildTcpFrame } from '../../../src/packet/build.js';
import { foldSum, onesSum } from '../../../src/packet/checksum.js';
import { type TcpFrame, decodeFrame } from '../../../src/packet/frame.js';

const strerror = (e: number) => (e === 90 ? 'Message too long' : `errno ${e}`);
const veths: LinkFacts = {
  farEnd: (dev) => ({ text: `${dev}-peer (in netns bi-c)`, command: `ip netns exec bi-c ethtool -K ${dev}-peer tx off tso off gso off gro off` }),
  mtu: () => 1500,
};

function make(links: LinkFacts = veths) {
  const warnings: string[] = [];
  return { u: new Unforwardable({ a: 'm0', b: 'm1' }, links, (m) => warnings.push(m), strerror), warnings };
}

describe('Unforwardable', () => {
  it('counts every oversized frame and explains it once, with the far end\'s command', () => {
    const { u, warnings } = make();
    for (let i = 0; i < 5; i++) u.refused('b', 65_226, 90);
    expect(u.counts).toEqual({ unsent: 5, badChecksum: 0 });
    expect(warnings).toEqual([
      'a 65226-byte frame arrived on m0 and cannot be forwarded: m1 refuses frames larger than its MTU (Message too long), so that traffic does not cross and the connection stalls. ' +
        'The sender merged segments into super-frames (TSO/GSO on at the far end of m0, or GRO). Turn the offloads off on m0-peer (in netns bi-c): ' +
        'ip netns exec bi-c ethtool -K m0-peer tx off tso off gso off gro off (counted as unsent in stats; said once)',
    ]);
    u.refused('a', 9000, 90); // the other direction is another explanation
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain('arrived on m1');
  });
  it('tells an MTU mismatch from offloads', () => {
    const { u, warnings } = make({ ...veths, mtu: (dev) => (dev === 'm0' ? 9000 : 1500) });
    u.refused('b', 9014, 90);
    expect(warnings[0]).toContain("m0's MTU is 9000 and m1's 1500: give both links the same MTU (ip link set m1 mtu 9000, and its far end too)");
  });
  it('says how to find a far end it cannot name, and reports other refusals once per errno', () => {
    const { u, warnings } = make({ farEnd: (dev) => ({ text: `the device at the far end of ${dev}'s link` }), mtu: () => undefined });
    u.refused('b', 65_000, 90);
    expect(warnings[0]).toContain("Turn the offloads off on the device at the far end of m0's link: ethtool -K <that device> tx off tso off gso off gro off");
    u.refused('b', 100, 105);
    u.refused('b', 100, 105);
    expect(warnings.slice(1)).toEqual(['m1 refused to send a 100-byte frame: errno 105; such frames are lost to both ends (counted as unsent in stats; said once)']);
    expect(u.counts.unsent).toBe(3);
  });
  it('counts every bad checksum and explains only those a far end\'s offload left, once per interface', () => {
    const { u, warnings } = make();
    u.badChecksum('a', false);
    expect(warnings).toEqual([]);
    u.badChecksum('a', true);
    u.badChecksum('a', true);
    expect(u.counts).toEqual({ unsent: 0, badChecksum: 3 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^TCP segments arriving on m0 have checksums that do not verify: the sender's checksum offload is on at the far end of m0 .* Turn the offloads off on m0-peer \(in netns bi-c\): ip netns exec bi-c ethtool -K m0-peer tx off tso off gso off gro off/);
  });
});

describe('TcpFrame.checksumLeftToDevice', () => {
  const tcpOf = (b: Buffer): TcpFrame => {
    const r = decodeFrame(b);
    if (!r.ok || r.value.kind !== 'tcp') throw new Error('not tcp');
    return r.value;
  };
  /** What Linux writes under checksum offload: the folded pseudo-header sum (tcp_v4_send_check: ~tcp_v4_check(len, s, d, 0)). */
  const partial = (b: Buffer): Buffer => {
    const f = tcpOf(b);
    const alen = f.ipVersion === 4 ? 8 : 32;
    b.writeUInt16BE(foldSum(onesSum(b, f.srcAddrOffset, alen, 6 + (f.ipEnd - f.tcpOffset))), f.tcpOffset + 16);
    return b;
  };
  for (const [family, src, dst] of [[4, '198.18.0.1', '198.18.0.2'], [6, '2001:2::1', '2001:2::2']] as const) {
    it(`IPv${family}: a partial checksum is one, a corrupt or good one is not`, () => {
      const spec = { src, dst, srcPort: 43210, dstPort: 8080, seq: 1, flags: 'S', outerVlan: { id: 5 }, vlan: { id: 6 } } as const;
      const p = tcpOf(partial(buildTcpFrame({ ...spec, payload: Buffer.from('data') })));
      expect([p.tcpChecksumOk, p.checksumLeftToDevice]).toEqual([false, true]);
      const good = tcpOf(buildTcpFrame(spec));
      expect([good.tcpChecksumOk, good.checksumLeftToDevice]).toEqual([true, false]);
      const bad = buildTcpFrame(spec);
      bad[bad.length - 1]! ^= 0x40;
      expect([tcpOf(bad).tcpChecksumOk, tcpOf(bad).checksumLeftToDevice]).toEqual([false, false]);
    });
  }
});
