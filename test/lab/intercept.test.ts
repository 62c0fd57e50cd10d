// Intercept mode on the loopback of a namespace the test makes (tmx-…): real
// programs on both ends (python3 sockets, test/helpers/intercept_peers.py),
// `tcpmitm intercept --netns /run/netns/tmx-… --port P` inline through
// netfilter's queue. Passthrough (bytes equal, the inferred end states are
// the kernel's), drop-last-ack (the kernel retransmits the server's FIN from
// LAST-ACK; the expectations pass, exit 0), an expectation that fails (exit
// 3), a forged RST (the client gets ECONNRESET), a second run on the same port
// (refused), and SIGKILL mid-run: the connection goes on (fail-open) and
// `--cleanup` removes the dead run's chain. Peers on another host (a second
// namespace behind a veth): a client there (its segments come by INPUT; its
// last ACK dropped) and a server there; and `--pid` naming the namespace. The host's own iptables are never
// touched: every iptables command runs inside the test namespace.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, netnsList, requireRoot, until } from '../helpers/lab.js';
import { readEvents, runCli, startCli, states, waitForEvents, type LabEvent, type RunningCli } from '../helpers/run-lab.js';
import { tempDir } from '../helpers/temp.js';
import { spawnJsonLines } from '../helpers/json-lines.js';

const root = requireRoot();
const NS = `tmx-${randomBytes(3).toString('hex')}`;
const NS_PATH = `/run/netns/${NS}`;
/** Another host, as a peer on the network sees it: a namespace of its own behind a veth pair (198.18.77.0/24, 2001:2:77::/64). */
const FAR = `${NS}f`;
const NEAR_ADDR = { 4: '198.18.77.1', 6: '2001:2:77::1' } as const;
const FAR_ADDR = { 4: '198.18.77.2', 6: '2001:2:77::2' } as const;
const PEERS = join(REPO, 'test/helpers/intercept_peers.py');
const tmp = tempDir('tcpmitm-intercept-');

function inNs(cmd: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', NS, cmd, ...args], { encoding: 'utf8' });
}

/** tcpmitm's rules in the test namespace, both families (the nf_tables backend; legacy only where its tables exist). */
function ourRules(): string[] {
  const out = [inNs('iptables-save'), inNs('ip6tables-save')];
  for (const [names, save] of [['/proc/net/ip_tables_names', 'iptables-legacy-save'], ['/proc/net/ip6_tables_names', 'ip6tables-legacy-save']] as const) {
    if (inNs('cat', names).trim() !== '') out.push(inNs(save));
  }
  return out.join('\n').split('\n').filter((l) => l.includes('tcpmitm'));
}

/** The run's chain (while it runs), and the kernel probe's trace instance named after the same owner. */
function runChain(): string {
  const m = ourRules().map((l) => /^-N (tcpmitm-\d+-\w+)$/.exec(l) ?? /^:(tcpmitm-\d+-\w+) /.exec(l)).find((x) => x !== null);
  if (!m) throw new Error(`no chain of tcpmitm's: ${JSON.stringify(ourRules())}`);
  return m[1]!;
}
function traceInstanceOf(chain: string): string {
  const [, pid, start] = /^tcpmitm-(\d+)-(\w+)$/.exec(chain)!;
  return `/sys/kernel/tracing/instances/tcpmitm-i${pid}_${start}`;
}

interface Peer {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  readonly done: Promise<number | null>;
}

const peers: ChildProcess[] = [];
const runs: RunningCli[] = [];

function peer(kind: 'server' | 'client', host: string, port: number, ...opts: string[]): Peer {
  return peerIn(NS, kind, host, port, ...opts);
}

function peerIn(ns: string, kind: 'server' | 'client', host: string, port: number, ...opts: string[]): Peer {
  return spawnJsonLines(ns, ['python3', PEERS, kind, host, String(port), ...opts], peers);
}

async function server(host: string, port: number, closeAfterMs = 300, ns = NS): Promise<Peer> {
  const s = peerIn(ns, 'server', host, port, '--close-after-eof', String(closeAfterMs));
  await until(() => s.lines.some((l) => l.event === 'listening'), 10_000);
  return s;
}

async function clientResult(c: Peer): Promise<Record<string, unknown>> {
  await c.done;
  const r = c.lines.find((l) => l.event === 'result');
  if (!r) throw new Error(`the client printed no result: ${JSON.stringify(c.lines)}`);
  return r;
}

