// `tcpmitm lab --pcap` (issue 7): the file is valid after a run whose
// expectations failed (exit 3) and after Ctrl-C mid-run; tshark reads it with
// no error and counts exactly the frames the engine saw plus those it forged.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { ensureBuilt, labDown, labDownAll, leftovers, readEvents, runCli, startCli, waitForEvents } from '../helpers/run-lab.js';

const root = requireRoot();
const dir = mkdtempSync(join(tmpdir(), 'tcpmitm-pcap-'));
const ids: string[] = [];

function newId(): string {
  const id = uniqueLabId('l7p');
  ids.push(id);
  return id;
}

/** tshark's packet count and comments, and whatever it said on stderr beyond its root notice. */
function tshark(file: string): { count: number; comments: string[]; errors: string } {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.comment'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.split('\n').slice(0, -1);
  const errors = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/Running as user "root"/.test(l))
    .join('\n');
  return { count: lines.length, comments: lines.filter((l) => l !== ''), errors };
}

function finalStats(json: string): { frames: number; forged: number } {
  const stats = readEvents(json).filter((e) => e.type === 'stats');
  return stats.at(-1) as unknown as { frames: number; forged: number };
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
    expect(t.count).toBe(s.frames + s.forged);
    expect(t.comments.length).toBeGreaterThanOrEqual(2);
    for (const c of t.comments) expect(c).toBe('dropped by rule 1 (last-ack)');
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
    expect(t.count).toBe(s.frames + s.forged);
    expect(leftovers(id)).toEqual([]);
  });
});
