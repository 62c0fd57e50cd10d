// Outputs fail safe (issue 12 §3), through the real CLI on real labs. A full
// filesystem (a small tmpfs this test mounts): the exchange still completes
// (the peers' exits and the kernel's states pass the verdict), each broken
// output is reported once (a warning and one stderr line), no stack trace,
// exit 4 (3 when the verdict failed: never masked); what was written ends at
// a whole line / block. `--json - | head -1` and `--pcap - | head -c` end
// quietly with the run's own code, and a slow reader loses nothing; `--pcap -`
// streams a pcapng tshark reads;
// a symbolic link or another user's file at an output path is refused and
// its target untouched; created files are 0600 (under umask 022).

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, netnsList, requireRoot, uniqueLabId } from '../helpers/lab.js';
import { BIN, cliEnv, ensureBuilt, labDown, labDownAll, leftovers, readEvents, runCli, type CliRun, type LabEvent } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('op-outputs-');
const ids: string[] = [];
const mounts: string[] = [];

function newId(): string {
  const id = uniqueLabId('op');
  ids.push(id);
  return id;
}

/** A tmpfs of `size` (e.g. "64k") on a folder of our own; unmounted in afterEach, failure or not. */
function smallFs(name: string, size: string): string {
  const m = join(dir, name);
  mkdirSync(m);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, `op-${name}`, m]);
  mounts.push(m);
  return m;
}

/** Fills a filesystem to the last byte (dd stops at ENOSPC). */
function fill(m: string): void {
  spawnSync('dd', ['if=/dev/zero', `of=${join(m, 'filler')}`, 'bs=4k'], { encoding: 'utf8' });
  expect(spawnSync('sh', ['-c', `echo x > ${join(m, 'probe')}`]).status).not.toBe(0);
}

function profile(name: string, yaml: string): string {
  const p = join(dir, `${name}.yaml`);
  writeFileSync(p, `name: ${name}\ndescription: a test profile\n${yaml}`);
  return p;
}

/** The built-in peers exchanging a 2 MB answer, with passthrough's expectations (inferred and kernel states; exits 0). */
const BIG = () =>
  profile(
    'op-big',
    [
      'lab:',
      "  server: ['--send', '2000000', '--on-eof', 'delay:300']",
      "  client: ['--send', '100', '--recv', '2000000', '--then', 'close']",
      'rules: []',
      'expect:',
      '  client: { states: [ESTAB?, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT], within: 10s }',
      '  server: { states: [ESTAB?, CLOSE-WAIT, LAST-ACK?, CLOSED], within: 10s }',
      '',
    ].join('\n'),
  );

/** How many distinct bytes of one side's stream its logged data segments cover (seq is relative: data starts at 1). */
function coveredBytes(evs: LabEvent[], from: 'client' | 'server'): number {
  const ranges = evs
    .filter((e) => e.type === 'segment' && e.from === from && Number(e.len) > 0)
    .map((e) => [Number(e.seq), Number(e.seq) + Number(e.len)] as const)
    .sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let end = -Infinity;
  for (const [s, e] of ranges) {
    if (e <= end) continue;
    covered += e - Math.max(s, end);
    end = e;
  }
  return covered;
}

function explain(r: { code: number | null; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

/** No Node stack trace or uncaught error anywhere in what the run printed. */
function noStackTrace(text: string): void {
  expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(text).not.toMatch(/node:internal|Uncaught|\[E_INTERNAL\]/);
}

/** The E_OUTPUT lines on stderr, and the text log's warnings about incomplete outputs. */
function reports(r: CliRun): { stderr: string[]; log: string[] } {
  return {
    stderr: r.stderr.split('\n').filter((l) => l.includes('[E_OUTPUT]')),
    log: r.stdout.split('\n').filter((l) => / warning: .* is incomplete: /.test(l)),
  };
}

/** The passthrough-like verdict: every check met, the kernel's states among them. */
function verdictMet(r: CliRun): void {
  expect(r.stderr, explain(r)).toMatch(/^profile .*: all \d+ checks met$/m);
  for (const subject of ['client states (kernel)', 'server states (kernel)', 'client exit', 'server exit']) {
    expect(r.stderr, explain(r)).toMatch(new RegExp(`^  ok   ${subject.replace(/[()]/g, '\\$&')}$`, 'm'));
  }
}

/** Runs a shell pipeline (bash, so PIPESTATUS gives tcpmitm's own exit) in `cwd`, bounded; its own group, killed at the deadline. */
function pipeline(script: string, cwd: string, timeoutMs = 45_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  ensureBuilt();
  const child = spawn('bash', ['-c', script], { cwd, env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('latin1').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Gone.
    }
  }, timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: out, stderr: err });
    }),
  );
}

