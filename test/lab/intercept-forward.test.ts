// Intercept on traffic this host only routes (the FORWARD hook): a client
// namespace and a server namespace (icpf-…c, …s), each behind a veth to a
// middle namespace (…m) that routes between them (198.18.91.0/24 ⇄
// 198.18.92.0/24, 2001:2:91::/64 ⇄ 2001:2:92::/64), where `tcpmitm intercept
// --netns` runs. Neither end's socket is in the middle namespace: the
// segments pass its FORWARD hook alone, each once; the ends' states are
// inferred, their kernel checks reported not checked, and the ends' own
// kernels (ss in their namespaces) show what drop-last-ack claims: the
// server holding LAST-ACK, the client in TIME-WAIT. And a forged RST,
// leaving the router by its raw socket, resets the client.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tcpmitmRulesIn } from '../helpers/netfilter.js';
import { netnsList, requireRoot, until } from '../helpers/lab.js';
import { BIN, readEvents, startCli, states, type LabEvent } from '../helpers/run-lab.js';
import { resolveProfile } from '../../src/session/profile-choice.js';
import { spawnJsonLines } from '../helpers/json-lines.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const ID = `icpf-${randomBytes(3).toString('hex')}`;
const NS = { client: `${ID}c`, middle: `${ID}m`, server: `${ID}s` } as const;
const ADDR = {
  4: { client: '198.18.91.1', routerC: '198.18.91.254', server: '198.18.92.1', routerS: '198.18.92.254', len: 24 },
  6: { client: '2001:2:91::1', routerC: '2001:2:91::fe', server: '2001:2:92::1', routerS: '2001:2:92::fe', len: 64 },
} as const;
const tmp = tempDir('tcpmitm-icpf-');
const children: ChildProcess[] = [];

const ip = (...args: string[]): void => void execFileSync('ip', args);
const inNs = (ns: string, ...cmd: string[]): string => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });

function peer(ns: string, kind: 'server' | 'client', args: readonly string[]): { lines: Record<string, unknown>[]; kill: () => void } {
  return spawnJsonLines(ns, [process.execPath, BIN, 'peer', kind, ...args], children);
}

/** The TCP states of `ns`'s sockets on `port` (ss, the kernel's own view there). */
function kernelStates(ns: string, port: number): string[] {
  return inNs(ns, 'ss', '-Htan')
    .split('\n')
    .filter((l) => l.includes(`:${port} `) || l.trimEnd().endsWith(`:${port}`))
    .map((l) => l.trim().split(/\s+/)[0]!)
    .filter((s) => s !== 'LISTEN');
}

interface RoutedRun {
  readonly code: number | null;
  readonly stderr: string;
  readonly events: LabEvent[];
  readonly server: string[];
  readonly client: string[];
  readonly app: { client: string[]; server: string[] };
}

/** A built-in profile between the two end namespaces, intercepted in the middle one; the ends' kernels read just before the run ends. */
async function routed(name: string, family: 4 | 6, port: number): Promise<RoutedRun> {
  const chosen = await resolveProfile(name);
  const a = ADDR[family];
  const json = join(tmp, `${name}-${family}.jsonl`);
  const duration = chosen.lab?.duration ?? 6;
  const run = startCli(['intercept', '--netns', `/run/netns/${NS.middle}`, '--port', String(port), '--profile', name, '--no-ui', '--json', json, '--duration', String(duration)], (duration + 30) * 1000);
  await until(() => readEvents(json).some((e) => e.type === 'warning' && String(e.message).startsWith('netfilter:')) || run.child.exitCode !== null, 20_000);
  const server = peer(NS.server, 'server', ['--host', a.server, '--port', String(port), ...(chosen.lab?.server ?? [])]);
  await until(() => server.lines.some((l) => l.event === 'listening'), 10_000);
  const client = peer(NS.client, 'client', ['--connect', family === 4 ? `${a.server}:${port}` : `[${a.server}]:${port}`, ...(chosen.lab?.client ?? [])]);
  await until(() => client.lines.some((l) => l.event === 'exit') || run.child.exitCode !== null, (duration + 5) * 1000);
  // While the run still holds its verdicts: what each end's kernel shows.
  await new Promise((r) => setTimeout(r, 1500));
  const kernel = { server: kernelStates(NS.server, port), client: kernelStates(NS.client, port) };
  const end = await run.done;
  server.kill();
  client.kill();
  const app = { client: client.lines.map((l) => String(l.event)), server: server.lines.map((l) => String(l.event)) };
  return { code: end.code, stderr: end.stderr, events: readEvents(json), ...kernel, app };
}

function show(r: RoutedRun, label: string): void {
  console.log(
    `${label}: exit ${r.code}; client inferred ${states(r.events, 'client', 'inferred').join(' → ')}; server inferred ${states(r.events, 'server', 'inferred').join(' → ')}; ` +
      `kernel (ss in their namespaces): client ${r.client.join(',')}, server ${r.server.join(',')}; app client ${r.app.client.join(' ')}, server ${r.app.server.join(' ')}`,
  );
}

