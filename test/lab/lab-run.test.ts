// End to end through the real CLI (`tcpmitm lab`, issue 3 "Tests"): the
// default lab's state sequences, inferred and from the kernel probe (tracepoint
// and /proc poller), the very first SYN crossing at once, the IPv6 lab, and two
// labs running in parallel. Every lab is removed in afterEach, pass or fail.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { ensureBuilt, labDown, labDownAll, leftovers, readEvents, runCli, states, type CliRun, type LabEvent } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const TRACEFS_EVENT = '/sys/kernel/tracing/events/sock/inet_sock_set_state';
// tcpmitm mounts tracefs itself when it is not (a fresh boot): so does this
// file, before choosing a probe — else the tests below fell back to the
// /proc poller on such a machine, which cannot see a 0.1 ms CLOSE-WAIT.
if (!root.skip && !existsSync(TRACEFS_EVENT)) spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
const hasTrace = existsSync(TRACEFS_EVENT);
// CI never skips: there a missing tracefs fails the trace test instead.
const skipTrace = !hasTrace && process.env.CI !== 'true';
/** For the tests not about the probe itself: the exact source when there is one. */
const KERNEL_PROBE = hasTrace ? 'trace' : 'proc';
if (skipTrace) console.warn(`skipping the tracepoint variant: ${TRACEFS_EVENT} is absent (tracefs not mounted?)`);

/** DESIGN scenario 1, after the handshake states, as tcpmitm infers them (a `from` first). */
const CLIENT_INFERRED = ['CLOSED', 'SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT'];
const SERVER_INFERRED = ['LISTEN', 'SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED'];
/** The kernel's are the same: an accepted socket starts from LISTEN, as the tracepoint says (issue 11 item 6). */
const CLIENT_KERNEL = CLIENT_INFERRED;
const SERVER_KERNEL = SERVER_INFERRED;

/** States of the default lab that last too little for a 5 ms poller to be sure to see them. */
const SHORT = { client: ['SYN-SENT', 'ESTAB'], server: ['SYN-RECV', 'ESTAB', 'LAST-ACK'] } as const;

const dir = tempDir('tcpmitm-l3-run-');
const ids: string[] = [];
function newId(): string {
  const id = uniqueLabId('l3r');
  ids.push(id);
  return id;
}

async function lab(id: string, extra: readonly string[], timeoutMs = 20_000): Promise<{ run: CliRun; evs: LabEvent[] }> {
  const json = join(dir, `${id}.jsonl`);
  const run = await runCli(['lab', '--no-ui', '--id', id, '--json', json, ...extra], timeoutMs);
  return { run, evs: readEvents(json) };
}