const tcpmitm = `umask 022; node ${BIN}`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(root.skip)('outputs fail safe (real namespaces)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => {
    for (const m of mounts.splice(0)) {
      if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
      rmSync(m, { recursive: true, force: true });
    }
    for (const id of ids.splice(0)) labDown(id);
    labDownAll();
  });

  it('a full filesystem: the exchange completes, --json, --pcap and --junit are each reported once, exit 4, no stack trace', async () => {
    const full = smallFs('full', '16k');
    fill(full);
    const id = newId();
    const [json, pcap, junit] = ['ev.jsonl', 'run.pcapng', 'verdict.xml'].map((f) => join(full, f)) as [string, string, string];
    const r = await runCli(['lab', '--no-ui', '--id', id, '--json', json, '--pcap', pcap, '--junit', junit], 40_000);
    expect(r.code, explain(r)).toBe(4);
    noStackTrace(r.stdout + r.stderr);
    verdictMet(r);
    const { stderr, log } = reports(r);
    expect(stderr, explain(r)).toHaveLength(3);
    expect(log, explain(r)).toHaveLength(3);
    for (const [flag, path] of [['--json', json], ['--pcap', pcap], ['--junit', junit]] as const) {
      // The log's first batch (the timer flush), the first block, the report at the end: none fits.
      const line = `tcpmitm: ${flag} '${path}' is incomplete: ENOSPC: no space left on device, write; it is left empty and nothing more is written to it; the run goes on (exit 4 at its end, unless it fails otherwise) [E_OUTPUT]`;
      expect(stderr.filter((l) => l === line), explain(r)).toHaveLength(1);
      expect(log.filter((l) => l.includes(`warning: ${flag} '${path}' is incomplete: ENOSPC`))).toHaveLength(1);
      expect(statSync(path).size).toBe(0);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    }
    expect(r.stdout).toMatch(/end: all connections closed \(exit 4\)$/m);
    expect(leftovers(id)).toEqual([]);
  });

  it('a filesystem that fills mid-run (2 MB through the lab): the log ends at its last whole line, the pcapng at its last whole block', async () => {
    const jfs = smallFs('json', '64k');
    const pfs = smallFs('pcap', '64k');
    const id = newId();
    const json = join(jfs, 'ev.jsonl');
    const pcap = join(pfs, 'run.pcapng');
    // --segments: one JSON line per segment, so batches pass 64 KiB and are written from the event path.
    const r = await pipeline(`${tcpmitm} lab --no-ui --segments --id ${id} --profile ${BIG()} --json ${json} --pcap ${pcap}`, dir);
    const run = { ...r, ms: 0, signal: null } as CliRun;
    expect(r.code, explain(r)).toBe(4);
    noStackTrace(r.stdout + r.stderr);
    verdictMet(run);
    expect(reports(run).stderr, explain(r)).toHaveLength(2);
    expect(reports(run).log, explain(r)).toHaveLength(2);
    // Every line whole and parsed. A batch that broke keeps the lines it got out whole: how many
    // depends on the kernel (tmpfs may refuse a large write outright, or take part of it).
    const text = readFileSync(json, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const evs = text.split('\n').slice(0, -1).map((l) => JSON.parse(l) as LabEvent);
    expect(evs[0]!.type).toBe('start');
    expect(r.stderr).toContain(`--json '${json}' is incomplete: ENOSPC: no space left on device, write; it ends at its last whole line (${statSync(json).size} bytes)`);
    // tshark reads the cut pcapng without complaint.
    const t = spawnSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr.split('\n').filter((l) => l.trim() && !/Running as user "root"/.test(l))).toEqual([]);
    expect(t.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(10);
    expect(r.stderr).toContain(`--pcap '${pcap}' is incomplete: ENOSPC: no space left on device, write; it ends at its last whole block (${statSync(pcap).size} bytes)`);
    for (const p of [json, pcap]) expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(leftovers(id)).toEqual([]);
  });

  it('a full filesystem under a failed verdict: exit 3, not masked by the broken output', async () => {
    const full = smallFs('full3', '16k');
    fill(full);
    const id = newId();
    const failing = profile(
      'op-fails',
      ['lab: { duration: 3 }', 'rules:', '  - match: { from: client, role: last-ack }', '    action: drop', 'expect:', '  server: { states: [CLOSE-WAIT, LAST-ACK, CLOSED], source: inferred }', ''].join('\n'),
    );
    const r = await runCli(['lab', '--no-ui', '--id', id, '--profile', failing, '--json', join(full, 'ev.jsonl')], 40_000);
    expect(r.code, explain(r)).toBe(3);
    noStackTrace(r.stdout + r.stderr);
    expect(reports(r).stderr).toHaveLength(1);
    expect(r.stdout).toMatch(/end: .* \(exit 3\)$/m);
    expect(leftovers(id)).toEqual([]);
  });

  it('`--json - | head -1` and `--pcap - | head -c 64` end quietly, with the run’s own exit code, after the run went to its end', async () => {
    for (const [flag, head] of [['--json', 'head -1'], ['--pcap', 'head -c 64']] as const) {
      const id = newId();
      const r = await pipeline(`${tcpmitm} lab --no-ui --id ${id} ${flag} - | ${head}; echo "tcpmitm exit \${PIPESTATUS[0]}" >&2`, dir);
      expect(r.stderr, explain(r)).toMatch(/^tcpmitm exit 0$/m);
      noStackTrace(r.stderr);
      expect(r.stderr).not.toMatch(/EPIPE|E_OUTPUT|incomplete/);
      // The run went to its end: its verdict, with the kernel's states, was checked.
      verdictMet({ ...r, ms: 0, signal: null } as CliRun);
      if (flag === '--json') expect(JSON.parse(r.stdout)).toMatchObject({ type: 'start', mode: 'lab', lab: id });
      else expect(Buffer.from(r.stdout, 'latin1').readUInt32LE(0)).toBe(0x0a0d0d0a);
      expect(leftovers(id)).toEqual([]);
    }
  });

  it('a slow reader of `--json -` (its pipe full: EAGAIN) loses nothing and stops nothing: every event arrives, the end last, exit 0', async () => {
    const id = newId();
    const cwd = mkdtempSync(join(dir, 'slow-'));
    // The reader takes nothing for 2 s while the 2 MB exchange fills the 64 KiB pipe many times over.
    const r = await pipeline(`${tcpmitm} lab --no-ui --segments --id ${id} --profile ${BIG()} --json - 2>err.txt | (sleep 2; cat) > ev.jsonl; echo "tcpmitm exit \${PIPESTATUS[0]}" >&2`, cwd);
    const err = readFileSync(join(cwd, 'err.txt'), 'utf8');
    expect(r.stderr, explain(r) + err).toMatch(/^tcpmitm exit 0$/m);
    noStackTrace(err);
    expect(err).not.toMatch(/E_OUTPUT|incomplete/);
    verdictMet({ ...r, stderr: err, ms: 0, signal: null } as CliRun);
    // 2 MB in segments of at most 1448 bytes is ≥ 1 382 lines of ~180 bytes: the 64 KiB pipe
    // was full three times over while the reader slept (how many ACKs come on top varies).
    expect(statSync(join(cwd, 'ev.jsonl')).size).toBeGreaterThan(3 * 64 * 1024);
    const evs = readEvents(join(cwd, 'ev.jsonl'));
    expect(evs[0]).toMatchObject({ type: 'start', lab: id });
    expect(evs.at(-1)).toMatchObject({ type: 'end', exitCode: 0 });
    // Nothing lost: the server's data segments cover every byte of the 2 MB (a
    // retransmission may repeat a range; none may be missing).
    expect(coveredBytes(evs, 'server')).toBe(2_000_000);
    expect(leftovers(id)).toEqual([]);
  });

  it('`--pcap -` streams a pcapng that tshark reads from the pipe; no file named "-"; created files are 0600', async () => {
    const id = newId();
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    const json = join(cwd, 'ev.jsonl');
    const junit = join(cwd, 'verdict.xml');
    const r = await pipeline(
      `${tcpmitm} lab --no-ui --id ${id} --profile drop-last-ack --pcap - --json ${json} --junit ${junit} 2>log.txt | tshark -r - -T fields -E separator=\\| -e frame.packet_flags_direction -e frame.comment; echo "exits \${PIPESTATUS[0]} \${PIPESTATUS[1]}" >&2`,
      cwd,
    );
    const log = readFileSync(join(cwd, 'log.txt'), 'utf8');
    expect(r.stderr, explain(r) + log).toMatch(/^exits 0 0$/m);
    noStackTrace(log);
    // The text log went to stderr: stdout was the pcapng's.
    expect(log).toMatch(/end: .* \(exit 0\)$/m);
    const stats = readEvents(json).filter((e) => e.type === 'stats').at(-1) as LabEvent & { frames: number; forged: number; dropped: number };
    // Both sides of every decision: each frame's arrival (direction 1), and what left (2): all but the dropped ones.
    const rows = r.stdout.split('\n').slice(0, -1).map((l) => l.split('|'));
    expect(rows.filter(([d]) => Number(d) === 1).length).toBe(stats.frames);
    expect(rows.filter(([d]) => Number(d) === 2).length).toBe(stats.frames - stats.dropped + stats.forged);
    expect(rows.filter(([d, c]) => Number(d) === 1 && c === 'dropped by rule 1 (last-ack)').length).toBeGreaterThanOrEqual(1);
    expect(readdirSync(cwd).sort()).toEqual(['ev.jsonl', 'log.txt', 'verdict.xml']);
    for (const p of [json, junit]) expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(existsSync(join(REPO, '-'))).toBe(false);
    expect(leftovers(id)).toEqual([]);
  });

  it('a symbolic link planted by another user at an output path is refused, naming it, and its target is untouched; so is their own file', async () => {
    // ~user/logs: a folder of another user (nobody), who plants links to a root-only file.
    const logs = join(dir, 'user-logs');
    mkdirSync(logs);
    chownSync(logs, 65534, 65534);
    const secret = join(dir, 'root-only');
    writeFileSync(secret, 'root only\n', { mode: 0o600 });
    const before = statSync(secret);
    for (const flag of ['--json', '--pcap', '--junit']) {
      const link = join(logs, `link${flag}`);
      symlinkSync(secret, link);
      lchownSync(link, 65534, 65534);
      const id = newId();
      const r = await runCli(['lab', '--no-ui', '--id', id, flag, link], 20_000);
      expect(r.code, explain(r)).toBe(2);
      noStackTrace(r.stderr);
      expect(r.stderr).toContain(`'${link}' is a symbolic link (to '${secret}'): tcpmitm does not follow a link for its outputs`);
      expect(r.stderr).toContain(flag);
      // Refused before any lab was built.
      expect(leftovers(id)).toEqual([]);
    }
    const planted = join(logs, 'ev.jsonl');
    writeFileSync(planted, 'theirs\n');
    chownSync(planted, 65534, 65534);
    const r = await runCli(['lab', '--no-ui', '--id', newId(), '--json', planted], 20_000);
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toContain(`'${planted}' belongs to another user (uid 65534)`);
    expect(readFileSync(planted, 'utf8')).toBe('theirs\n');
    const after = statSync(secret);
    expect(readFileSync(secret, 'utf8')).toBe('root only\n');
    expect([after.mode, after.mtimeMs, after.size]).toEqual([before.mode, before.mtimeMs, before.size]);
  });
});

