// --pcap on a real run: `tcpmitm attach` between two namespaces of the test's
// own (t7-pc ⇄ t7-pm ⇄ t7-ps) with a fault profile. tshark must read the file
// back without error; its inbound packets must be the engine's frame count
// and its forged outbound ones the segments it forged (the final `stats`
// event of the JSONL); and the comments of the arrivals and the forged
// packets must be exactly the actions of the JSONL.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { join } from 'node:path';
import { REPO, netnsList, requireRoot, until } from '../helpers/lab.js';
import { commentFor } from '../../src/io/pcapng-writer.js';
import type { SegmentEvent, StatsEvent } from '../../src/engine/events.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const NS = { c: 't7-pc', m: 't7-pm', s: 't7-ps' } as const;
const BIN = join(REPO, 'bin/tcpmitm.js');
const tmp = tempDir('t7-pcap-');
const hasTshark = spawnSync('tshark', ['-v']).status === 0;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
function inNs(ns: string, cmd: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8' });
}
function teardown(): void {
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
}
function run(ns: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((res) => child.on('close', (code) => res({ code, out, err })));
}
/**
 * A built-in profile's rules without its expectations: those describe the
 * lab's built-in peers on connection 1, and here (attach, a leftover FIN of
 * the previous run may be connection 1, a loaded machine may miss `within`)
 * the verdict is not what this file tests; the pcapng is.
 */
function rulesOnly(name: string): string {
  const p = parse(readFileSync(join(REPO, 'profiles', `${name}.yaml`), 'utf8')) as Record<string, unknown>;
  delete p.expect;
  const file = join(tmp, `${name}-rules.yaml`);
  writeFileSync(file, stringify(p));
  return file;
}

const readEvents = (p: string) =>
  existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];

/** One attach run with --pcap and --json around a client/server exchange; returns the events and tshark's view. */
async function capturedRun(name: string, port: number, profileArgs: string[], clientThen: string) {
  const json = join(tmp, `${name}.jsonl`);
  const pcap = join(tmp, `${name}.pcapng`);
  const attach = run(NS.m, ['attach', '--a', 'm0', '--b', 'm1', '--no-ui', '--json', json, '--pcap', pcap, '--duration', '4', ...profileArgs]);
  await until(() => readEvents(json).some((e) => e.type === 'start'), 10_000);
  const server = run(NS.s, ['peer', 'server', '--port', String(port), '--on-eof', 'delay:300', '--send', '100', '--timeout', '3000']);
  await until(() => inNs(NS.s, 'ss', '-Htln').includes(`:${port}`), 5000);
  await run(NS.c, ['peer', 'client', '--connect', `198.18.0.2:${port}`, '--send', '100', '--recv', '100', '--then', clientThen, '--timeout', '3000']);
  await server;
  const r = await attach;
  expect(r.err).not.toContain('tcpmitm:');
  expect(r.code).toBe(0);
  const events = readEvents(json);
  const read = spawnSync('tshark', ['-r', pcap], { encoding: 'utf8' });
  const comments = spawnSync('tshark', ['-r', pcap, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.packet_flags_direction', '-e', 'frame.comment'], { encoding: 'utf8' });
  const ifaces = spawnSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'frame.interface_name'], { encoding: 'utf8' });
  return { events, read, comments, ifaces };
}

