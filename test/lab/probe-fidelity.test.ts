// Issue 11 "States that did not happen", kernel side: real programs (python3
// sockets, socat, nc, curl) through the real CLI with the tracepoint probe,
// the inference compared with the kernel's own transitions — a half-close
// past tcp_fin_timeout, an orphan timing out (timer-wheel slack), a TIME-WAIT
// reused by a new SYN, a FIN queued behind 50 MB, connect()'s SYN-SENT time,
// and no disagreement on a machine whose CPUs are saturated.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { ensureBuilt, labDown, labDownAll, leftovers, readEvents, runCli, states, type CliRun, type LabEvent } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const TRACEFS_EVENT = '/sys/kernel/tracing/events/sock/inet_sock_set_state';
if (!root.skip && !existsSync(TRACEFS_EVENT)) spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
const hasTrace = existsSync(TRACEFS_EVENT);
// The tracepoint is what these tests compare against: without it they fail in CI, and are skipped with a reason elsewhere.
const skip = root.skip || (!hasTrace && process.env.CI !== 'true');
if (!root.skip && !hasTrace) console.warn(`probe-fidelity: ${TRACEFS_EVENT} is absent (tracefs not mounted?)`);
const missing = ['socat', 'nc', 'curl'].filter((p) => spawnSync('which', [p]).status !== 0);
if (missing.length > 0 && !skip) throw new Error(`missing ${missing.join(', ')}: run scripts/bootstrap.sh --test`);

const dir = tempDir('tcpmitm-pf-');
const ids: string[] = [];
const PLAIN = join(dir, 'plain.yaml');
writeFileSync(PLAIN, 'name: plain\ndescription: no rules, no expectations\nrules: []\n');

/** The test's own programs, written where every namespace can read them. */
const PY = {
  halfServer: `import socket, sys, time
# Reads to the client's FIN, then sends (or, quiet, just holds the socket) for argv[1] s, then closes.
seconds = float(sys.argv[1]); quiet = len(sys.argv) > 2
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('198.18.0.2', 8080)); l.listen()
c, _ = l.accept()
while c.recv(65536): pass
end = time.monotonic() + seconds
while time.monotonic() < end:
    if not quiet: c.send(b'x' * 100)
    time.sleep(0.2)
c.close()
`,
  orphanClient: `import socket, time
# shutdown(SHUT_WR), then close() in FIN-WAIT-2: the kernel makes it an orphan (tcp_fin_timeout runs).
s = socket.create_connection(('198.18.0.2', 8080))
s.send(b'hello'); s.shutdown(socket.SHUT_WR)
time.sleep(0.3)
s.close()
`,
  reuseServer: `import socket
# Answers and closes first, twice: the server is the active closer and keeps the TIME-WAIT.
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('198.18.0.2', 8080)); l.listen()
for _ in range(2):
    c, _ = l.accept()
    c.recv(100); c.send(b'bye'); c.close()
`,
  reuseClient: `import socket, time
# The same source port twice: the second SYN meets the server's TIME-WAIT (tcp_timewait_state_process: TCP_TW_SYN).
for _ in range(2):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('198.18.0.1', 40123)); s.connect(('198.18.0.2', 8080))
    s.send(b'hi')
    while s.recv(100): pass
    s.close()
    time.sleep(0.3)
`,
  bulkClient: `import socket, sys
# Sends argv[1] bytes, then close(): the FIN is queued behind whatever is still unsent.
s = socket.create_connection(('198.18.0.2', 8080))
s.sendall(b'x' * int(sys.argv[1]))
s.close()
`,
  slowServer: `import socket, time
# Reads 16 KiB every 5 ms: the client's data, and its FIN behind it, drain long after its close.
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('198.18.0.2', 8080)); l.listen()
c, _ = l.accept()
while c.recv(16384): time.sleep(0.005)
c.close()
`,
};
const py: Record<keyof typeof PY, string> = Object.fromEntries(
  Object.entries(PY).map(([name, src]) => {
    const file = join(dir, `${name}.py`);
    writeFileSync(file, src);
    return [name, `python3 ${file}`];
  }),
) as Record<keyof typeof PY, string>;

function explain(r: CliRun): string {
  return `exit ${r.code} (${r.signal ?? 'no signal'}) after ${Math.round(r.ms)} ms\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr}`;
}

