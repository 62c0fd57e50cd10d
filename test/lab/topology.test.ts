import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLab, removeLab, type Lab } from '../../src/lab/topology.js';
import { listLabs, removeStaleLabs, labExecCommand, labDownCommand, formatLabTable } from '../../src/lab/manage.js';
import { registryDir } from '../../src/lab/registry.js';
import { preflightProblems, type PreflightProbes } from '../../src/session/preflight.js';
import { TcpmitmError } from '../../src/cli/errors.js';
import { compileForChildren, netnsList, requireRoot, uniqueLabId, until } from '../helpers/lab.js';

const root = requireRoot();
const made: string[] = [];
afterAll(async () => {
  for (const id of made) await removeLab(id);
});

function sh(ns: string, cmd: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8' });
}

/** Nothing of lab `id` is left: namespaces, registry record, temp links in the root namespace. */
function assertGone(id: string): void {
  const left = netnsList().filter((n) => n.startsWith(`${id}-`));
  expect(left).toEqual([]);
  expect(existsSync(join(registryDir(), `${id}.json`))).toBe(false);
  // Temp links live in the root namespace for a few ms while any lab is being
  // made — another test file's, in parallel. A leaked one stays: wait out the
  // in-flight ones (bounded) before calling any a leftover.
  const temp = / tm[0-9a-f]{6}(c0|m0|m1|s0)/;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 40 && temp.test(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })); i++) Atomics.wait(pause, 0, 0, 50);
  expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toMatch(temp);
}

