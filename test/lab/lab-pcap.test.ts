// `tcpmitm lab --pcap` (issue 7): the file is valid after a run whose
// expectations failed (exit 3) and after Ctrl-C mid-run; tshark reads it with
// no error and counts exactly the frames the engine saw plus those it forged.

import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { ensureBuilt, labDown, labDownAll, leftovers, readEvents, runCli, startCli, waitForEvents } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('tcpmitm-pcap-');
const ids: string[] = [];

function newId(): string {
  const id = uniqueLabId('l7p');
  ids.push(id);
  return id;
}

/** tshark's reading of a pcapng: arrivals and departures, the decisions named, and whatever it said on stderr beyond its root notice. */
/**
 * The file as tshark reads it: each record's direction (the pcapng records a
 * frame's arrival, inbound, and what left, outbound) and the decision its
 * comment names (arrivals that simply passed say "passed").
 */
function tshark(file: string): { inbound: number; outbound: number; decisions: string[]; errors: string } {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.packet_flags_direction', '-e', 'frame.comment'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const rows = r.stdout.split('\n').slice(0, -1).map((l) => ({ dir: Number(l.split('|')[0]), comment: l.slice(l.indexOf('|') + 1) }));
  const errors = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/Running as user "root"/.test(l))
    .join('\n');
  const inbound = rows.filter((x) => x.dir === 1);
  return { inbound: inbound.length, outbound: rows.filter((x) => x.dir === 2).length, decisions: inbound.map((x) => x.comment).filter((c) => c !== '' && c !== 'passed'), errors };
}

interface FinalStats {
  frames: number;
  forged: number;
  dropped: number;
  coalesced: number;
  duplicated: number;
}

function finalStats(json: string): FinalStats {
  const stats = readEvents(json).filter((e) => e.type === 'stats');
  return stats.at(-1) as unknown as FinalStats;
}

/** Every frame captured arrived once (inbound); every one not dropped left once, plus the forged and duplicated ones (outbound). */
function expectBothSides(t: ReturnType<typeof tshark>, s: FinalStats): void {
  expect(t.inbound).toBe(s.frames);
  expect(t.outbound).toBe(s.frames - s.dropped - s.coalesced + s.forged + s.duplicated);
}

describe.skipIf(root.skip)('tcpmitm lab --pcap (real namespaces)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => {
    for (const id of ids.splice(0)) labDown(id);
    labDownAll();
  });

  it('is valid after a failed expectation, with a comment on each dropped last ACK', async () => {
    const id = newId();
    const profile = join(dir, 'fails.yaml');
    // Drops the client's last ACKs and then expects a clean close, which cannot happen.
    writeFileSync(
      profile,
      [
        'name: drop-and-expect-close',
        'description: drops the last ACK, yet expects the server CLOSED',
        'lab: { duration: 3 }',
        'rules:',
        '  - match: { from: client, role: last-ack }',
        '    action: drop',
        'expect:',
        '  server: { states: [CLOSE-WAIT, LAST-ACK, CLOSED], source: inferred }',
        '',
      ].join('\n'),
    );
    const json = join(dir, `${id}.jsonl`);
    const pcap = join(dir, `${id}.pcapng`);
    const r = await runCli(['lab', '--no-ui', '--id', id, '--profile', profile, '--json', json, '--pcap', pcap, '--kernel-probe', 'off'], 30_000);
    expect(r.code, r.stderr).toBe(3);
    const t = tshark(pcap);
    expect(t.errors).toBe('');
    const s = finalStats(json);
    expectBothSides(t, s);
    expect(t.decisions.length).toBeGreaterThanOrEqual(2);
    for (const c of t.decisions) expect(c).toBe('dropped by rule 1 (last-ack)');
    expect(leftovers(id)).toEqual([]);
  });

  it('is valid after Ctrl-C mid-run', async () => {
    const id = newId();
    const json = join(dir, `${id}.jsonl`);
    const pcap = join(dir, `${id}.pcapng`);
    const run = startCli(['lab', '--no-ui', '--id', id, '--json', json, '--pcap', pcap, '--kernel-probe', 'off', '--client', 'sleep 30'], 30_000);
    await waitForEvents(json, (evs) => evs.some((e) => e.type === 'app' && e.endpoint === 'server' && e.event === 'listening'));
    // Some traffic, then the interrupt while the run is still up.
    const exec = await runCli(['lab', 'exec', id, 'client', '--', process.execPath, '-e',
      "const s=require('net').connect(8080,'198.18.0.2',()=>{s.end('hello')});s.on('data',()=>{});s.on('close',()=>process.exit(0))"], 15_000);
    expect(exec.code, exec.stderr).toBe(0);
    process.kill(run.child.pid!, 'SIGINT');
    const done = await run.done;
    expect(done.code).toBe(130);
    expect(readEvents(json).at(-1)).toMatchObject({ type: 'end', exitCode: 130 });
    const t = tshark(pcap);
    expect(t.errors).toBe('');
    const s = finalStats(json);
    expect(s.frames).toBeGreaterThan(5);
    expectBothSides(t, s);
    expect(leftovers(id)).toEqual([]);
  });
});