/** Starts `tcpmitm intercept` in the test namespace (`where`: how it is named); resolves once its chain is in (the netfilter note is logged after it is). */
async function intercept(name: string, args: readonly string[], where: readonly string[] = ['--netns', NS_PATH]): Promise<{ run: RunningCli; json: string }> {
  const json = join(tmp, `${name}.jsonl`);
  const run = startCli(['intercept', ...where, '--no-ui', '--json', json, ...args], 60_000);
  runs.push(run);
  await until(() => readEvents(json).some((e) => e.type === 'warning' && String(e.message).startsWith('netfilter:')) || run.child.exitCode !== null, 20_000);
  if (run.child.exitCode !== null) throw new Error(`intercept ended at once (exit ${run.child.exitCode}): ${run.stderr()}`);
  return { run, json };
}

function lastState(evs: readonly LabEvent[], end: 'client' | 'server'): string | undefined {
  return states(evs, end, 'inferred').at(-1);
}

/** The kernel's TCP counters of the test namespace (/proc/net/snmp read inside it). */
function tcpCounter(name: string): number {
  const lines = inNs('cat', '/proc/net/snmp').split('\n').filter((l) => l.startsWith('Tcp:'));
  const keys = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[keys.indexOf(name)]);
}

function writeProfile(name: string, text: string): string {
  const p = join(tmp, `${name}.yaml`);
  writeFileSync(p, text);
  return p;
}