/** Runs a lab with the tracepoint probe; the run must end by itself with exit 0. */
async function lab(name: string, args: readonly string[], probe: 'trace' | 'proc' = 'trace'): Promise<LabEvent[]> {
  const id = uniqueLabId('pf');
  ids.push(id);
  const json = join(dir, `${name}-${id}.jsonl`);
  const run = await runCli(['lab', '--no-ui', '--id', id, '--json', json, '--kernel-probe', probe, '--profile', PLAIN, ...args], 60_000);
  const evs = readEvents(json);
  console.log(`${name}: ${summary(evs)}`);
  expect(run.code, explain(run)).toBe(0);
  expect(leftovers(id)).toEqual([]);
  return evs;
}

/** One line per connection and endpoint: inferred and kernel sequences with times, then lags and disagreements. */
function summary(evs: readonly LabEvent[]): string {
  const lines: string[] = [];
  for (const c of new Set(evs.filter((e) => e.type === 'connection').map((e) => e.conn as number))) {
    for (const ep of ['client', 'server'] as const) {
      for (const src of ['inferred', 'kernel'] as const) {
        const own = evs.filter((e) => e.type === 'state' && e.conn === c && e.endpoint === ep && e.source === src);
        lines.push(`  #${c} ${ep} ${src}: ${own.length ? [String(own[0]!.from), ...own.map((e) => `${String(e.to)}@${e.t.toFixed(3)}`)].join(' → ') : '-'}`);
      }
    }
  }
  for (const e of evs.filter((x) => x.type === 'lag' || x.type === 'disagreement')) lines.push(`  ${JSON.stringify(e)}`);
  return `\n${lines.join('\n')}`;
}

const of = (evs: readonly LabEvent[], type: string) => evs.filter((e) => e.type === type);
const stateAt = (evs: readonly LabEvent[], source: string, endpoint: string, to: string, conn = 1) =>
  evs.find((e) => e.type === 'state' && e.source === source && e.endpoint === endpoint && e.to === to && e.conn === conn);