describe.skipIf(root.skip || !hasTshark)('pcapng from a real attach run', () => {
  beforeAll(() => {
    teardown();
    for (const ns of Object.values(NS)) ip('netns', 'add', ns);
    ip('-n', NS.c, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'm0', 'netns', NS.m);
    ip('-n', NS.s, 'link', 'add', 's0', 'type', 'veth', 'peer', 'name', 'm1', 'netns', NS.m);
    ip('-n', NS.c, 'addr', 'add', '198.18.0.1/24', 'dev', 'c0');
    ip('-n', NS.s, 'addr', 'add', '198.18.0.2/24', 'dev', 's0');
    for (const [ns, devs] of [[NS.c, ['lo', 'c0']], [NS.m, ['lo', 'm0', 'm1']], [NS.s, ['lo', 's0']]] as const) {
      for (const d of devs) {
        ip('-n', ns, 'link', 'set', d, 'up');
        if (d !== 'lo') inNs(ns, 'ethtool', '-K', d, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off');
      }
    }
  });
  afterAll(() => {
    teardown();
    for (const ns of Object.values(NS)) expect(netnsList()).not.toContain(ns);
  });

  const check = (r: Awaited<ReturnType<typeof capturedRun>>) => {
    expect(r.read.status).toBe(0);
    // tshark's only stderr line as root is its "Running as user root" notice; any read error would show here.
    expect(r.read.stderr.split('\n').filter((l) => l && !l.startsWith('Running as user'))).toEqual([]);
    const packets = r.read.stdout.split('\n').filter(Boolean).length;
    const stats = r.events.filter((e): e is StatsEvent & Record<string, unknown> => e.type === 'stats').at(-1)!;
    expect(packets).toBeGreaterThan(10);
    // Both sides of every decision: each captured frame's arrival (inbound), and what left (outbound).
    const rows = r.comments.stdout.split('\n').slice(0, packets).map((l) => {
      const [dir, comment] = l.split('|');
      return { dir: Number(dir) & 3, comment: comment ?? '' };
    });
    const inbound = rows.filter((x) => x.dir === 1);
    expect(inbound.length).toBe(stats.frames);
    const outbound = rows.filter((x) => x.dir === 2);
    expect(outbound.filter((x) => x.comment.startsWith('forged')).length).toBe(stats.forged);
    expect(inbound.length + outbound.length).toBe(packets);
    const got = [...inbound.map((x) => x.comment), ...outbound.filter((x) => x.comment.startsWith('forged')).map((x) => x.comment)].filter((c) => c !== 'passed');
    const want = r.events
      .filter((e) => e.type === 'segment')
      .map((e) => commentFor(e as unknown as SegmentEvent))
      .filter((c): c is string => c !== undefined);
    expect(got.length).toBeGreaterThan(0);
    expect([...got].sort()).toEqual([...want].sort());
    // One interface block per side, named as given.
    expect(new Set(r.ifaces.stdout.split('\n').filter(Boolean))).toEqual(new Set(['m0', 'm1']));
    return { got, stats };
  };

  it('drop-last-ack: every dropped last ACK is a packet commented "dropped by rule 1 (last-ack)"', async () => {
    const r = await capturedRun('drop', 8080, ['--profile', rulesOnly('drop-last-ack')], 'close');
    const { got, stats } = check(r);
    expect(got[0]).toBe('dropped by rule 1 (last-ack)');
    expect(stats.dropped).toBe(got.length);
    expect(got.every((c) => c === 'dropped by rule 1 (last-ack)')).toBe(true);
    expect(stats.forged).toBe(0);
  });

  it('forge-rst: the forged RST is a packet of its own, commented, and counted', async () => {
    const r = await capturedRun('forge', 8081, ['--profile', rulesOnly('forge-rst'), '--set', 'to=server'], 'shutdown');
    const { got, stats } = check(r);
    // The drop run's server socket, orphaned in LAST-ACK, may still retransmit its FIN into this
    // run: a picked-up connection on port 8080 that the rule (first FIN) resets too. Count ours.
    const ours = r.events.find((e) => e.type === 'connection' && e.server === '198.18.0.2:8081')!;
    expect(ours).toMatchObject({ pickedUp: false });
    const forged = r.events.filter((e) => e.type === 'segment' && e.verdict === 'forged');
    expect(forged.filter((e) => e.conn === ours.conn)).toEqual([expect.objectContaining({ from: 'client', flags: 'RA', detail: 'RST to server', rule: 1 })]);
    expect(stats.forged).toBe(forged.length);
    expect(got.filter((c) => c === 'forged RST to server by rule 1').length).toBe(forged.length);
  });
});