describe.skipIf(root.skip)('a closed stdout in tap mode (real namespace)', () => {
  const ns = `op-tap-${process.pid}`;
  beforeAll(() => {
    ensureBuilt();
    spawnSync('ip', ['netns', 'del', ns]);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }, 120_000);
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
    expect(netnsList()).not.toContain(ns);
  });

  it('`tap … | head -1` goes on to its end: its verdict (failed: exit 3) and its JUnit file, not an exit 0 at the first write after head left', async () => {
    // A run of the inference only, that fails: no connection goes by, and the profile expects one.
    const p = profile('op-tap-expects', 'rules: []\nexpect:\n  client: { states: [ESTAB, FIN-WAIT-1], source: inferred }\n');
    const junit = join(dir, 'tap.xml');
    const r = await pipeline(`ip netns exec ${ns} node ${BIN} tap --iface lo --no-ui --duration 1 --profile ${p} --junit ${junit} | head -1; echo "tcpmitm exit \${PIPESTATUS[0]}" >&2`, dir);
    expect(r.stderr, explain(r)).toMatch(/^tcpmitm exit 3$/m);
    noStackTrace(r.stderr);
    expect(r.stdout).toMatch(/tcpmitm tap/);
    expect(readFileSync(junit, 'utf8')).toContain('<failure');
  });
});
