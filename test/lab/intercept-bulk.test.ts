// Segments over the 65 531 bytes a netfilter queue copies (NFQNL_MAX_COPY_RANGE),
// made by a real bulk transfer over the loopback (MTU 65 536) of a namespace
// the test makes (icpb-…): 64 MiB of random bytes through `tcpmitm intercept`,
// sha256 equal on both ends; the big segments counted partial (none
// malformed), the ends' states inferred as the kernel saw them; the pcapng
// holds them cut short (captured 65 545 bytes of a longer frame). And with
// verdicts on such segments (drops, duplicates, delays): the data still
// arrives intact, and no copy of a partial segment is ever sent.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tcpmitmRulesIn } from '../helpers/netfilter.js';
import { REPO, netnsList, requireRoot, until } from '../helpers/lab.js';
import { readEvents, startCli, states, type LabEvent } from '../helpers/run-lab.js';
import { spawnJsonLines } from '../helpers/json-lines.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const NS = `icpb-${randomBytes(3).toString('hex')}`;
const NS_PATH = `/run/netns/${NS}`;
const PEER = join(REPO, 'test/helpers/bulk_peer.py');
const tmp = tempDir('tcpmitm-icpb-');
const MIB = 64;
const children: ChildProcess[] = [];

function bulk(kind: 'server' | 'client', ...args: string[]): { lines: Record<string, unknown>[]; done: Promise<number | null> } {
  return spawnJsonLines(NS, ['python3', PEER, kind, ...args], children, 'inherit');
}

interface Transfer {
  readonly sent: Record<string, unknown>;
  readonly got: Record<string, unknown>;
  readonly events: LabEvent[];
  readonly stats: LabEvent;
  readonly ms: number;
}

/** One 64 MiB transfer through intercept on `port`; Ctrl-C once both ends are done and the server's socket is gone. */
async function transfer(name: string, host: string, port: number, args: readonly string[] = []): Promise<Transfer> {
  const json = join(tmp, `${name}.jsonl`);
  const run = startCli(['intercept', '--netns', NS_PATH, '--port', String(port), '--no-ui', '--json', json, ...args], 120_000);
  await until(() => readEvents(json).some((e) => e.type === 'warning' && String(e.message).startsWith('netfilter:')) || run.child.exitCode !== null, 20_000);
  const server = bulk('server', host, String(port));
  await until(() => server.lines.some((l) => l.event === 'listening'), 10_000);
  const t0 = performance.now();
  const client = bulk('client', host, String(port), String(MIB));
  await Promise.all([client.done, server.done]);
  const ms = performance.now() - t0;
  await until(() => states(readEvents(json), 'server', 'kernel').at(-1) === 'CLOSED' && states(readEvents(json), 'server', 'inferred').at(-1) === 'CLOSED', 10_000);
  run.child.kill('SIGINT');
  const end = await run.done;
  expect(end.code, end.stderr).toBe(130);
  const events = readEvents(json);
  const stats = events.filter((e) => e.type === 'stats').at(-1)!;
  const sent = client.lines.find((l) => l.event === 'result')!;
  const got = server.lines.find((l) => l.event === 'result')!;
  console.log(`${name}: ${MIB} MiB in ${Math.round(ms)} ms; sha256 sent ${String(sent.sha256).slice(0, 16)}… got ${String(got?.sha256).slice(0, 16)}…; frames ${stats.frames}, partial ${stats.partial}, malformed ${stats.malformed}, dropped ${stats.dropped}, duplicated ${stats.duplicated}, delayed ${stats.delayed}`);
  return { sent, got, events, stats, ms };
}

/** The ends' inferred states are the kernel's, but for FIN-WAIT-2 passed within one FIN+ACK (the tracepoint sees it, no segment makes it). */
function expectStatesAsKernel(evs: readonly LabEvent[]): void {
  for (const end of ['client', 'server'] as const) {
    const kernel = states(evs, end, 'kernel');
    const inferred = states(evs, end, 'inferred');
    expect(inferred.at(-1)).toBe(kernel.at(-1));
    expect(inferred).toEqual(expect.arrayContaining(kernel.filter((s) => s !== 'FIN-WAIT-2')));
  }
  expect(evs.filter((e) => e.type === 'disagreement')).toEqual([]);
}

