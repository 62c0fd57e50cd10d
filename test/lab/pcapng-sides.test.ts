// --pcap records both sides of every decision, read back by the real tools
// (tshark, capinfos) after real lab runs of built-in profiles: each frame's
// arrival (inbound) on its interface and its departure (outbound) on the
// other, when it really left, with the decision in each comment, in strict
// time order; tshark's own analysis of one interface's view still flags the
// retransmitted FINs; Follow TCP Stream gives the bytes once.

import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { TMP, runProfile } from '../helpers/profile-lab.js';

const root = requireRoot();
const hasTools = spawnSync('tshark', ['-v']).status === 0 && spawnSync('capinfos', ['-h']).status === 0;

interface Packet {
  no: number;
  t: number;
  iface: number;
  dir: 'inbound' | 'outbound' | undefined;
  flags: string;
  srcport: number;
  len: number;
  comment: string;
  retransmission: boolean;
}

/**
 * tshark's fields for every packet; with `iface`, of that interface only, written to a file of
 * its own first: tshark 4.0 analyses a TCP conversation over every frame it reads, whatever
 * the display filter (`-2 -R` too), so one wire's analysis needs one wire's file.
 */
function packets(pcap: string, iface?: number): Packet[] {
  if (iface !== undefined) {
    const side = `${pcap}.iface${iface}.pcapng`;
    expect(spawnSync('tshark', ['-r', pcap, '-Y', `frame.interface_id == ${iface}`, '-w', side]).status).toBe(0);
    return packets(side);
  }
  const fields = ['frame.number', 'frame.time_epoch', 'frame.interface_id', 'frame.packet_flags_direction', 'tcp.flags.str', 'tcp.srcport', 'tcp.len', 'frame.comment', 'tcp.analysis.retransmission'];
  const args = ['-r', pcap, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter(Boolean).map((l) => {
    const [no, t, iface, dir, flags, srcport, len, comment, retr] = l.split('|');
    const d = Number(dir || 0) & 3;
    return { no: Number(no), t: Number(t), iface: Number(iface), dir: d === 1 ? 'inbound' : d === 2 ? 'outbound' : undefined, flags: flags ?? '', srcport: Number(srcport || 0), len: Number(len || 0), comment: comment ?? '', retransmission: retr !== '' && retr !== undefined };
  });
}

function strictTimeOrder(pcap: string): string {
  const r = spawnSync('capinfos', ['-o', pcap], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return /Strict time order:\s*(\S+)/.exec(r.stdout)?.[1] ?? '?';
}

const isFin = (p: Packet) => p.flags.includes('F');

async function run(profile: string, args: string[] = []) {
  const id = uniqueLabId('ps');
  const pcap = join(TMP, `${id}.pcapng`);
  const r = await runProfile(id, profile, { probe: 'off', args: ['--pcap', pcap, ...args] });
  expect(r.code, r.stderr).toBe(0);
  return { pcap, run: r };
}

describe.skipIf(root.skip || !hasTools)('pcapng: both sides of every decision', () => {
  it('delay-fin: the FIN arrives on the server side, delayed, and leaves on the client side when released', async () => {
    const { pcap, run: r } = await run('delay-fin', ['--set', 'ms=1500']);
    expect(strictTimeOrder(pcap)).toBe('True');
    const ps = packets(pcap);
    // Every TCP packet is one side of a decision.
    for (const p of ps.filter((x) => x.flags !== '')) expect(p.dir, `frame ${p.no}`).toBeDefined();
    const arrivals = ps.filter((p) => isFin(p) && p.iface === 1 && p.dir === 'inbound' && p.comment === 'delayed 1500 ms by rule 1');
    expect(arrivals.length).toBeGreaterThan(0);
    for (const a of arrivals) {
      const left = ps.filter((p) => p.iface === 0 && p.dir === 'outbound' && p.comment.endsWith(`(arrived as frame ${a.no})`));
      expect(left, `departure of frame ${a.no}`).toHaveLength(1);
      expect(left[0]!.comment).toMatch(/^delayed 1500 ms by rule 1; released .* after \d+ ms \(arrived as frame \d+\)$/);
      // Later than its arrival (not asserted to be 1.5 s later: the arrival is stamped when tcpmitm
      // handles the frame, the delay counts from the kernel's receipt, which a loaded machine makes earlier).
      expect(left[0]!.t).toBeGreaterThan(a.t);
      expect(left[0]!.no).toBeGreaterThan(a.no);
    }
    // Follow TCP Stream gives each byte once although each data segment is recorded twice.
    const follow = spawnSync('tshark', ['-r', pcap, '-q', '-z', 'follow,tcp,raw,0'], { encoding: 'utf8' });
    expect(follow.status).toBe(0);
    const followed = follow.stdout.split('\n').filter((l) => /^\t?[0-9a-f]+$/.test(l)).reduce((n, l) => n + l.trim().length / 2, 0);
    const port = ps.find((p) => p.flags.includes('S') && !p.flags.includes('A'))!.srcport;
    const stream0 = ps.filter((p) => p.srcport !== 0 && p.dir === 'inbound');
    const sent = stream0.filter((p) => p.len > 0).reduce((n, p) => n + p.len, 0);
    expect(port).toBeGreaterThan(0);
    expect(sent).toBeGreaterThan(0);
    expect(followed).toBe(sent);
    expect(r.events.some((e) => e.type === 'segment' && e.verdict === 'delay')).toBe(true);
  });

  it('drop-last-ack: dropped ACKs arrive and never leave; one interface\'s view flags the retransmitted FINs, as a capture on that wire would', async () => {
    const { pcap } = await run('drop-last-ack');
    expect(strictTimeOrder(pcap)).toBe('True');
    const ps = packets(pcap);
    const dropped = ps.filter((p) => p.comment === 'dropped by rule 1 (last-ack)');
    expect(dropped.length).toBeGreaterThan(0);
    // A dropped ACK is an arrival on the client side only: nothing of it left.
    for (const d of dropped) expect([d.iface, d.dir]).toEqual([0, 'inbound']);
    expect(ps.filter((p) => p.dir === 'outbound' && p.comment.startsWith('dropped'))).toEqual([]);
    // Interface 1 (server side) is what a capture on that wire shows: the server's FIN and its retransmissions, and no ACK for them.
    const server = packets(pcap, 1);
    const fins = server.filter((p) => isFin(p) && p.dir === 'inbound' && p.srcport === server.find((x) => x.flags.includes('S') && x.flags.includes('A'))!.srcport);
    expect(fins.length).toBeGreaterThan(1);
    expect(fins[0]!.retransmission).toBe(false);
    expect(fins.slice(1).every((p) => p.retransmission)).toBe(true);
    // The client side's view: the same FINs, outbound, flagged the same way.
    const client = packets(pcap, 0);
    const finsOut = client.filter((p) => isFin(p) && p.dir === 'outbound' && p.srcport === fins[0]!.srcport);
    expect(finsOut.map((p) => p.retransmission)).toEqual(fins.map((p) => p.retransmission));
  });

  it('forge-rst: the forged RST is a departure only, on the interface it left by, and the file is in strict time order', async () => {
    const { pcap } = await run('forge-rst');
    expect(strictTimeOrder(pcap)).toBe('True');
    const ps = packets(pcap);
    const forged = ps.filter((p) => p.comment.startsWith('forged RST'));
    expect(forged.length).toBeGreaterThan(0);
    for (const f of forged) {
      expect(f.dir).toBe('outbound');
      expect(f.flags).toContain('R');
      // "to server" leaves by the server side (1), "to client" by the client side (0).
      expect(f.iface).toBe(f.comment.includes('to server') ? 1 : 0);
    }
    const ts = ps.map((p) => p.t);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
  });
});
