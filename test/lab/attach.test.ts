// Attach mode over a topology the test builds itself (t7-c ⇄ t7-m ⇄ t7-s, two
// veth pairs, no IP in the middle): a built-in client and server talk through
// `tcpmitm attach` running in t7-m; the JSONL must hold both endpoints' state
// sequences and the end namespaces' own socket tables (`ss`) must agree. Also:
// offloads left on are refused (exit 2, each named), --fix-offloads fixes them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, netnsList, requireRoot, until } from '../helpers/lab.js';
import { fixCommand, offloadProblems, parseEthtoolFeatures } from '../../src/attach/checks.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const NS = { c: 't7-c', m: 't7-m', s: 't7-s' } as const;
const BIN = join(REPO, 'bin/tcpmitm.js');
const tmp = tempDir('t7-attach-');

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
function inNs(ns: string, cmd: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8' });
}
function offloads(ns: string, dev: string, on: boolean): void {
  inNs(ns, 'ethtool', '-K', dev, 'rx', on ? 'on' : 'off', 'tx', on ? 'on' : 'off', 'tso', on ? 'on' : 'off', 'gso', on ? 'on' : 'off', 'gro', on ? 'on' : 'off');
}
function teardown(): void {
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
}

/** Runs `tcpmitm attach …` in t7-m; resolves with its exit code and output. */
function attach(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn('ip', ['netns', 'exec', NS.m, process.execPath, BIN, 'attach', '--a', 'm0', '--b', 'm1', '--no-ui', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => child.on('close', (code) => res({ code, stdout, stderr })));
  return { child, done };
}

function peer(ns: string, args: string[]): Promise<{ code: number | null; lines: { event: string }[] }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, 'peer', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  return new Promise((res) =>
    child.on('close', (code) => res({ code, lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string }) })),
  );
}

