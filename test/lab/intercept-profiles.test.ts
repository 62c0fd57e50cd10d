// Every built-in profile in intercept mode: `tcpmitm intercept --netns … --port
// P --profile NAME` inline on the loopback of a namespace the test makes
// (icpt-…), with the built-in peers (`tcpmitm peer server|client`, the
// profile's own `lab.server` / `lab.client` flags) as the user's programs.
// Each run exits 0 with every state expectation met by inference and by the
// kernel probe (the tracepoint: both ends are local); the `app` expectations,
// which intercept cannot answer (the programs are not its own: reported not
// checked), are checked here against what the peers printed. IPv4 and IPv6 for all;
// time-wait-assassination also with net.ipv4.tcp_rfc1337=1, in a namespace of its own.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tcpmitmRulesIn } from '../helpers/netfilter.js';
import { netnsList, requireRoot, until } from '../helpers/lab.js';
import { BIN, readEvents, startCli, type LabEvent } from '../helpers/run-lab.js';
import { limiter } from '../helpers/limit.js';
import { isSubsequence, seq, show } from '../helpers/profile-lab.js';
import { resolveProfile } from '../../src/session/profile-choice.js';
import { builtinProfileNames } from '../../src/rules/load.js';
import { spawnJsonLines } from '../helpers/json-lines.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const NS = `icpt-${randomBytes(3).toString('hex')}`;
/** A second namespace, for time-wait-assassination with net.ipv4.tcp_rfc1337=1 (per namespace: the first keeps the default, 0). */
const NS_RFC1337 = `${NS}r`;
const tmp = tempDir('tcpmitm-icpt-');
/** Runs at once (2 cores; each run is tcpmitm and two peers). */
const limited = limiter(3);
const children: ChildProcess[] = [];

/** Each profile on a port of its own: runs at once in one namespace never see each other's segments. */
const PROFILES: readonly (readonly [string, number])[] = [
  ['passthrough', 7811],
  ['drop-last-ack', 7812],
  ['delay-fin', 7813],
  ['forge-rst', 7814],
  ['coalesce-fin-ack', 7815],
  ['simultaneous-close', 7816],
  ['blackhole', 7817],
  ['time-wait-assassination', 7818],
];

interface PeerRun {
  readonly lines: Record<string, unknown>[];
  readonly kill: () => void;
}

/** `tcpmitm peer KIND ARGS…` in the test namespace; its JSON lines as they come. */
function peer(ns: string, kind: 'server' | 'client', args: readonly string[]): PeerRun {
  return spawnJsonLines(ns, [process.execPath, BIN, 'peer', kind, ...args], children);
}

interface InterceptRun {
  readonly code: number | null;
  readonly stderr: string;
  readonly events: LabEvent[];
  readonly app: { client: string[]; server: string[] };
}

/**
 * One profile: intercept on `port`, then the built-in server and client with
 * the profile's flags, as a lab starts them; the run ends at the profile's
 * lab.duration (default 6 s), the peers are stopped after it.
 */