describe.skipIf(root.skip)('intercept in a namespace that only routes (FORWARD)', () => {
  beforeAll(() => {
    for (const ns of Object.values(NS)) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('link', 'add', 'c0', 'netns', NS.client, 'type', 'veth', 'peer', 'name', 'mc', 'netns', NS.middle);
    ip('link', 'add', 's0', 'netns', NS.server, 'type', 'veth', 'peer', 'name', 'ms', 'netns', NS.middle);
    for (const f of [4, 6] as const) {
      const a = ADDR[f];
      const nodad = f === 6 ? ['nodad'] : [];
      ip('-n', NS.client, 'addr', 'add', `${a.client}/${a.len}`, 'dev', 'c0', ...nodad);
      ip('-n', NS.middle, 'addr', 'add', `${a.routerC}/${a.len}`, 'dev', 'mc', ...nodad);
      ip('-n', NS.middle, 'addr', 'add', `${a.routerS}/${a.len}`, 'dev', 'ms', ...nodad);
      ip('-n', NS.server, 'addr', 'add', `${a.server}/${a.len}`, 'dev', 's0', ...nodad);
    }
    for (const [ns, dev] of [[NS.client, 'c0'], [NS.middle, 'mc'], [NS.middle, 'ms'], [NS.server, 's0']] as const) {
      ip('-n', ns, 'link', 'set', dev, 'up');
      // Segments as their sender made them (no GRO super-segments, checksums done), as in a lab.
      execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' });
    }
    for (const f of [4, 6] as const) {
      const v = f === 6 ? ['-6'] : [];
      ip(...v, '-n', NS.client, 'route', 'add', 'default', 'via', ADDR[f].routerC);
      ip(...v, '-n', NS.server, 'route', 'add', 'default', 'via', ADDR[f].routerS);
    }
    inNs(NS.middle, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    let left: string[];
    try {
      left = tcpmitmRulesIn(NS.middle);
    } finally {
      for (const ns of Object.values(NS)) {
        for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) spawnSync('kill', ['-9', pid]);
        spawnSync('ip', ['netns', 'del', ns]);
      }
    }
    expect(left).toEqual([]);
    for (const ns of Object.values(NS)) expect(netnsList()).not.toContain(ns);
  });

  for (const [family, port] of [
    [4, 7941],
    [6, 7942],
  ] as const) {
    it(`drop-last-ack (IPv${family}): every segment seen once in FORWARD, the expectations met by inference (kernel: not checked, no socket here); the server's own kernel holds LAST-ACK`, async () => {
      const r = await routed('drop-last-ack', family, port);
      show(r, `drop-last-ack IPv${family} routed`);
      expect(r.code, r.stderr).toBe(0);
      const checks = r.events.filter((e) => e.type === 'expectation').map((e) => `${e.subject}: ${e.status}`);
      expect(checks).toEqual([
        'client states (inferred): met',
        'client never (inferred): met',
        'client states (kernel): not-checked',
        'client never (kernel): not-checked',
        'server states (inferred): met',
        'server states (kernel): not-checked',
      ]);
      expect(String(r.events.find((e) => e.type === 'expectation' && e.subject === 'server states (kernel)')!.observed)).toContain("the server's socket");
      expect(states(r.events, 'client', 'inferred')).toEqual(['CLOSED', 'SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT']);
      expect(states(r.events, 'server', 'inferred').at(-1)).toBe('LAST-ACK');
      // Each segment once: one SYN, one SYN-ACK, and the dropped ACKs answer the server's FIN and its retransmissions one for one.
      const segs = r.events.filter((e) => e.type === 'segment');
      expect(segs.filter((e) => e.from === 'client' && e.flags === 'S')).toHaveLength(1);
      expect(segs.filter((e) => e.from === 'server' && e.flags === 'SA')).toHaveLength(1);
      const drops = segs.filter((e) => e.from === 'client' && e.role === 'last-ack');
      const fins = segs.filter((e) => e.from === 'server' && String(e.flags).includes('F'));
      expect(drops.length).toBeGreaterThanOrEqual(3);
      expect(drops.every((d) => d.verdict === 'drop')).toBe(true);
      expect(drops.length).toBe(fins.length);
      // No kernel state from the middle namespace: neither socket is there.
      expect(states(r.events, 'client', 'kernel')).toEqual([]);
      expect(states(r.events, 'server', 'kernel')).toEqual([]);
      // The ends' own kernels, in their namespaces.
      expect(r.server).toEqual(['LAST-ACK']);
      expect(r.client).toEqual(['TIME-WAIT']);
    });
  }

  it('forge-rst (IPv4): the RST forged in the middle resets the client (ECONNRESET), the server answers into CLOSED', async () => {
    const r = await routed('forge-rst', 4, 7943);
    show(r, 'forge-rst IPv4 routed');
    expect(r.code, r.stderr).toBe(0);
    expect(r.events.filter((e) => e.type === 'expectation' && e.status === 'failed')).toEqual([]);
    expect(r.app.client).toContain('ECONNRESET');
    expect(r.app.server).toContain('EPIPE');
    expect(states(r.events, 'client', 'inferred').at(-1)).toBe('CLOSED');
    expect(r.client).toEqual([]);
    expect(r.server).toEqual([]);
  });
});