function readEvents(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('attach: pure checks', () => {
  it('parses ethtool -k and names each offload that is on, with the fix command', () => {
    const text = 'Features for m0:\nrx-checksumming: on\ntx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\ntcp-segmentation-offload: off\ngeneric-segmentation-offload: on\ngeneric-receive-offload: off\nlarge-receive-offload: off [fixed]\n';
    const p = offloadProblems('m0', parseEthtoolFeatures(text));
    expect(p.map((x) => x.feature)).toEqual(['tx-checksumming', 'generic-segmentation-offload']);
    expect(fixCommand('m0', p)).toEqual(['ethtool', '-K', 'm0', 'tx', 'off', 'gso', 'off']);
    expect(parseEthtoolFeatures(text).get('large-receive-offload')).toEqual({ on: false, fixed: true });
  });
});

describe.skipIf(root.skip)('attach over a veth topology built by the test', () => {
  beforeAll(() => {
    teardown();
    for (const ns of Object.values(NS)) ip('netns', 'add', ns);
    // Created directly inside the namespaces: no names in the root namespace to collide.
    ip('-n', NS.c, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'm0', 'netns', NS.m);
    ip('-n', NS.s, 'link', 'add', 's0', 'type', 'veth', 'peer', 'name', 'm1', 'netns', NS.m);
    ip('-n', NS.c, 'addr', 'add', '198.18.0.1/24', 'dev', 'c0');
    ip('-n', NS.s, 'addr', 'add', '198.18.0.2/24', 'dev', 's0');
    for (const [ns, devs] of [[NS.c, ['lo', 'c0']], [NS.m, ['lo', 'm0', 'm1']], [NS.s, ['lo', 's0']]] as const) {
      for (const d of devs) ip('-n', ns, 'link', 'set', d, 'up');
    }
    // The ends must send wire-size frames with real checksums; the middle is attach's to check.
    offloads(NS.c, 'c0', false);
    offloads(NS.s, 's0', false);
  });
  afterAll(() => {
    teardown();
    expect(netnsList().filter((n) => n.startsWith('t7-') && Object.values(NS).includes(n as never))).toEqual([]);
  });

  it('refuses (exit 2) while offloads are on, naming each interface and feature and the ethtool command', async () => {
    offloads(NS.m, 'm0', true);
    offloads(NS.m, 'm1', false);
    inNs(NS.m, 'ethtool', '-K', 'm1', 'gso', 'on');
    const r = await attach(['--duration', '1']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_OFFLOADS');
    expect(r.stderr).toMatch(/m0: tx-checksumming, tcp-segmentation-offload, generic-segmentation-offload, generic-receive-offload/);
    expect(r.stderr).toMatch(/m1: generic-segmentation-offload/);
    expect(r.stderr).toContain('ethtool -K m0 tx off tso off gso off gro off');
    expect(r.stderr).toContain('ethtool -K m1 gso off');
  });

  it('--fix-offloads turns them off and says which', async () => {
    offloads(NS.m, 'm0', true);
    const r = await attach(['--fix-offloads', '--duration', '0.5']).done;
    // (libpcap's own "no IPv4 address assigned" warnings may appear on stderr.)
    expect(r.stderr).not.toContain('tcpmitm:');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('turned off tx-checksumming, tcp-segmentation-offload, generic-segmentation-offload, generic-receive-offload on m0');
    expect(r.stdout).toContain('turned off generic-segmentation-offload on m1');
    for (const d of ['m0', 'm1']) {
      expect(offloadProblems(d, parseEthtoolFeatures(inNs(NS.m, 'ethtool', '-k', d)))).toEqual([]);
    }
  });

  it('refuses a missing interface and one that is down (exit 2)', async () => {
    const missing = spawnSync('ip', ['netns', 'exec', NS.m, process.execPath, BIN, 'attach', '--a', 'm0', '--b', 'nope0', '--no-ui'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("no interface 'nope0'");
    ip('-n', NS.m, 'link', 'set', 'm1', 'down');
    try {
      const down = spawnSync('ip', ['netns', 'exec', NS.m, process.execPath, BIN, 'attach', '--a', 'm0', '--b', 'm1', '--no-ui'], { encoding: 'utf8' });
      expect(down.status).toBe(2);
      expect(down.stderr).toContain("interface 'm1' is down");
    } finally {
      ip('-n', NS.m, 'link', 'set', 'm1', 'up');
    }
  });

  it('refuses an interface carrying the default route unless --force', async () => {
    ip('-n', NS.m, 'addr', 'add', '198.19.0.1/24', 'dev', 'm1');
    ip('-n', NS.m, 'route', 'add', 'default', 'via', '198.19.0.254', 'dev', 'm1');
    try {
      const r = await attach(['--duration', '0.3']).done;
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("interface 'm1' carries this host's default route");
      const forced = await attach(['--duration', '0.3', '--force']).done;
      expect(forced.code).toBe(0);
    } finally {
      ip('-n', NS.m, 'route', 'del', 'default');
      ip('-n', NS.m, 'addr', 'del', '198.19.0.1/24', 'dev', 'm1');
    }
  });

  it("checks the expect of the profile it is given on the inference (exit 3 when one fails), kernel halves not checked; refuses kernel-only checks (exit 2)", async () => {
    const profile = join(tmp, 'expect.yaml');
    // The client's close is textbook; the server's end in CLOSED is forbidden here, so one check fails.
    writeFileSync(profile, 'name: t7-expect\ndescription: checks on the inference\nrules: []\nexpect:\n  client:\n    states: [ESTAB, FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT]\n  server:\n    not: [CLOSED]\n');
    const json = join(tmp, 'expect.jsonl');
    const junit = join(tmp, 'expect.xml');
    const run = attach(['--profile', profile, '--json', json, '--junit', junit, '--duration', '30']);
    await until(() => readEvents(json).some((e) => e.type === 'start'), 10_000);
    const server = peer(NS.s, ['server', '--port', '8080', '--on-eof', 'delay:100', '--send', '100', '--timeout', '10000']);
    await until(() => inNs(NS.s, 'ss', '-Htln').includes(':8080'), 5000);
    expect((await peer(NS.c, ['client', '--connect', '198.18.0.2:8080', '--send', '100', '--recv', '100', '--then', 'close', '--timeout', '10000'])).code).toBe(0);
    expect((await server).code).toBe(0);
    await until(() => readEvents(json).some((e) => e.type === 'state' && e.endpoint === 'server' && e.to === 'CLOSED'), 5000);
    run.child.kill('SIGINT');
    const interrupted = await run.done;
    // An interrupted run is not checked: exit 130, no expectation events, the JUnit run case an error.
    expect(interrupted.code).toBe(130);
    expect(readEvents(json).filter((e) => e.type === 'expectation')).toEqual([]);
    expect(readFileSync(junit, 'utf8')).toMatch(/<testcase classname="tcpmitm.t7-expect" name="run" time="0">\n\s+<error type="run" message="interrupted \(Ctrl-C\) \(exit 130\)">/);

    // The same traffic in a run that ends by itself (its duration) is checked.
    const timed = attach(['--profile', profile, '--json', json, '--junit', junit, '--duration', '3']);
    await until(() => readEvents(json).some((e) => e.type === 'start'), 10_000);
    const server2 = peer(NS.s, ['server', '--port', '8080', '--on-eof', 'delay:100', '--send', '100', '--timeout', '10000']);
    await until(() => inNs(NS.s, 'ss', '-Htln').includes(':8080'), 5000);
    await peer(NS.c, ['client', '--connect', '198.18.0.2:8080', '--send', '100', '--recv', '100', '--then', 'close', '--timeout', '10000']);
    await server2;
    const r = await timed.done;
    expect(r.code, r.stdout + r.stderr).toBe(3);
    const checks = readEvents(json).filter((e) => e.type === 'expectation').map((e) => [e.subject, e.status]);
    expect(checks).toEqual([
      ['client states (inferred)', 'met'],
      ['client states (kernel)', 'not-checked'],
      ['server never (inferred)', 'failed'],
      ['server never (kernel)', 'not-checked'],
    ]);
    // Said once, in the report on stderr; the text log on stdout does not repeat the checks.
    expect(r.stderr).toMatch(/SKIP client states \(kernel\)\n\s+expected: .*\n\s+observed: not checked: attach has no kernel probe \(the ends' sockets are on other hosts\)/);
    expect(r.stdout).not.toMatch(/ (PASS|FAIL|SKIP) /);
    expect(readFileSync(junit, 'utf8')).toMatch(/tests="5" failures="1" errors="0" skipped="2"/);

    const kernelOnly = join(tmp, 'kernel-only.yaml');
    writeFileSync(kernelOnly, 'name: t7-kernel\ndescription: kernel states\nrules: []\nexpect:\n  client:\n    states: [ESTAB]\n    source: kernel\n');
    const refused = await attach(['--profile', kernelOnly, '--duration', '1']).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("expects what cannot be checked in attach mode: client states from the kernel (source: kernel), but attach has no kernel probe");
  });

  it('bridges a client and a server: JSONL state sequences match ss in the end namespaces; Ctrl-C ends it cleanly', async () => {
    const json = join(tmp, 'run.jsonl');
    const pcap = join(tmp, 'run.pcapng');
    const run = attach(['--json', json, '--pcap', pcap, '--duration', '30']);
    await until(() => readEvents(json).some((e) => e.type === 'start'), 10_000);
    const server = peer(NS.s, ['server', '--port', '8080', '--on-eof', 'delay:300', '--send', '100', '--timeout', '10000']);
    await until(() => inNs(NS.s, 'ss', '-Htln').includes(':8080'), 5000);
    const client = await peer(NS.c, ['client', '--connect', '198.18.0.2:8080', '--send', '100', '--recv', '100', '--then', 'close', '--timeout', '10000']);
    const srv = await server;
    expect(client.code).toBe(0);
    expect(srv.code).toBe(0);
    expect(client.lines.map((l) => l.event)).toEqual(expect.arrayContaining(['connected', 'data', 'close', 'closed']));
    expect(srv.lines.map((l) => l.event)).toEqual(expect.arrayContaining(['connected', 'data', 'eof', 'close', 'closed']));

    // The kernel's view, once both peers have gone: the client holds TIME-WAIT, the server nothing.
    const ssClient = inNs(NS.c, 'ss', '-Htan', 'dst', '198.18.0.2');
    const ssServer = inNs(NS.s, 'ss', '-Htan', 'sport', '=', ':8080');
    expect(ssClient).toMatch(/^TIME-WAIT\s.*198\.18\.0\.2:8080/m);
    expect(ssServer.trim()).toBe('');

    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    const events = readEvents(json);
    const states = (who: string) =>
      events.filter((e) => e.type === 'state' && e.conn === 1 && e.endpoint === who && e.source === 'inferred').map((e) => e.to);
    expect(states('client')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    expect(states('server')).toEqual(['SYN-RECV', 'ESTAB', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSED']);
    // The last inferred state of each end is what ss showed (CLOSED: no socket).
    expect(states('client').at(-1)).toBe('TIME-WAIT');
    expect(states('server').at(-1)).toBe('CLOSED');
    expect(events[0]).toMatchObject({ type: 'start', mode: 'attach', profile: 'passthrough' });
    expect(events.at(-1)).toMatchObject({ type: 'end', reason: 'interrupted (Ctrl-C)', exitCode: 130 });
    // The pcapng is whole after Ctrl-C: tshark reads every frame the engine counted, as it arrived (inbound) and as it left (outbound: passthrough, nothing dropped).
    if (spawnSync('tshark', ['-v']).status === 0) {
      const read = spawnSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'frame.packet_flags_direction'], { encoding: 'utf8' });
      expect(read.status).toBe(0);
      const stats = events.filter((e) => e.type === 'stats').at(-1) as { frames: number; forged: number };
      const dirs = read.stdout.split('\n').filter(Boolean);
      expect(dirs.filter((d) => Number(d) === 1).length).toBe(stats.frames);
      expect(dirs.filter((d) => Number(d) === 2).length).toBe(stats.frames + stats.forged);
    }
    const conn = events.find((e) => e.type === 'connection');
    expect(conn).toMatchObject({ client: expect.stringMatching(/^198\.18\.0\.1:\d+$/), server: '198.18.0.2:8080', pickedUp: false });
  });

  it("forwards under the session's heap ceiling (the command runs itself again with those node flags), and that run ends when the command is killed", async () => {
    const json = join(tmp, 'ceiling.jsonl');
    const run = attach(['--json', json, '--duration', '60', '--max-connections', '1000']);
    await until(() => readEvents(json).some((e) => e.type === 'start'), 10_000);
    const children = spawnSync('pgrep', ['-P', String(run.child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
    expect(children).toHaveLength(1);
    const forwarder = children[0]!;
    // 96 MiB + 2 KiB per connection of the table (src/session/node-flags.ts).
    expect(readFileSync(`/proc/${forwarder}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['--no-memory-reducer', '--max-old-space-size=98', 'attach']));
    // SIGKILL cannot be passed on: the run notices its parent's death and ends as terminated, its log whole.
    run.child.kill('SIGKILL');
    await until(() => !existsSync(`/proc/${forwarder}`) || readFileSync(`/proc/${forwarder}/stat`, 'utf8').includes(') Z '), 5000);
    expect(readEvents(json).at(-1)).toMatchObject({ type: 'end', reason: 'terminated (SIGTERM)', exitCode: 143 });
  });
});