describe.skipIf(root.skip)('lab topology (real namespaces)', () => {
  it('creates the three namespaces with every property, and destroy leaves nothing', async () => {
    const id = uniqueLabId('tl');
    made.push(id);
    const lab = await createLab({ id, ipv6: false });
    console.log(`createLab took ${lab.createMs.toFixed(1)} ms`);
    expect(lab.createMs).toBeLessThan(1000);
    const ns = lab.namespaces;
    expect(netnsList()).toEqual(expect.arrayContaining([`${id}-c`, `${id}-m`, `${id}-s`]));

    const rec = JSON.parse(readFileSync(join(registryDir(), `${id}.json`), 'utf8'));
    expect(rec).toMatchObject({ id, pid: process.pid, ipv6: false, namespaces: [ns.client, ns.middle, ns.server] });

    expect(sh(ns.client, 'ip -o -4 addr show dev c0')).toContain('inet 198.18.0.1/24');
    expect(sh(ns.server, 'ip -o -4 addr show dev s0')).toContain('inet 198.18.0.2/24');
    expect(sh(ns.client, 'ip -o link show lo')).toMatch(/UP/);
    expect(sh(ns.middle, 'ip -o addr show dev m0; ip -o addr show dev m1')).not.toMatch(/inet/);
    expect(sh(ns.middle, 'ip -o link show m0; ip -o link show m1')).toMatch(/m0@\S+ <[^>]*PROMISC,UP[\s\S]*m1@\S+ <[^>]*PROMISC,UP/);
    expect(sh(ns.middle, 'cat /proc/sys/net/ipv4/ip_forward').trim()).toBe('0');
    expect(sh(ns.middle, 'cat /proc/sys/net/ipv6/conf/m0/disable_ipv6 /proc/sys/net/ipv6/conf/m1/disable_ipv6')).toBe('1\n1\n');
    for (const [n, dev] of [[ns.client, 'c0'], [ns.middle, 'm0'], [ns.middle, 'm1'], [ns.server, 's0']] as const) {
      const k = sh(n, `ethtool -k ${dev}`);
      for (const f of ['rx-checksumming', 'tx-checksumming', 'tcp-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload']) {
        expect(k, `${dev} ${f}`).toMatch(new RegExp(`^${f}: off`, 'm'));
      }
    }
    // No forwarding in the middle: nothing crosses without tcpmitm (an ARP never gets an answer).
    expect(() => sh(ns.client, 'ip neigh flush dev c0; ping -c1 -W1 198.18.0.2 >/dev/null 2>&1 || exit 3; exit 0')).toThrow();
    // The holders live in their namespaces.
    const nsInode = (pid: number) => readFileSync(`/proc/${pid}/net/dev`, 'utf8');
    expect(nsInode(lab.nsPid('client'))).toContain('c0:');
    expect(nsInode(lab.nsPid('middle'))).toContain('m1:');
    expect(nsInode(lab.nsPid('server'))).toContain('s0:');

    const holders = (['client', 'middle', 'server'] as const).map((w) => lab.nsPid(w));
    await lab.destroy();
    await lab.destroy(); // idempotent
    assertGone(id);
    for (const pid of holders) expect(existsSync(`/proc/${pid}/net`)).toBe(false);
  });

  it('gives the ends IPv6 addresses with --ipv6, usable at once (nodad)', async () => {
    const id = uniqueLabId('tl');
    made.push(id);
    const lab = await createLab({ id, ipv6: true });
    try {
      const c = sh(lab.namespaces.client, 'ip -o -6 addr show dev c0');
      expect(c).toContain('inet6 2001:2::1/64');
      expect(c).not.toMatch(/2001:2::1\/64.*tentative/);
      expect(sh(lab.namespaces.server, 'ip -o -6 addr show dev s0')).toContain('inet6 2001:2::2/64');
      expect(sh(lab.namespaces.middle, 'cat /proc/sys/net/ipv6/conf/m0/disable_ipv6').trim()).toBe('0');
      expect(sh(lab.namespaces.middle, 'cat /proc/sys/net/ipv6/conf/all/forwarding').trim()).toBe('0');
    } finally {
      await lab.destroy();
    }
    assertGone(id);
  });

  it('runs two labs at once, and removing one leaves the other intact', async () => {
    const a = uniqueLabId('tl');
    const b = uniqueLabId('tl');
    made.push(a, b);
    const [la, lb] = await Promise.all([createLab({ id: a, ipv6: false }), createLab({ id: b, ipv6: false })]);
    expect(la.nsPid('client')).not.toBe(lb.nsPid('client'));
    await la.destroy();
    assertGone(a);
    expect(sh(lb.namespaces.client, 'ip -o -4 addr show dev c0')).toContain('198.18.0.1/24');
    await lb.destroy();
    assertGone(b);
  });

  it('refuses an id in use (E_LAB_EXISTS, exit 2) and leaves both the old lab and nothing else behind', async () => {
    const id = uniqueLabId('tl');
    made.push(id);
    const lab = await createLab({ id, ipv6: false });
    const before = netnsList().sort();
    const err = await createLab({ id, ipv6: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TcpmitmError);
    expect(err).toMatchObject({ code: 'E_LAB_EXISTS', exitCode: 2 });
    expect(netnsList().sort()).toEqual(before);
    expect(sh(lab.namespaces.client, 'ip -o -4 addr show dev c0')).toContain('198.18.0.1/24');
    expect(JSON.parse(readFileSync(join(registryDir(), `${id}.json`), 'utf8')).pid).toBe(process.pid);
    await lab.destroy();
    assertGone(id);

    // A namespace of that name without a record is someone else's: refused and untouched.
    const id2 = uniqueLabId('tl');
    made.push(id2);
    execFileSync('ip', ['netns', 'add', `${id2}-m`]);
    try {
      await expect(createLab({ id: id2, ipv6: false })).rejects.toMatchObject({ code: 'E_LAB_EXISTS' });
      expect(netnsList()).toContain(`${id2}-m`);
      expect(netnsList()).not.toContain(`${id2}-c`);
      expect(existsSync(join(registryDir(), `${id2}.json`))).toBe(false);
    } finally {
      execFileSync('ip', ['netns', 'del', `${id2}-m`]);
    }
  });

  it('finds a SIGKILLed owner\'s lab as stale and `down --stale` removes it', async () => {
    const id = uniqueLabId('tl');
    made.push(id);
    const topo = join(compileForChildren(), 'lab/topology.js');
    const child = spawn(process.execPath, ['--input-type=module', '-e',
      `const { createLab } = await import(${JSON.stringify(topo)}); await createLab({ id: ${JSON.stringify(id)}, ipv6: false }); console.log('up'); setInterval(() => {}, 1000);`,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('up'), 10_000);
    const owner = child.pid!;
    expect(listLabs().find((l) => l.id === id)).toMatchObject({ pid: owner, alive: true, namespaces: [`${id}-c`, `${id}-m`, `${id}-s`] });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(listLabs().find((l) => l.id === id)).toMatchObject({ alive: false });
    expect(formatLabTable(listLabs().filter((l) => l.id === id), Date.now())).toMatch(new RegExp(`^${id}\\s+${owner}\\s+no \\(stale\\)`, 'm'));
    expect((await removeStaleLabs([id])).removed).toEqual([id]);
    assertGone(id);
  });

  it('`lab exec` runs in the namespace and returns the exit code; `lab down <id>` removes the lab', async () => {
    const id = uniqueLabId('tl');
    made.push(id);
    await createLab({ id, ipv6: false });
    expect(await labExecCommand(id, 'client', ['sh', '-c', 'ip -o link show c0 >/dev/null && exit 7'])).toBe(7);
    expect(await labExecCommand(id, 'middle', ['sh', '-c', 'ip -o link show m1 >/dev/null'])).toBe(0);
    await expect(labExecCommand(id, 'elsewhere', ['true'])).rejects.toMatchObject({ code: 'E_USAGE', exitCode: 2 });
    await expect(labExecCommand('tlnone', 'client', ['true'])).rejects.toMatchObject({ code: 'E_LAB_UNKNOWN', exitCode: 2 });
    expect(await labDownCommand(id, false)).toBe(0);
    assertGone(id);
    await expect(labDownCommand(id, false)).rejects.toMatchObject({ code: 'E_LAB_UNKNOWN' });
  });
});

describe('preflight (injected probes)', () => {
  const all: PreflightProbes = { capEff: () => (1n << 12n) | (1n << 13n) | (1n << 21n), hasCommand: () => true, libpcapLoadable: () => true, packetAddonLoadable: () => true };
  const needs = { namespaces: true, capture: 'packet-addon' } as const;

  it('passes when everything is there', () => {
    expect(preflightProblems(all, needs)).toEqual([]);
  });
  it('says how to run it when not root', () => {
    const [p] = preflightProblems({ ...all, capEff: () => 0n }, needs);
    expect(p).toMatchObject({ code: 'E_NOT_ROOT', exitCode: 2 });
    expect(p!.message).toContain('CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN');
    expect(p!.hint).toContain('sudo tcpmitm lab');
  });
  it('names the apt packages for what is missing', () => {
    const p = preflightProblems({ ...all, hasCommand: (c) => c !== 'ethtool', libpcapLoadable: () => false }, { namespaces: true, capture: 'libpcap' });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ code: 'E_MISSING_DEP', exitCode: 2 });
    expect(p[0]!.hint).toBe('install with: sudo apt-get update && sudo apt-get install -y ethtool libpcap-dev');
  });
  it('says how to build the packet addon when it does not load', () => {
    const p = preflightProblems({ ...all, packetAddonLoadable: () => false, libpcapLoadable: () => false }, needs);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ code: 'E_MISSING_DEP', exitCode: 2 });
    expect(p[0]!.hint).toContain('npm rebuild tcpmitm-afpacket');
  });
  it('asks only for what the mode needs', () => {
    expect(preflightProblems({ ...all, capEff: () => 1n << 12n, hasCommand: () => false }, { namespaces: false, capture: false })).toEqual([]);
  });
});