describe.skipIf(root.skip)('intercept on the loopback of a test namespace', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['netns', 'add', FAR]);
    execFileSync('ip', ['-n', FAR, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['link', 'add', `${NS}a`, 'netns', NS, 'type', 'veth', 'peer', 'name', `${NS}b`, 'netns', FAR]);
    for (const [ns, dev, addr] of [
      [NS, `${NS}a`, NEAR_ADDR],
      [FAR, `${NS}b`, FAR_ADDR],
    ] as const) {
      execFileSync('ip', ['-n', ns, 'addr', 'add', `${addr[4]}/24`, 'dev', dev]);
      execFileSync('ip', ['-n', ns, 'addr', 'add', `${addr[6]}/64`, 'dev', dev, 'nodad']);
      execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      // Segments as the far end sent them (no GRO super-segments, checksums done), as in a lab.
      execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' });
    }
  });
  // A test that failed half-way leaves no run behind for the next one: Ctrl-C, as a person would.
  afterEach(async () => {
    for (const r of runs.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGINT');
      await r.done;
    }
    for (const p of peers.splice(0)) p.kill('SIGKILL');
  });
  afterAll(() => {
    for (const r of runs) {
      try {
        process.kill(-r.child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (const p of peers) p.kill('SIGKILL');
    for (const ns of [NS, FAR]) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const pid of pids) spawnSync('kill', ['-9', pid]);
      // The veth pair goes with the namespaces.
      spawnSync('ip', ['netns', 'del', ns]);
    }
    expect(netnsList()).not.toContain(NS);
    expect(netnsList()).not.toContain(FAR);
  });

  for (const [family, host] of [
    ['IPv4', '127.0.0.1'],
    ['IPv6', '::1'],
  ] as const) {
    it(`passthrough (${family}): the bytes arrive unchanged, the inferred end states are the kernel's, Ctrl-C leaves nothing behind`, async () => {
      const port = family === 'IPv4' ? 7701 : 7702;
      const { run, json } = await intercept(`pass-${family}`, ['--port', String(port)]);
      const s = await server(host, port);
      // Another port: not tcpmitm's business.
      const other = await server(host, port + 100);
      const r = await clientResult(peer('client', host, port, '--bytes', '20000'));
      expect(r).toMatchObject({ ok: true, equal: true, sent: 20000, got: 20000 });
      expect(await clientResult(peer('client', host, port + 100))).toMatchObject({ ok: true, equal: true });
      // The server closes 300 ms after EOF; the client is then in TIME-WAIT, the server's socket gone.
      await until(() => lastState(readEvents(json), 'server') === 'CLOSED', 10_000);
      const evs = readEvents(json);
      const conns = evs.filter((e) => e.type === 'connection');
      expect(conns.map((c) => c.server)).toEqual([host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`]);
      expect(states(evs, 'client', 'inferred')).toEqual(['CLOSED', 'SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
      expect(lastState(evs, 'server')).toBe('CLOSED');
      // The kernel probe beside the inference: the same steps (ESTAB may be too short for it to see, never for the tracepoint).
      expect(states(evs, 'client', 'kernel').filter((s) => s !== 'CLOSED')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
      expect(states(evs, 'server', 'kernel')).toEqual(expect.arrayContaining(['CLOSE-WAIT', 'LAST-ACK']));
      expect(states(evs, 'server', 'kernel').at(-1)).toBe('CLOSED');
      expect(evs.filter((e) => e.type === 'disagreement')).toEqual([]);
      const kernel = inNs('ss', '-Htan').split('\n').filter((l) => l.includes(`:${r.local_port as number} `));
      console.log(`passthrough ${family}: kernel sees ${JSON.stringify(kernel)}`);
      expect(kernel.filter((l) => l.includes(`:${port}`)).map((l) => l.trim().split(/\s+/)[0])).toEqual(['TIME-WAIT']);
      expect(inNs('ss', '-Htan', 'sport', '=', `:${port}`).split('\n').filter((l) => l.trim() && !l.includes('LISTEN'))).toEqual([]);
      // Ctrl-C: exit 130, the chain gone in both families, and the probe's trace instance.
      const chain = runChain();
      expect(existsSync(traceInstanceOf(chain))).toBe(true);
      run.child.kill('SIGINT');
      const end = await run.done;
      expect(end.code, end.stderr).toBe(130);
      expect(ourRules()).toEqual([]);
      expect(existsSync(traceInstanceOf(chain))).toBe(false);
      s.child.kill('SIGKILL');
      other.child.kill('SIGKILL');
    });
  }

  it("drop-last-ack: the kernel retransmits the server's FIN from LAST-ACK, the expectations pass (exit 0)", async () => {
    const port = 7711;
    const s = await server('127.0.0.1', port);
    const retransAtStart = tcpCounter('RetransSegs');
    const { run, json } = await intercept('drop-last-ack', ['--port', String(port), '--profile', 'drop-last-ack', '--duration', '5']);
    const r = await clientResult(peer('client', '127.0.0.1', port));
    expect(r).toMatchObject({ ok: true, equal: true });
    // The kernel's own view: the server's socket sits in LAST-ACK and its FIN is sent again and again.
    let lastAck: string[] = [];
    await until(() => {
      lastAck = inNs('ss', '-Htan', 'state', 'last-ack').split('\n').filter((l) => l.includes(`:${port} `));
      return lastAck.length === 1 && tcpCounter('RetransSegs') - retransAtStart >= 2;
    }, 10_000);
    console.log(`drop-last-ack: kernel LAST-ACK ${JSON.stringify(lastAck)}, ${tcpCounter('RetransSegs') - retransAtStart} retransmissions so far`);
    const end = await run.done;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toMatch(/drop-last-ack/);
    const evs = readEvents(json);
    const drops = evs.filter((e) => e.type === 'segment' && e.from === 'client' && e.role === 'last-ack');
    expect(drops.length).toBeGreaterThanOrEqual(3);
    expect(drops.every((d) => d.verdict === 'drop')).toBe(true);
    // Checked by inference and by the kernel probe, both ends.
    const checks = evs.filter((e) => e.type === 'expectation');
    expect(checks.map((e) => `${e.subject}: ${e.status}`)).toEqual([
      'client states (inferred): met',
      'client never (inferred): met',
      'client states (kernel): met',
      'client never (kernel): met',
      'server states (inferred): met',
      'server states (kernel): met',
    ]);
    expect(states(evs, 'server', 'kernel').at(-1)).toBe('LAST-ACK');
    expect(ourRules()).toEqual([]);
    s.child.kill('SIGKILL');
  });

  it('a profile whose expectation fails: exit 3, as in a lab', async () => {
    const port = 7721;
    const s = await server('127.0.0.1', port);
    const profile = writeProfile(
      'never-time-wait',
      'name: never-time-wait\ndescription: the passive closer never reaches TIME-WAIT\nrules: []\n' +
        'expect:\n  server:\n    states: [ESTAB, TIME-WAIT]\n    within: 2s\n',
    );
    const { run } = await intercept('never-time-wait', ['--port', String(port), '--profile', profile, '--duration', '3']);
    expect(await clientResult(peer('client', '127.0.0.1', port))).toMatchObject({ ok: true, equal: true });
    const end = await run.done;
    expect(end.code, end.stderr).toBe(3);
    expect(ourRules()).toEqual([]);
    s.child.kill('SIGKILL');
  });

  it('a forged RST: the client gets ECONNRESET', async () => {
    const port = 7731;
    const s = await server('127.0.0.1', port);
    const profile = writeProfile(
      'rst-client-on-data',
      'name: rst-client-on-data\ndescription: RST to the client when its data goes by\nrules:\n' +
        '  - id: rst-on-data\n    match: { from: client, role: data }\n    action: { rst: { to: client } }\n    times: 1\n',
    );
    const { run, json } = await intercept('rst', ['--port', String(port), '--profile', profile]);
    // The client sends and then waits for the answer without closing: the RST is what it gets.
    const r = await clientResult(peer('client', '127.0.0.1', port, '--no-shutdown', '1'));
    expect(r).toMatchObject({ ok: false, error: 'ECONNRESET' });
    // The log is written in batches: wait for the forged segment's line, and the client's kernel socket going with it.
    const evs = await waitForEvents(json, (es) => es.some((e) => e.type === 'segment' && e.verdict === 'forged' && e.from === 'server') && states(es, 'client', 'kernel').at(-1) === 'CLOSED');
    expect(states(evs, 'client', 'inferred').at(-1)).toBe('CLOSED');
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(130);
    expect(ourRules()).toEqual([]);
    s.child.kill('SIGKILL');
  });

  it('a second run on the same port is refused (exit 2)', async () => {
    const port = 7741;
    const { run } = await intercept('first', ['--port', String(port)]);
    const second = await runCli(['intercept', '--netns', NS_PATH, '--no-ui', '--port', String(port), '--duration', '1'], 30_000);
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toMatch(/E_PORT_BUSY/);
    run.child.kill('SIGINT');
    await run.done;
    expect(ourRules()).toEqual([]);
  });

  it('SIGKILL mid-run: the connection goes on (fail-open), --cleanup removes the dead run\'s chain', async () => {
    const port = 7751;
    const s = await server('127.0.0.1', port);
    const { run } = await intercept('killed', ['--port', String(port)]);
    const chain = runChain();
    const go = join(tmp, 'killed.go');
    const c = peer('client', '127.0.0.1', port, '--pause-file', go);
    await until(() => c.lines.some((l) => l.event === 'paused'), 10_000);
    // tcpmitm dies at once, the whole of it (the command and its session).
    process.kill(-run.child.pid!, 'SIGKILL');
    await run.done;
    const left = ourRules();
    expect(left.some((l) => /^-A OUTPUT .*-j tcpmitm-/.test(l))).toBe(true);
    writeFileSync(go, '');
    expect(await clientResult(c)).toMatchObject({ ok: true, equal: true, sent: 20000, got: 20000 });
    const cleanup = await runCli(['intercept', '--netns', NS_PATH, '--cleanup'], 30_000);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(cleanup.stdout).toContain(`removed chain ${chain} (iptables`);
    expect(cleanup.stdout).toContain(`removed chain ${chain} (ip6tables`);
    expect(cleanup.stdout).toContain(`removed the kernel probe's trace instance ${traceInstanceOf(chain)}`);
    expect(ourRules()).toEqual([]);
    expect(existsSync(traceInstanceOf(chain))).toBe(false);
    s.child.kill('SIGKILL');
  });
  for (const family of [4, 6] as const) {
    it(`a client on another host (IPv${family}): its segments are queued in INPUT, its last ACK dropped; the server's kernel holds LAST-ACK, the far socket is none of the run's`, async () => {
      const port = 7761 + family;
      const s = await server(NEAR_ADDR[family], port);
      const retransAtStart = tcpCounter('RetransSegs');
      const profile = writeProfile(
        `far-last-ack-${family}`,
        'name: far-last-ack\ndescription: drop the last ACK of a client on another host\nrules:\n' +
          '  - id: last-ack\n    match: { from: client, role: last-ack }\n    action: drop\n' +
          'expect:\n  server:\n    states: [CLOSE-WAIT, LAST-ACK]\n    not: [CLOSED]\n',
      );
      const { run, json } = await intercept(`far-client-${family}`, ['--port', String(port), '--profile', profile, '--duration', '5']);
      const r = await clientResult(peerIn(FAR, 'client', NEAR_ADDR[family], port));
      expect(r).toMatchObject({ ok: true, equal: true });
      let lastAck: string[] = [];
      await until(() => {
        lastAck = inNs('ss', '-Htan', 'state', 'last-ack').split('\n').filter((l) => l.includes(`:${port} `));
        return lastAck.length === 1 && tcpCounter('RetransSegs') - retransAtStart >= 2;
      }, 10_000);
      const end = await run.done;
      expect(end.code, end.stderr).toBe(0);
      const evs = readEvents(json);
      const conns = evs.filter((e) => e.type === 'connection');
      expect(conns).toHaveLength(1);
      expect(String(conns[0]!.client)).toContain(FAR_ADDR[family]);
      // Both directions were seen: the client's segments (INPUT) and the server's (OUTPUT), each once.
      expect(states(evs, 'client', 'inferred')).toEqual(['CLOSED', 'SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
      expect(states(evs, 'server', 'inferred').at(-1)).toBe('LAST-ACK');
      const segs = evs.filter((e) => e.type === 'segment');
      const syns = segs.filter((e) => e.from === 'client' && String(e.flags).includes('S'));
      expect(syns).toHaveLength(1);
      const drops = segs.filter((e) => e.from === 'client' && e.role === 'last-ack');
      expect(drops.length).toBeGreaterThanOrEqual(3);
      expect(drops.every((d) => d.verdict === 'drop')).toBe(true);
      // The kernel's view: the server's socket here; the client's socket lives in another namespace of this kernel
      // (the tracepoint is host-wide), and is not taken for one of the run's.
      expect(states(evs, 'server', 'kernel')).toEqual(expect.arrayContaining(['CLOSE-WAIT', 'LAST-ACK']));
      expect(states(evs, 'client', 'kernel')).toEqual([]);
      expect(evs.filter((e) => e.type === 'disagreement')).toEqual([]);
      expect(evs.filter((e) => e.type === 'expectation').map((e) => `${e.subject}: ${e.status}`)).toEqual([
        'server states (inferred): met',
        'server never (inferred): met',
        'server states (kernel): met',
        'server never (kernel): met',
      ]);
      expect(ourRules()).toEqual([]);
      s.child.kill('SIGKILL');
    });
  }

  it("a server on another host, the client here: passthrough, the client's kernel states are the inferred ones", async () => {
    const port = 7771;
    const s = await server(FAR_ADDR[4], port, 300, FAR);
    const { run, json } = await intercept('far-server', ['--port', String(port)]);
    const r = await clientResult(peer('client', FAR_ADDR[4], port, '--bytes', '20000'));
    expect(r).toMatchObject({ ok: true, equal: true, sent: 20000, got: 20000 });
    const evs = await waitForEvents(json, (es) => states(es, 'client', 'kernel').at(-1) === 'TIME-WAIT' && states(es, 'client', 'inferred').at(-1) === 'TIME-WAIT');
    expect(states(evs, 'client', 'inferred')).toEqual(['CLOSED', 'SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    expect(states(evs, 'client', 'kernel').filter((x) => x !== 'CLOSED')).toEqual(['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
    expect(states(evs, 'server', 'kernel')).toEqual([]);
    expect(evs.filter((e) => e.type === 'disagreement')).toEqual([]);
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(130);
    expect(ourRules()).toEqual([]);
    s.child.kill('SIGKILL');
  });

  it("--pid: the namespace of a process (as a container's), the same run as --netns; a pid that is not there is refused (exit 2)", async () => {
    const port = 7781;
    const s = await server('127.0.0.1', port);
    const { run, json } = await intercept('by-pid', ['--port', String(port)], ['--pid', String(s.child.pid)]);
    expect(await clientResult(peer('client', '127.0.0.1', port))).toMatchObject({ ok: true, equal: true });
    const evs = await waitForEvents(json, (es) => states(es, 'server', 'inferred').at(-1) === 'CLOSED');
    expect(states(evs, 'client', 'inferred').at(-1)).toBe('TIME-WAIT');
    expect(ourRules().some((l) => l.startsWith('-A OUTPUT') && l.includes('tcpmitm-'))).toBe(true);
    run.child.kill('SIGINT');
    expect((await run.done).code).toBe(130);
    expect(ourRules()).toEqual([]);
    s.child.kill('SIGKILL');
    const gone = await runCli(['intercept', '--pid', '4194304', '--port', String(port), '--no-ui'], 30_000);
    expect(gone.code, gone.stderr).toBe(2);
    expect(gone.stderr).toMatch(/--pid 4194304: no such process/);
    const both = await runCli(['intercept', '--pid', String(process.pid), '--netns', NS_PATH, '--port', String(port), '--no-ui'], 30_000);
    expect(both.code, both.stderr).toBe(2);
    expect(both.stderr).toMatch(/--pid and --netns/);
  });
});