function explain(r: CliRun): string {
  return `exit ${r.code} (${r.signal ?? 'no signal'}) after ${Math.round(r.ms)} ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/**
 * Exit 0 — or, with the /proc poller only, exit 3 for one known reason
 * (reported to the profiles' owner): passthrough's kernel expectations
 * require ESTAB on both ends, which lasts ~1–10 ms here (the client sends its
 * request and FIN right after the handshake), so the poller sometimes misses it.
 */
function expectOk(run: CliRun, evs: readonly LabEvent[], probe: 'trace' | 'proc' = KERNEL_PROBE): void {
  const failed = evs.filter((e) => e.type === 'expectation' && e.ok !== true);
  if (run.code === 3 && probe === 'proc') {
    expect(failed.length, explain(run)).toBeGreaterThan(0);
    for (const e of failed) expect([e.subject, String(e.observed)], explain(run)).toEqual([expect.stringMatching(/^(client|server) states \(kernel\)$/), expect.stringMatching(/\(missing ESTAB\)$/)]);
  } else {
    expect(run.code, explain(run)).toBe(0);
  }
}

/** Drops the states a 5 ms poller may legitimately miss, so the rest must match exactly. */
function withoutShort(seq: readonly string[], short: readonly string[]): string[] {
  return seq.filter((s) => !short.includes(s));
}

describe.skipIf(root.skip)('tcpmitm lab, end to end (real namespaces)', () => {
  beforeAll(() => ensureBuilt(), 120_000);
  afterEach(() => {
    for (const id of ids.splice(0)) labDown(id);
    labDownAll();
  });

  it.skipIf(skipTrace)('default lab, tracepoint probe: inferred and kernel sequences equal the four-way close of DESIGN', async () => {
    const id = newId();
    const { run, evs } = await lab(id, ['--kernel-probe', 'trace', '--segments']);
    expect(run.code, explain(run)).toBe(0);
    expect(evs.at(-1)).toMatchObject({ type: 'end', reason: 'all connections closed', exitCode: 0 });
    expect(evs.filter((e) => e.type === 'connection')).toHaveLength(1);

    expect(states(evs, 'client', 'inferred')).toEqual(CLIENT_INFERRED);
    expect(states(evs, 'server', 'inferred')).toEqual(SERVER_INFERRED);
    // The tracepoint sees every transition, LAST-ACK (~1 ms) included.
    expect(states(evs, 'client', 'kernel')).toEqual(CLIENT_KERNEL);
    expect(states(evs, 'server', 'kernel')).toEqual(SERVER_KERNEL);
    expect(evs.filter((e) => e.type === 'disagreement')).toEqual([]);
    expect(evs.filter((e) => e.type === 'expectation' && e.ok !== true)).toEqual([]);
    // Four separate segments of the close: FIN, its ACK, FIN, the last ACK.
    const close = evs.filter((e) => e.type === 'segment' && ['fin', 'ack-of-fin', 'fin-ack', 'last-ack'].includes(String(e.role)));
    expect(close.map((e) => `${String(e.from)}:${String(e.role)}`)).toEqual(['client:fin', 'server:ack-of-fin', 'server:fin-ack', 'client:last-ack']);
    // The text log has one line per change, with the kernel's state beside it.
    expect(run.stdout).toMatch(/#1 client {2}FIN-WAIT-1 → FIN-WAIT-2 {2}\(delivered ACK .*ack=102\)/);
    expect(run.stdout).toMatch(/#1 c→s {2}\[F\.\] seq=101 ack=1001 len=0/);
    expect(leftovers(id)).toEqual([]);
  });

  it('default lab, /proc poller: the kernel states a 5 ms poller can see, in the same order', async () => {
    const id = newId();
    const { run, evs } = await lab(id, ['--kernel-probe', 'proc']);
    expectOk(run, evs, 'proc');
    expect(evs.at(-1)).toMatchObject({ type: 'end', reason: 'all connections closed' });
    expect(states(evs, 'client', 'inferred')).toEqual(CLIENT_INFERRED);
    expect(states(evs, 'server', 'inferred')).toEqual(SERVER_INFERRED);
    // What lasts long enough for a 5 ms poller in this lab: FIN-WAIT-1
    // (until the server's delayed ACK, ~40 ms), FIN-WAIT-2 (the server's
    // 300 ms), TIME-WAIT (60 s), CLOSE-WAIT (300 ms). SYN-SENT/SYN-RECV last
    // one round trip (< 1 ms idle), ESTAB 1–10 ms on either end (the request
    // and the FIN follow the handshake at once) and LAST-ACK 0.4–2.5 ms: the
    // poller may miss those (measured: it does, under load), and must not
    // report anything else, nor in another order.
    expect(withoutShort(states(evs, 'client', 'kernel'), SHORT.client)).toEqual(withoutShort(CLIENT_KERNEL, SHORT.client));
    expect(withoutShort(states(evs, 'server', 'kernel'), SHORT.server)).toEqual(withoutShort(SERVER_KERNEL, SHORT.server));
    expect(evs.filter((e) => e.type === 'disagreement')).toEqual([]);
  });

  it('real programs: curl against python3 -m http.server; both ends reach their final states, as the kernel says', async () => {
    const id = newId();
    const profile = join(dir, 'plain.yaml');
    writeFileSync(profile, 'name: plain\ndescription: no expectations\nrules: []\n');
    const hasCurl = spawnSync('which', ['curl']).status === 0;
    if (!hasCurl) console.warn('curl is missing: using python3 urllib as the client');
    const client = hasCurl
      ? `curl -s -o /dev/null -w 'status %{http_code}\\n' http://198.18.0.2:8080/`
      : `python3 -c "import urllib.request; print('status', urllib.request.urlopen('http://198.18.0.2:8080/').status)"`;
    const { run, evs } = await lab(id, ['--profile', profile, '--kernel-probe', KERNEL_PROBE,
      '--server', 'python3 -m http.server 8080 --bind 198.18.0.2', '--client', client]);
    // The server never exits by itself: the run ends once the client has and all is closed.
    expect(run.code, explain(run)).toBe(0);
    expect(evs.at(-1)).toMatchObject({ type: 'end', reason: 'all connections closed' });
    expect(evs.find((e) => e.type === 'app' && e.endpoint === 'client' && e.event === 'output')?.detail).toBe('status 200');
    expect(evs.some((e) => e.type === 'app' && e.endpoint === 'server' && /"GET \/ HTTP\/1.1" 200/.test(String(e.detail)))).toBe(true);
    // Whoever sends the first FIN is the active closer (http.server: the
    // server, after the response), and must end in TIME-WAIT; the passive one
    // goes CLOSE-WAIT → LAST-ACK → CLOSED. The kernel agrees on both.
    const firstFin = (src: 'inferred' | 'kernel') =>
      evs.find((e) => e.type === 'state' && e.source === src && e.to === 'FIN-WAIT-1')?.endpoint as 'client' | 'server' | undefined;
    const active = firstFin('inferred');
    expect(active).toBeDefined();
    expect(firstFin('kernel')).toBe(active);
    const passive = active === 'client' ? 'server' : 'client';
    for (const src of ['inferred', 'kernel'] as const) {
      const a = states(evs, active!, src);
      const p = states(evs, passive, src);
      expect(a.at(-1), `${active} ${src}: ${a.join(' → ')}`).toBe('TIME-WAIT');
      expect(p.at(-1), `${passive} ${src}: ${p.join(' → ')}`).toBe('CLOSED');
      expect(a, `${active} ${src} (${KERNEL_PROBE}): ${a.join(' → ')}`).toContain('FIN-WAIT-1');
      // curl closes the moment it reads EOF: its CLOSE-WAIT lasts 0.06–2 ms
      // (measured), which the tracepoint always shows and a 5 ms poller may not.
      if (src === 'inferred' || KERNEL_PROBE === 'trace') expect(p, `${passive} ${src} (${KERNEL_PROBE}): ${p.join(' → ')}`).toContain('CLOSE-WAIT');
    }
    expect(states(evs, passive, 'inferred').slice(-3)).toEqual(['CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    expect(evs.filter((e) => e.type === 'disagreement')).toEqual([]);
    expect(leftovers(id)).toEqual([]);
  });

  it('the very first SYN crosses at once: ARP/ND and the SYN are not lost when the captures open', async () => {
    // A fresh lab has empty neighbour caches, so the client's first frame is
    // an ARP request (ND for IPv6). Had the first frame after pcap_open been
    // lost (libpcap 1.10.3 with an `inbound` filter), resolution would wait
    // for the kernel's 1 s retry and connect() would take > 1 s.
    const timed = (host: string) =>
      `python3 -c "import socket,time; t=time.monotonic(); s=socket.create_connection(('${host}', 8080), timeout=5); print('connect_ms', round((time.monotonic()-t)*1000, 1)); s.close()"`;
    // The default profile's expectations describe the built-in client: none here.
    const profile = join(dir, 'plain.yaml');
    writeFileSync(profile, 'name: plain\ndescription: no expectations\nrules: []\n');
    for (const [host, v6] of [['198.18.0.2', false], ['2001:2::2', true]] as const) {
      const id = newId();
      const { run, evs } = await lab(id, [...(v6 ? ['--ipv6'] : []), '--profile', profile, '--client', timed(host)]);
      expect(run.code, explain(run)).toBe(0);
      const out = evs.find((e) => e.type === 'app' && e.endpoint === 'client' && e.event === 'output');
      const ms = Number(/connect_ms ([\d.]+)/.exec(String(out?.detail))?.[1]);
      expect(ms, `${host}: ${JSON.stringify(out)}`).toBeLessThan(300);
      // One SYN, no retransmission, and its SYN-ACK within milliseconds.
      const syns = evs.filter((e) => e.type === 'segment' && e.role === 'syn');
      const synAck = evs.find((e) => e.type === 'segment' && e.role === 'syn-ack');
      expect(syns).toHaveLength(1);
      expect(synAck!.t - syns[0]!.t).toBeLessThan(0.1);
      labDown(id);
    }
  });

  it('IPv6 lab: the built-in peers talk over 2001:2::/64 and both ends are tracked', async () => {
    const id = newId();
    const { run, evs } = await lab(id, ['--ipv6', '--kernel-probe', KERNEL_PROBE]);
    expectOk(run, evs);
    const conns = evs.filter((e) => e.type === 'connection');
    expect(conns).toHaveLength(1);
    expect(conns[0]!.client).toMatch(/^\[2001:2::1\]:\d+$/);
    expect(conns[0]!.server).toBe('[2001:2::2]:8080');
    expect(states(evs, 'client', 'inferred')).toEqual(CLIENT_INFERRED);
    expect(states(evs, 'server', 'inferred')).toEqual(SERVER_INFERRED);
    // The kernel's view joins IPv6 tuples too (whichever probe `auto` picked).
    expect(withoutShort(states(evs, 'client', 'kernel'), SHORT.client)).toEqual(withoutShort(CLIENT_KERNEL, SHORT.client));
    expect(withoutShort(states(evs, 'server', 'kernel'), SHORT.server)).toEqual(withoutShort(SERVER_KERNEL, SHORT.server));
  });

  it("--segments --tcp-options: each segment's options as the kernels sent them, in the log and the JSON", async () => {
    const id = newId();
    const { run, evs } = await lab(id, ['--segments', '--tcp-options', '--kernel-probe', KERNEL_PROBE]);
    expectOk(run, evs);
    // Linux's own SYN and SYN-ACK (veth MTU 1500: MSS 1460), then timestamps on every segment.
    expect(run.stdout).toMatch(/#1 c→s {2}\[S\] seq=0 len=0 win=\d+ options \[mss 1460,sackOK,TS val \d+ ecr 0,nop,wscale \d+\] {2}syn\n/);
    expect(run.stdout).toMatch(/#1 s→c {2}\[S\.\] seq=0 ack=1 len=0 win=\d+ options \[mss 1460,sackOK,TS val \d+ ecr \d+,nop,wscale \d+\] {2}syn-ack\n/);
    expect(run.stdout).toMatch(/#1 c→s {2}\[F\.\] seq=101 ack=\d+ len=0 win=\d+ options \[nop,nop,TS val \d+ ecr \d+\] {2}fin\n/);
    const segs = evs.filter((e) => e.type === 'segment');
    expect(segs.length).toBeGreaterThan(6);
    expect(segs.every((e) => typeof e.options === 'string' && /TS val \d+ ecr \d+/.test(e.options))).toBe(true);
  });

  it('two labs in parallel with different ids: both succeed, neither sees the other', async () => {
    const [a, b] = [newId(), newId()];
    const [ra, rb] = await Promise.all([lab(a, ['--kernel-probe', KERNEL_PROBE]), lab(b, ['--kernel-probe', KERNEL_PROBE])]);
    for (const [id, r] of [[a, ra], [b, rb]] as const) {
      expectOk(r.run, r.evs);
      expect(r.evs[0]).toMatchObject({ type: 'start', lab: id });
      // Each saw exactly its own connection: the same addresses exist in both
      // labs, so a leak between them would show as a second connection.
      expect(r.evs.filter((e) => e.type === 'connection')).toHaveLength(1);
      expect(states(r.evs, 'client', 'inferred')).toEqual(CLIENT_INFERRED);
      expect(states(r.evs, 'server', 'inferred')).toEqual(SERVER_INFERRED);
      expect(r.evs.filter((e) => e.type === 'disagreement')).toEqual([]);
      // Exactly one handshake's worth of SYNs, and the kernel saw only its own.
      expect(r.evs.filter((e) => e.type === 'segment' && String(e.flags).includes('S'))).toHaveLength(2);
      const k = states(r.evs, 'client', 'kernel');
      expect(k.at(-1)).toBe('TIME-WAIT');
    }
    expect([...leftovers(a), ...leftovers(b)]).toEqual([]);
  });
});