describe.skipIf(root.skip)('intercept: segments larger than the netfilter queue copies (loopback bulk)', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // The kernel's defaults: MTU 65 536, TSO and GSO on (nfqueue segments GSO packets to the MSS before it copies them).
    expect(execFileSync('ip', ['-n', NS, 'link', 'show', 'lo'], { encoding: 'utf8' })).toMatch(/mtu 65536/);
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    let left: string[];
    try {
      left = tcpmitmRulesIn(NS);
    } finally {
      const pids = spawnSync('ip', ['netns', 'pids', NS], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const pid of pids) spawnSync('kill', ['-9', pid]);
      spawnSync('ip', ['netns', 'del', NS]);
    }
    expect(left).toEqual([]);
    expect(netnsList()).not.toContain(NS);
  });

  for (const [family, host, port] of [
    [4, '127.0.0.1', 7921],
    [6, '::1', 7922],
  ] as const) {
    it(`passthrough (IPv${family}): the bytes arrive intact, the big segments are tracked (partial, none malformed), the pcapng holds them cut short`, async () => {
      const pcap = join(tmp, `bulk-${family}.pcapng`);
      const r = await transfer(`bulk-${family}`, host, port, ['--pcap', pcap]);
      expect(r.got).toMatchObject({ bytes: MIB << 20, sha256: r.sent.sha256 });
      expect(r.stats.malformed).toBe(0);
      // Most of a bulk transfer's segments are MSS-sized (65 483 bytes of payload on IPv4 with timestamps, 65 464 on IPv6): over the copy limit.
      expect(r.stats.partial as number).toBeGreaterThan(500);
      expectStatesAsKernel(r.events);
      // Each partial segment's arrival and departure: 65 531 bytes of IP captured (+14 of the pseudo-Ethernet header), the frame's real length beside it.
      const rows = execFileSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] })
        .trim()
        .split('\n')
        .map((l) => l.split('\t').map(Number) as [number, number]);
      const cut = rows.filter(([len, cap]) => cap < len);
      expect(cut.length).toBe(2 * (r.stats.partial as number));
      expect(cut.every(([len, cap]) => cap === 65_545 && len > cap && len <= 65_536 + 14)).toBe(true);
    });
  }

  it('drops, duplicates and delays of big segments: the bytes still arrive intact, no partial segment is ever copied', async () => {
    const profile = join(tmp, 'bulk-faults.yaml');
    writeFileSync(
      profile,
      [
        'name: bulk-faults',
        'description: verdicts on segments the queue copies only in part',
        'rules:',
        '  - id: drop',
        '    match: { from: client, role: data, afterBytes: 1000000 }',
        '    action: drop',
        '    times: 3',
        '  - id: duplicate',
        '    match: { from: client, role: data, afterBytes: 5000000 }',
        '    action: duplicate',
        '    times: 5',
        '  - id: delay',
        '    match: { from: client, role: data, afterBytes: 20000000 }',
        '    action: { delay: { ms: 30 } }',
        '    times: 5',
        '',
      ].join('\n'),
    );
    const r = await transfer('bulk-faults', '127.0.0.1', 7923, ['--profile', profile]);
    expect(r.got).toMatchObject({ bytes: MIB << 20, sha256: r.sent.sha256 });
    expect(r.stats.dropped).toBe(3);
    expect(r.stats.delayed).toBe(5);
    const segs = r.events.filter((e) => e.type === 'segment' && e.rule === 2);
    const notCopied = segs.filter((e) => String(e.detail).startsWith('not copied: '));
    console.log(`bulk-faults: duplicate rule matched ${segs.length}, ${notCopied.length} not copied (partial), ${r.stats.duplicated} duplicated`);
    expect(segs).toHaveLength(5);
    expect(notCopied.length + (r.stats.duplicated as number)).toBe(5);
    expect(notCopied.length).toBeGreaterThan(0);
    expectStatesAsKernel(r.events);
  });
});
