// tcpmitm's packet port (native/afpacket through src/io/packet-port.ts) on a
// real veth pair: frames sent in one batch arrive byte for byte and in order
// with their age since the kernel received them,
// across more than one recvmmsg and sendmmsg batch; an 802.1Q tag, which the
// kernel moves out of every received frame, is put back; a frame the device
// refuses is reported and does not stop the others; a port does not read its
// own frames back; frames the kernel drops while the loop is busy are
// reported; a missing or non-Ethernet interface is a clear error, and one that
// goes away under an open port is reported.

import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, requireRoot, uniqueLabId } from '../helpers/lab.js';
import { ensureBuilt } from '../helpers/run-lab.js';

const root = requireRoot();
const PROBE = join(REPO, 'test/fixtures/packet-port-probe.mjs');
const ns = uniqueLabId('tpp');

const MARK = 'cafe';
const DST = '020000000002';
const SRC = '020000000001';
/** An Ethernet frame of `len` bytes (ethertype 0x88b5, for local experiments) ending in the test's mark. */
function frame(len: number, n: number, vlan = false): string {
  const head = DST + SRC + (vlan ? '81000064' : '') + '88b5' + n.toString(16).padStart(8, '0');
  return head + '00'.repeat(len - head.length / 2 - 2) + MARK;
}

interface ProbeResult {
  va: string[];
  vb: string[];
  errors: string[];
  ages: { arrived: number; ageMs: number }[];
  openError?: { code: string; exitCode: number; message: string };
  linkError?: { code: string; exitCode: number; message: string };
}

describe.skipIf(root.skip)('packet port on a veth pair', () => {
  let result: ProbeResult;
  const sent: string[] = [];

  beforeAll(() => {
    ensureBuilt();
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, '-batch', '-'], {
      input: 'link add va type veth peer name vb\nlink set va up\nlink set vb up\n',
    });
    sent.push(frame(60, 0), frame(1514, 1), frame(64, 2, true));
    const oversize = frame(9000, 3); // beyond the veth's MTU of 1500: EMSGSIZE
    for (let n = 4; n < 204; n++) sent.push(frame(60 + (n % 50), n));
    const input = [sent[0], sent[1], sent[2], oversize, ...sent.slice(3)].join('\n') + '\n';
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, PROBE, join(REPO, 'dist')], {
      input,
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (r.status !== 0) throw new Error(`probe exited ${r.status}: ${r.stderr}`);
    result = JSON.parse(r.stdout) as ProbeResult;
  }, 60_000);

  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
  });

  it('delivers every frame byte for byte, in order, with the VLAN tag in place', () => {
    const ours = result.vb.filter((h) => h.endsWith(MARK));
    expect(ours).toHaveLength(sent.length);
    expect(ours).toEqual(sent);
  });

  it('gives each frame its age since the kernel received it', () => {
    expect(result.ages.length).toBeGreaterThanOrEqual(sent.length);
    for (const { arrived, ageMs } of result.ages) {
      expect(ageMs).toBeGreaterThanOrEqual(0);
      // Received after the port opened (less a little clock jitter), never in the future.
      expect(arrived).toBeGreaterThan(-5);
    }
    expect(result.ages.some((a) => a.ageMs > 0)).toBe(true);
  });

  it('reports the frame the device refused, once, and sends the rest', () => {
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(/^send on va failed for a 9000-byte frame: Message too long/);
  });

  it('does not read back its own frames', () => {
    expect(result.va.filter((h) => h.endsWith(MARK))).toEqual([]);
  });

  it('reports the frames the kernel dropped while the event loop was busy', () => {
    // 60 000 × 1514 bytes (~140 MB of receive-buffer truesize) against 32 MiB.
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, PROBE, join(REPO, 'dist'), 'flood', '60000'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const flood = JSON.parse(r.stdout) as { received: number; errors: string[]; vethDropped: number };
    const drops = flood.errors.filter((e) => e.includes('dropped'));
    expect(drops.length).toBeGreaterThan(0);
    expect(drops[0]).toMatch(/^the kernel dropped \d+ frames arriving on vb before tcpmitm read them \(its receive buffer was full\)$/);
    const dropped = drops.reduce((n, e) => n + Number(/dropped (\d+)/.exec(e)![1]), 0);
    // Nothing lost unseen: every frame arrived or was counted as dropped (the
    // count may include a few of the kernel's own frames, IPv6 ND, dropped
    // alike); on a busy machine veth itself may drop some before any socket
    // (its tx_dropped), which no packet socket can report.
    expect(flood.received).toBeGreaterThan(0);
    expect(flood.received).toBeLessThan(60_000);
    const accounted = flood.received + dropped + flood.vethDropped;
    expect(accounted, JSON.stringify(flood)).toBeGreaterThanOrEqual(60_000);
    expect(accounted).toBeLessThanOrEqual(60_010);
  });

  it('names a missing interface as a usage error', () => {
    expect(result.openError).toMatchObject({ code: 'E_CAPTURE', exitCode: 2 });
    expect(result.openError!.message).toContain('nosuchdev0');
  });

  it('refuses an interface that is not Ethernet (the loopback), as a usage error', () => {
    expect(result.linkError).toMatchObject({ code: 'E_LINKTYPE', exitCode: 2, message: 'lo is not an Ethernet interface (ARPHRD type 772)' });
  });

  // Last: it deletes the veth pair.
  it('reports an interface that goes away under an open port', () => {
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, PROBE, join(REPO, 'dist'), 'gone'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { errors: string[] }).errors).toEqual([expect.stringMatching(/^reading vb stopped: Network is down$/)]);
  });
});