async function runProfile(name: string, family: 4 | 6, port: number, set: Readonly<Record<string, string>>, ns: string): Promise<InterceptRun> {
  const chosen = await resolveProfile(name, set);
  const host = family === 4 ? '127.0.0.1' : '::1';
  const json = join(tmp, `${name}-${family}-${port}.jsonl`);
  const duration = chosen.lab?.duration ?? 6;
  const sets = Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  return limited(async () => {
    // The profile's sysctls (time-wait-assassination's tcp_rfc1337) in the one namespace both ends share.
    for (const [k, v] of Object.entries({ ...chosen.lab?.sysctls?.server, ...chosen.lab?.sysctls?.client })) execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${k}=${v}`]);
    const run = startCli(['intercept', '--netns', `/run/netns/${ns}`, '--port', String(port), '--host', host, '--profile', name, ...sets, '--no-ui', '--json', json, '--duration', String(duration)], (duration + 30) * 1000);
    await until(() => readEvents(json).some((e) => e.type === 'warning' && String(e.message).startsWith('netfilter:')) || run.child.exitCode !== null, 20_000);
    const server = peer(ns, 'server', ['--host', host, '--port', String(port), ...(chosen.lab?.server ?? [])]);
    await until(() => server.lines.some((l) => l.event === 'listening') || run.child.exitCode !== null, 10_000);
    const client = peer(ns, 'client', ['--connect', family === 4 ? `${host}:${port}` : `[${host}]:${port}`, ...(chosen.lab?.client ?? [])]);
    const end = await run.done;
    // A peer still waiting (the blackhole's client, a server in LAST-ACK) has no more to say.
    server.kill();
    client.kill();
    const app = { client: client.lines.map((l) => String(l.event)), server: server.lines.map((l) => String(l.event)) };
    return { code: end.code, stderr: end.stderr, events: readEvents(json), app };
  });
}

/** Prints the four state sequences and the peers' lines, then checks exit 0 and the expectations. */
async function expectMet(name: string, family: 4 | 6, port: number, set: Readonly<Record<string, string>> = {}, ns = NS): Promise<InterceptRun> {
  const run = await runProfile(name, family, port, set, ns);
  const label = `${name}${Object.keys(set).length ? ` ${JSON.stringify(set)}` : ''} IPv${family}`;
  console.log(
    `${label}: exit ${run.code}\n` +
      `  client inferred ${show(run.events, 'client', 'inferred')}\n  client kernel   ${show(run.events, 'client', 'kernel')}\n` +
      `  server inferred ${show(run.events, 'server', 'inferred')}\n  server kernel   ${show(run.events, 'server', 'kernel')}\n` +
      `  client app ${run.app.client.join(' ')}\n  server app ${run.app.server.join(' ')}`,
  );
  expect(run.code, run.stderr).toBe(0);
  // The tracepoint (mounted by the probe if need be), not the /proc poller: every transition is seen.
  expect(run.events.some((e) => e.type === 'warning' && String(e.message).startsWith('kernel probe: the sock:inet_sock_set_state tracepoint'))).toBe(true);
  const checks = run.events.filter((e) => e.type === 'expectation');
  const chosen = await resolveProfile(name, set);
  for (const end of ['client', 'server'] as const) {
    const x = chosen.expect?.[end];
    if (!x) continue;
    // Both sources, each met: the tracepoint sees both local ends.
    for (const src of ['inferred', 'kernel']) {
      if (x.states) expect(checks.find((c) => c.subject === `${end} states (${src})`), `${label}: ${end} states (${src})`).toMatchObject({ status: 'met' });
      if (x.not?.length) expect(checks.find((c) => c.subject === `${end} never (${src})`), `${label}: ${end} never (${src})`).toMatchObject({ status: 'met' });
    }
    // What the built-in peers printed, which intercept does not read (they are the user's programs here).
    if (x.app) {
      expect(checks.find((c) => c.subject === `${end} app`)).toMatchObject({ status: 'not-checked' });
      expect(isSubsequence(x.app, run.app[end]), `${label}: ${end} app ${x.app.join(' → ')} in ${run.app[end].join(' ')}`).toBe(true);
    }
  }
  expect(checks.filter((c) => c.status === 'failed'), run.stderr).toEqual([]);
  expect(run.events.filter((e) => e.type === 'disagreement')).toEqual([]);
  return run;
}

describe.skipIf(root.skip).concurrent('every built-in profile in intercept mode, on the loopback of a test namespace', () => {
  beforeAll(() => {
    for (const ns of [NS, NS_RFC1337]) {
      execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    // Every run removed its chain on the way out: nothing of tcpmitm's in either family's rules, either backend.
    let left: string[];
    try {
      left = [NS, NS_RFC1337].flatMap(tcpmitmRulesIn);
    } finally {
      for (const ns of [NS, NS_RFC1337]) {
        const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
        for (const pid of pids) spawnSync('kill', ['-9', pid]);
        spawnSync('ip', ['netns', 'del', ns]);
      }
    }
    expect(left).toEqual([]);
    expect(netnsList()).not.toContain(NS);
    expect(netnsList()).not.toContain(NS_RFC1337);
  });

  it('covers every built-in profile', () => {
    expect(builtinProfileNames().sort()).toEqual([...PROFILES.map(([n]) => n)].sort());
  });

  for (const [name, port] of PROFILES) {
    it(`${name} (IPv4)`, async () => {
      const run = await expectMet(name, 4, port);
      if (name === 'drop-last-ack') expect(seq(run.events, 'server', 'kernel').at(-1)).toBe('LAST-ACK');
      // rfc1337=0 (the default): the forged RST ends the client's TIME-WAIT.
      if (name === 'time-wait-assassination') expect(seq(run.events, 'client', 'kernel').slice(-2)).toEqual(['TIME-WAIT', 'CLOSED']);
    });
  }
  for (const [name, port] of PROFILES) {
    it(`${name} (IPv6)`, async () => {
      await expectMet(name, 6, port + 50);
    });
  }
  it('time-wait-assassination --set rfc1337=1 (IPv4): TIME-WAIT survives the RST, the server closes on the re-ACK', async () => {
    const run = await expectMet('time-wait-assassination', 4, 7831, { rfc1337: '1' }, NS_RFC1337);
    // The client stays in TIME-WAIT (with rfc1337=0 the RST ends it: CLOSED, above).
    expect(seq(run.events, 'client', 'kernel').at(-1)).toBe('TIME-WAIT');
    expect(seq(run.events, 'server', 'kernel').at(-1)).toBe('CLOSED');
  });

});