describe.skipIf(skip)('kernel probe fidelity with real programs (issue 11)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => {
    for (const id of ids.splice(0)) labDown(id);
  });
  afterAll(() => labDownAll());

  it('item 2: socat half-closes and keeps reading for 4 s, past a 2 s tcp_fin_timeout: FIN-WAIT-2 lasts until the FIN, no CLOSED invented', async () => {
    const evs = await lab('half-close', ['--fin-timeout', '2',
      '--server', `${py.halfServer} 4`,
      // socat shuts the TCP side down for writing at its stdin's EOF and reads on until the peer's FIN.
      '--client', `sh -c "sysctl -qw net.ipv4.tcp_fin_timeout=2 && socat -t 15 STDIO TCP:198.18.0.2:8080 > /dev/null"`]);
    const expected = ['CLOSED', 'SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'];
    expect(states(evs, 'client', 'inferred')).toEqual(expected);
    expect(states(evs, 'client', 'kernel')).toEqual(expected);
    const fw2 = stateAt(evs, 'inferred', 'client', 'FIN-WAIT-2')!;
    const tw = stateAt(evs, 'inferred', 'client', 'TIME-WAIT')!;
    expect(tw.t - fw2.t).toBeGreaterThan(3.5);
    expect(evs.some((e) => e.type === 'state' && String(e.cause).includes('tcp_fin_timeout'))).toBe(false);
    expect(of(evs, 'disagreement')).toEqual([]);
  });

  it('items 2 and 5: a python3 orphan (closed in FIN-WAIT-2) times out after tcp_fin_timeout=3 s, the kernel up to one wheel granularity later: a lag, never a disagreement', async () => {
    const evs = await lab('orphan', ['--fin-timeout', '3', '--server', `${py.halfServer} 4.5 quiet`,
      '--client', `sh -c "sysctl -qw net.ipv4.tcp_fin_timeout=3 && ${py.orphanClient}"`]);
    expect(states(evs, 'client', 'kernel').slice(-3)).toEqual(['FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSED']);
    expect(states(evs, 'client', 'inferred').slice(-3)).toEqual(['FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSED']);
    const inferredEnd = stateAt(evs, 'inferred', 'client', 'CLOSED')!;
    const kernelEnd = stateAt(evs, 'kernel', 'client', 'CLOSED')!;
    expect(inferredEnd.cause).toBe('timer tcp_fin_timeout (orphaned: its application closed it)');
    // The orphan came 0.3 s into FIN-WAIT-2: the timeout counts from it, not from FIN-WAIT-2.
    const fw2 = stateAt(evs, 'inferred', 'client', 'FIN-WAIT-2')!;
    expect(inferredEnd.t - fw2.t).toBeGreaterThan(3.2);
    expect(inferredEnd.t - fw2.t).toBeLessThan(3.6);
    // 3 s at HZ=250 is 750 jiffies, wheel level 2: up to 64 jiffies (256 ms) late, never early.
    const lateMs = (kernelEnd.t - inferredEnd.t) * 1000;
    console.log(`orphan: the kernel's FIN-WAIT-2 ended ${Math.round(lateMs)} ms after the inferred one`);
    expect(lateMs).toBeGreaterThan(-10);
    expect(lateMs).toBeLessThan(400);
    // The mini-socket's end is found by polling /proc, so the kernel's CLOSED is
    // known only within [previous look, this look]: a lag is reported when the
    // lateness certainly exceeds the grace, which a slow poll (a loaded machine)
    // can leave unsure even at 63 ms observed. Whatever it is, never a disagreement.
    const lags = of(evs, 'lag');
    expect(lags.length).toBeLessThanOrEqual(1);
    for (const lag of lags) expect(lag).toMatchObject({ endpoint: 'client', state: 'CLOSED', reason: expect.stringMatching(/timer wheel slack/) });
    if (lateMs > 250) expect(lags).toHaveLength(1);
    if (lateMs < 40) expect(lags).toEqual([]);
    expect(of(evs, 'disagreement')).toEqual([]);
  });

  for (const probe of ['trace', 'proc'] as const) {
    it(`item 3 (${probe}): a python3 client reuses its port while the server holds TIME-WAIT: connection 1 ends, connection 2 has its own history`, async () => {
      const evs = await lab(`reuse-${probe}`, ['--server', py.reuseServer, '--client', py.reuseClient], probe);
      expect(of(evs, 'connection').map((e) => e.client)).toEqual(['198.18.0.1:40123', '198.18.0.1:40123']);
      expect(states(evs, 'server', 'inferred', 1).slice(-2)).toEqual(['TIME-WAIT', 'CLOSED']);
      expect(states(evs, 'server', 'kernel', 1).slice(-2)).toEqual(['TIME-WAIT', 'CLOSED']);
      expect(stateAt(evs, 'inferred', 'server', 'CLOSED', 1)!.cause).toMatch(/SYN.*new connection 2/);
      // Connection 2's server socket starts from LISTEN, not from connection 1's TIME-WAIT.
      expect(states(evs, 'server', 'kernel', 2)[0]).toBe('LISTEN');
      expect(states(evs, 'server', 'kernel', 2).at(-1)).toBe('TIME-WAIT');
      expect(states(evs, 'client', 'kernel', 2)[0]).toBe('CLOSED');
      expect(states(evs, 'client', 'kernel', 2).at(-1)).toBe('CLOSED');
      if (probe === 'trace') {
        // The tracepoint also shows the FIN-WAIT-2 a FIN+ACK passes through inside one softirq, which the inference skips.
        const passed = (xs: string[]) => xs.filter((x) => x !== 'FIN-WAIT-2');
        expect(passed(states(evs, 'server', 'kernel', 2))).toEqual(passed(states(evs, 'server', 'inferred', 2)));
        expect(states(evs, 'client', 'kernel', 2)).toEqual(states(evs, 'client', 'inferred', 2));
      }
      expect(of(evs, 'disagreement')).toEqual([]);
    });
  }

  it('item 4: 50 MB from python3 into nc, then close(): the kernel is in FIN-WAIT-1 first, and that is never a disagreement', async () => {
    const evs = await lab('bulk', ['--server', 'nc -l 198.18.0.2 8080 > /dev/null', '--client', `${py.bulkClient} 50000000`]);
    const k = stateAt(evs, 'kernel', 'client', 'FIN-WAIT-1')!;
    const i = stateAt(evs, 'inferred', 'client', 'FIN-WAIT-1')!;
    const ms = Math.round((i.t - k.t) * 1000);
    console.log(`bulk: the wire showed the FIN ${ms} ms after close()`);
    expect(ms).toBeGreaterThanOrEqual(0);
    const lags = of(evs, 'lag');
    if (ms > 60) expect(lags).toMatchObject([{ state: 'FIN-WAIT-1', reason: expect.stringMatching(/queued the FIN behind unsent data/) }]);
    expect(of(evs, 'disagreement')).toEqual([]);
  });

  it('item 4: socat sends 3 MB to a slow python3 reader and shuts down: the FIN waits behind the data, reported as a lag', async () => {
    const evs = await lab('queued-fin', ['--server', py.slowServer, '--client', 'sh -c "head -c 3000000 /dev/zero | socat -u STDIN TCP:198.18.0.2:8080"']);
    const k = stateAt(evs, 'kernel', 'client', 'FIN-WAIT-1')!;
    const i = stateAt(evs, 'inferred', 'client', 'FIN-WAIT-1')!;
    const lag = of(evs, 'lag').find((e) => e.state === 'FIN-WAIT-1');
    expect(lag).toMatchObject({ conn: 1, endpoint: 'client', reason: expect.stringMatching(/queued the FIN behind unsent data/) });
    expect(lag!.kernelT).toBeCloseTo(k.t, 3);
    expect(lag!.inferredT).toBeCloseTo(i.t, 3);
    expect(lag!.ms as number).toBeGreaterThan(50);
    expect(of(evs, 'disagreement')).toEqual([]);
  });

  it("item 6: nc's connect() without bind: SYN-SENT is stamped at connect(), not at the (200 ms delayed) SYN-ACK; the server's socket leaves LISTEN", async () => {
    const profile = join(dir, 'delay-syn-ack.yaml');
    writeFileSync(profile, 'name: delay-syn-ack\ndescription: the SYN-ACK waits 200 ms\nrules:\n  - match: {role: syn-ack}\n    action: {delay: {ms: 200}}\n');
    const evs = await lab('connect', ['--profile', profile, '--server', 'socat -u TCP-LISTEN:8080,bind=198.18.0.2 /dev/null', '--client', 'sh -c "echo hello | nc -N 198.18.0.2 8080"']);
    const kSent = stateAt(evs, 'kernel', 'client', 'SYN-SENT')!;
    const iSent = stateAt(evs, 'inferred', 'client', 'SYN-SENT')!;
    const kEstab = stateAt(evs, 'kernel', 'client', 'ESTAB')!;
    expect(kSent.from).toBe('CLOSED');
    // connect() comes before the SYN on the wire (an ARP exchange at most), long before its SYN-ACK.
    expect(kSent.t).toBeLessThanOrEqual(iSent.t + 0.005);
    expect(iSent.t - kSent.t).toBeLessThan(0.1);
    expect(kEstab.t - kSent.t).toBeGreaterThan(0.15);
    expect(states(evs, 'server', 'kernel').slice(0, 3)).toEqual(['LISTEN', 'SYN-RECV', 'ESTAB']);
    expect(states(evs, 'server', 'inferred').slice(0, 3)).toEqual(['LISTEN', 'SYN-RECV', 'ESTAB']);
    expect(of(evs, 'disagreement')).toEqual([]);
  });

  it('a loaded machine (both cores saturated): the default lab (trace and proc, two at once) and curl against http.server report no disagreement', async () => {
    const hogs: ChildProcess[] = [];
    try {
      for (let i = 0; i < 2; i++) hogs.push(spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' }));
      const runs = await Promise.all([
        lab('loaded-default-trace', [], 'trace'),
        lab('loaded-default-proc', [], 'proc'),
      ]);
      runs.push(await lab('loaded-curl', ['--server', 'python3 -m http.server 8080 --bind 198.18.0.2', '--client', 'curl -s -o /dev/null http://198.18.0.2:8080/']));
      for (const evs of runs) {
        expect(of(evs, 'disagreement')).toEqual([]);
        expect(states(evs, 'client', 'kernel').at(-1)).toMatch(/TIME-WAIT|CLOSED/);
      }
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
    }
  }, 120_000);
});
