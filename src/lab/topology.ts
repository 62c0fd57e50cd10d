// Builds and tears down a lab: three namespaces <id>-c, <id>-m, <id>-s joined by
// veth c0↔m0 and s0↔m1, addresses only on the ends, offloads off, no forwarding
// in the middle — so nothing crosses unless tcpmitm re-sends it (DESIGN "How
// the packets get to us"). Creation is all-or-nothing and registered first.

import { randomBytes } from 'node:crypto';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { ExitCode, TcpmitmError, UsageError } from '../cli/errors.js';
import { claimLab, readRecord, releaseLab } from './registry.js';
import { TraceInstance, removeTraceInstance } from '../io/kernel-probe-trace.js';
import { killNetnsProcesses, listNetns, netnsPids, run, runOk, spawnInNetns } from './netns.js';

export type LabSide = 'client' | 'middle' | 'server';
export const LAB_SIDES: readonly LabSide[] = ['client', 'middle', 'server'];

/** The benchmarking ranges (RFC 2544 / RFC 5180): never a real network. */
export const LAB_ADDRESSES = {
  client4: '198.18.0.1',
  server4: '198.18.0.2',
  client6: '2001:2::1',
  server6: '2001:2::2',
} as const;

/** Interface names inside the namespaces. */
export const LAB_IFACES = { client: 'c0', middleClient: 'm0', middleServer: 'm1', server: 's0' } as const;

export interface Lab {
  readonly id: string;
  readonly ipv6: boolean;
  /** Namespace names: <id>-c, <id>-m, <id>-s. */
  readonly namespaces: Readonly<Record<LabSide, string>>;
  /** How long createLab took, ms (measured; the target is < 300 ms). */
  readonly createMs: number;
  /**
   * Pid of the lab's long-lived holder process in that namespace: the kernel
   * probe reads /proc/<pid>/net/tcp{,6} through it. Holders live until
   * destroy() (or until this process dies: they exit when their stdin closes).
   */
  nsPid(which: LabSide): number;
  /** Spawns a command in one of the lab's namespaces (`ip netns exec`). */
  spawn(which: LabSide, argv: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Removes everything the lab made; idempotent, never throws for what is already gone. */
  destroy(): Promise<void>;
}

const ID_RE = /^[a-z0-9][a-z0-9_]{0,11}$/;

export function namespacesOf(id: string): Record<LabSide, string> {
  return { client: `${id}-c`, middle: `${id}-m`, server: `${id}-s` };
}

export function randomLabId(): string {
  return 'l' + randomBytes(4).toString('hex').slice(0, 5);
}

/** Maps the words `lab exec` accepts to a side. */
export function parseSide(where: string): LabSide | undefined {
  const w = where.toLowerCase();
  if (w === 'client' || w === 'c') return 'client';
  if (w === 'server' || w === 's') return 'server';
  if (w === 'middle' || w === 'm' || w === 'mitm') return 'middle';
  return undefined;
}

/**
 * The holder's script: sysctls that must be set from inside the namespace
 * (net sysctls follow the *opener's* netns), then "ready", then it waits on
 * stdin so it exits by itself when the owner dies and the pipe closes.
 */
function holderScript(side: LabSide, ipv6: boolean): string {
  const lines = ['set -e'];
  if (side === 'middle') {
    // A new netns starts with forwarding off; set it anyway so the guarantee
    // does not rest on net.core.devconf_inherit_init_net.
    lines.push('echo 0 > /proc/sys/net/ipv4/ip_forward');
    lines.push('if [ -e /proc/sys/net/ipv6/conf/all/forwarding ]; then echo 0 > /proc/sys/net/ipv6/conf/all/forwarding; fi');
    if (!ipv6) {
      // No IPv6 on the bridge ports: no link-local address, no MLD/RS/DAD of their own.
      lines.push(`echo 1 > /proc/sys/net/ipv6/conf/${LAB_IFACES.middleClient}/disable_ipv6`);
      lines.push(`echo 1 > /proc/sys/net/ipv6/conf/${LAB_IFACES.middleServer}/disable_ipv6`);
    }
  }
  lines.push('echo ready', 'exec cat >/dev/null');
  return lines.join('\n');
}

function startHolder(ns: string, side: LabSide, ipv6: boolean): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawnInNetns(ns, ['sh', '-c', holderScript(side, ipv6)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new TcpmitmError('E_LAB_SETUP', `the holder process in ${ns} did not start within 5 s`));
    }, 5000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        // The lab must never keep Node alive by itself.
        child.unref();
        (child.stdin as unknown as { unref?: () => void }).unref?.();
        (child.stdout as unknown as { unref?: () => void }).unref?.();
        (child.stderr as unknown as { unref?: () => void }).unref?.();
        resolve(child);
      }
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new TcpmitmError('E_LAB_SETUP', `setting up namespace ${ns} failed (exit ${code}): ${err.trim()}`));
    });
  });
}

/** ethtool -K on a veth; "not supported" for one feature is tolerated, anything else is an error. */
async function offloadsOff(dev: string): Promise<void> {
  const r = await run('ethtool', ['-K', dev, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  if (r.code !== 0 && !/not supported/i.test(r.stderr)) {
    throw new TcpmitmError('E_LAB_SETUP', `\`ethtool -K ${dev} …\` failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
}

/**
 * Removes a lab's namespaces, the processes in them and its registry record.
 * Works from the id alone, so `lab down` can clean up after a dead owner.
 */
export async function removeLab(id: string, tempLinks: readonly string[] = []): Promise<void> {
  const present = new Set(listNetns());
  const nss = Object.values(namespacesOf(id)).filter((ns) => present.has(ns));
  // Kill first: a namespace with live processes lingers after `ip netns del`
  // (only the name goes), and with it the veths and their addresses.
  await Promise.all(nss.map((ns) => killNetnsProcesses(ns)));
  // SIGKILL is not instant: a dying session still holds its trace instance's
  // trace_pipe open (rmdir: EBUSY). Wait, bounded, until they are gone.
  await waitUntilEmpty(nss);
  // Deleting a namespace destroys the veths in it, and with them their peers.
  const batch = [...nss.map((ns) => `netns del ${ns}`), ...tempLinks.map((l) => `link del ${l}`)];
  if (batch.length > 0) await run('ip', ['-force', '-batch', '-'], batch.join('\n') + '\n');
  // A crashed owner's kernel-probe trace instance (no-op when absent).
  await removeTraceInstanceSoon(TraceInstance.instanceDir(id));
  releaseLab(id);
}

/** Resolves once no process lives in any of `nss`, or after 3 s. */
async function waitUntilEmpty(nss: readonly string[]): Promise<void> {
  const deadline = performance.now() + 3000;
  while (performance.now() < deadline) {
    const left = await Promise.all(nss.map((ns) => netnsPids(ns)));
    if (left.every((pids) => pids.filter((p) => p !== process.pid).length === 0)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Removes a trace instance, retrying (bounded) while a closing reader still holds it busy. */
async function removeTraceInstanceSoon(dir: string): Promise<void> {
  for (let i = 0; i < 50 && removeTraceInstance(dir) === 'busy'; i++) await new Promise((r) => setTimeout(r, 20));
}

/** Creates a lab; on any failure removes whatever was made and rethrows. */
export async function createLab(opts: { id?: string; ipv6: boolean }): Promise<Lab> {
  const t0 = performance.now();
  const id = opts.id ?? randomLabId();
  if (!ID_RE.test(id)) {
    throw new UsageError(`'${id}' is not a lab id`, 'use 1–12 characters of a-z, 0-9 and _, starting with a letter or digit');
  }
  const ns = namespacesOf(id);
  const nsList = [ns.client, ns.middle, ns.server];
  claimLab(id, opts.ipv6, nsList);
  const taken = nsList.filter((n) => listNetns().includes(n));
  if (taken.length > 0) {
    releaseLab(id);
    throw new TcpmitmError(
      'E_LAB_EXISTS',
      `lab '${id}' is already in use: namespace ${taken.join(', ')} exists but no lab record owns it`,
      ExitCode.Usage,
      `pick another --id, or remove them with \`sudo ip netns del ${taken.join(' && sudo ip netns del ')}\` if they are yours`,
    );
  }

  // Temporary names in the root namespace must be unique machine-wide and ≤ 15 chars.
  const tag = randomBytes(3).toString('hex');
  const tmp = { c0: `tm${tag}c0`, m0: `tm${tag}m0`, m1: `tm${tag}m1`, s0: `tm${tag}s0` };
  const holders: ChildProcess[] = [];
  const destroy = async (): Promise<void> => {
    for (const h of holders) h.kill('SIGKILL');
    holders.length = 0;
    await removeLab(id, Object.values(tmp));
  };

  try {
    await runOk(
      'ip',
      ['-batch', '-'],
      [
        ...nsList.map((n) => `netns add ${n}`),
        `link add ${tmp.c0} type veth peer name ${tmp.m0}`,
        `link add ${tmp.s0} type veth peer name ${tmp.m1}`,
      ].join('\n') + '\n',
    );
    // Offloads off before the move: ethtool has no netns option, and the
    // features travel with the device. Off so that captured frames are the
    // real wire frames: full checksums, no TSO/GSO super-frames, no GRO merging.
    await Promise.all(Object.values(tmp).map(offloadsOff));
    // Move and rename in one request (the rename happens in the target namespace).
    await runOk(
      'ip',
      ['-batch', '-'],
      [
        `link set dev ${tmp.c0} netns ${ns.client} name ${LAB_IFACES.client}`,
        `link set dev ${tmp.m0} netns ${ns.middle} name ${LAB_IFACES.middleClient}`,
        `link set dev ${tmp.m1} netns ${ns.middle} name ${LAB_IFACES.middleServer}`,
        `link set dev ${tmp.s0} netns ${ns.server} name ${LAB_IFACES.server}`,
      ].join('\n') + '\n',
    );
    // Holders set the in-namespace sysctls (IPv6 off on m0/m1) before any link goes up.
    holders.push(...(await Promise.all(LAB_SIDES.map((s) => startHolder(ns[s], s, opts.ipv6)))));
    const end = (dev: string, v4: string, v6: string): string[] => [
      'link set lo up',
      `addr add ${v4}/24 dev ${dev}`,
      ...(opts.ipv6 ? [`addr add ${v6}/64 dev ${dev} nodad`] : []),
      `link set ${dev} up`,
    ];
    await Promise.all([
      runOk('ip', ['-n', ns.client, '-batch', '-'], end(LAB_IFACES.client, LAB_ADDRESSES.client4, LAB_ADDRESSES.client6).join('\n') + '\n'),
      runOk('ip', ['-n', ns.server, '-batch', '-'], end(LAB_IFACES.server, LAB_ADDRESSES.server4, LAB_ADDRESSES.server6).join('\n') + '\n'),
      runOk(
        'ip',
        ['-n', ns.middle, '-batch', '-'],
        // Promiscuous: m0/m1 must accept frames addressed to the other end's MAC
        // (libpcap sets it while capturing; set here so the lab works without it).
        [
          'link set lo up',
          `link set ${LAB_IFACES.middleClient} promisc on up`,
          `link set ${LAB_IFACES.middleServer} promisc on up`,
        ].join('\n') + '\n',
      ),
    ]);
  } catch (err) {
    await destroy();
    throw err;
  }

  const pids: Record<LabSide, number> = {
    client: holders[0]!.pid!,
    middle: holders[1]!.pid!,
    server: holders[2]!.pid!,
  };
  let destroyed: Promise<void> | undefined;
  return {
    id,
    ipv6: opts.ipv6,
    namespaces: ns,
    createMs: performance.now() - t0,
    nsPid: (which) => pids[which],
    spawn: (which, argv, options) => spawnInNetns(ns[which], argv, options),
    destroy: () => (destroyed ??= destroy()),
  };
}

/** Whether a lab's record or any of its namespaces exist. */
export function labExists(id: string): boolean {
  const present = new Set(listNetns());
  return readRecord(id) !== undefined || Object.values(namespacesOf(id)).some((n) => present.has(n));
}

/**
 * Sets a namespace's keepalive defaults (net.ipv4.tcp_keepalive_{time,intvl,probes}
 * are per network namespace). They apply to sockets that enable SO_KEEPALIVE
 * without setting their own TCP_KEEPIDLE/KEEPINTVL/KEEPCNT — see peers/keepalive.ts
 * for what Node sets by itself.
 */
export async function setKeepaliveSysctls(
  lab: Pick<Lab, 'namespaces'>,
  which: LabSide,
  ka: { idleS: number; intvlS: number; probes: number },
): Promise<void> {
  await runOk('ip', [
    'netns',
    'exec',
    lab.namespaces[which],
    'sysctl',
    '-q',
    '-w',
    `net.ipv4.tcp_keepalive_time=${ka.idleS}`,
    `net.ipv4.tcp_keepalive_intvl=${ka.intvlS}`,
    `net.ipv4.tcp_keepalive_probes=${ka.probes}`,
  ]);
}
