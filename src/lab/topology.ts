// Builds and tears down a lab: three namespaces <id>-c, <id>-m, <id>-s joined by
// veth c0↔m0 and s0↔m1, addresses only on the ends, offloads off, no forwarding
// in the middle — so nothing crosses unless tcpmitm re-sends it (DESIGN "How
// the packets get to us"). Creation is all-or-nothing and registered first;
// everything it makes lives in the lab's namespaces, named after its id.

import { randomBytes } from 'node:crypto';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { claimLab, recordFileExists, releaseLab, type LabRecord } from './registry.js';
import { checkLabId } from './lab-id.js';
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
  /** The registry record this process claimed (its owner: pid and start time). */
  readonly record: LabRecord;
  /**
   * Pid of the lab's long-lived holder process in that namespace: the kernel
   * probe reads /proc/<pid>/net/tcp{,6} through it. Holders live until
   * destroy() (or until this process dies: they exit when their stdin closes).
   */
  nsPid(which: LabSide): number;
  /** Spawns a command in one of the lab's namespaces (`ip netns exec`). */
  spawn(which: LabSide, argv: readonly string[], options?: SpawnOptions): ChildProcess;
  /**
   * Removes everything the lab made; idempotent, never throws for what is
   * already gone. Resolves with what could not be removed (see removeLab).
   */
  destroy(): Promise<string[]>;
}

export function namespacesOf(id: string): Record<LabSide, string> {
  checkLabId(id);
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

/** ethtool -K on a veth in namespace `ns`; "not supported" for one feature is tolerated, anything else is an error. */
async function offloadsOff(ns: string, dev: string): Promise<void> {
  const r = await run('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'rx', 'off', 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
  if (r.code !== 0 && !/not supported/i.test(r.stderr)) {
    throw new TcpmitmError('E_LAB_SETUP', `\`ethtool -K ${dev} …\` in ${ns} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }
}

/**
 * Removes a lab's processes, its namespaces (and with them its veths), its
 * kernel-probe trace instance and, last, its registry record. Works from the
 * id alone, so `lab down` can clean up after a dead owner. Returns what could
 * not be removed; the record is then kept, so that the lab can still be found
 * (`lab list`) and removed again — it is released only once all is gone.
 */
export async function removeLab(id: string): Promise<string[]> {
  const present = new Set(listNetns());
  const nss = Object.values(namespacesOf(id)).filter((ns) => present.has(ns));
  // Kill first: a namespace with live processes lingers after `ip netns del`
  // (only the name goes), and with it the veths and their addresses.
  for (const ns of nss) killNetnsProcesses(ns);
  // SIGKILL is not instant: a dying session still holds its trace instance's
  // trace_pipe open (rmdir: EBUSY). Wait, bounded, until they are gone.
  const alive = await waitUntilEmpty(nss);
  const left: string[] = [];
  // A namespace whose processes outlived SIGKILL keeps its name: deleting it
  // would leave the namespace alive, its veths with it, and nothing to find it by.
  for (const [ns, pids] of alive) left.push(`${ns}: pid ${pids.join(', ')} still alive after SIGKILL`);
  const doomed = nss.filter((ns) => !alive.has(ns));
  // Deleting a namespace destroys the veths in it, and with them their peers.
  if (doomed.length > 0) await run('ip', ['-force', '-batch', '-'], doomed.map((ns) => `netns del ${ns}`).join('\n') + '\n');
  const stillNamed = new Set(listNetns());
  for (const ns of doomed) if (stillNamed.has(ns)) left.push(`namespace ${ns}: \`ip netns del\` failed`);
  // A crashed owner's kernel-probe trace instance (no-op when absent).
  const trace = TraceInstance.instanceDir(id);
  if ((await removeTraceInstanceSoon(trace)) === 'busy') left.push(`${trace}: still open (busy)`);
  if (left.length === 0) releaseLab(id);
  return left;
}

/** Waits (3 s at most) until no process but this one lives in any of `nss`; returns those still alive, by namespace. */
async function waitUntilEmpty(nss: readonly string[]): Promise<Map<string, number[]>> {
  const deadline = performance.now() + 3000;
  for (;;) {
    const alive = new Map<string, number[]>();
    for (const ns of nss) {
      const pids = netnsPids(ns).filter((p) => p !== process.pid);
      if (pids.length > 0) alive.set(ns, pids);
    }
    if (alive.size === 0 || performance.now() >= deadline) return alive;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Removes a trace instance, retrying (1 s at most) while a closing reader still holds it busy. */
async function removeTraceInstanceSoon(dir: string): Promise<'removed' | 'absent' | 'busy'> {
  let r = removeTraceInstance(dir);
  for (let i = 0; i < 50 && r === 'busy'; i++) {
    await new Promise((res) => setTimeout(res, 20));
    r = removeTraceInstance(dir);
  }
  return r;
}

/** Creates a lab; on any failure removes whatever was made and rethrows. */
export async function createLab(opts: { id?: string; ipv6: boolean }): Promise<Lab> {
  const t0 = performance.now();
  const id = checkLabId(opts.id ?? randomLabId());
  const ns = namespacesOf(id);
  const nsList = [ns.client, ns.middle, ns.server];
  const record = claimLab(id, opts.ipv6, nsList);
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

  const holders: ChildProcess[] = [];
  const destroy = async (): Promise<string[]> => {
    for (const h of holders) h.kill('SIGKILL');
    holders.length = 0;
    return removeLab(id);
  };

  try {
    // Each veth is created with its ends already in their namespaces (the
    // `netns` of RTM_NEWLINK): nothing of the lab ever exists in the root
    // namespace, so an owner killed at any point leaves nothing that its
    // namespaces' removal does not take with them.
    await runOk(
      'ip',
      ['-batch', '-'],
      [
        ...nsList.map((n) => `netns add ${n}`),
        `link add ${LAB_IFACES.client} netns ${ns.client} type veth peer name ${LAB_IFACES.middleClient} netns ${ns.middle}`,
        `link add ${LAB_IFACES.server} netns ${ns.server} type veth peer name ${LAB_IFACES.middleServer} netns ${ns.middle}`,
      ].join('\n') + '\n',
    );
    // Offloads off so that captured frames are the real wire frames: full
    // checksums, no TSO/GSO super-frames, no GRO merging.
    await Promise.all([
      offloadsOff(ns.client, LAB_IFACES.client),
      offloadsOff(ns.middle, LAB_IFACES.middleClient),
      offloadsOff(ns.middle, LAB_IFACES.middleServer),
      offloadsOff(ns.server, LAB_IFACES.server),
    ]);
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
    const left = await destroy();
    if (left.length === 0) throw err;
    throw new TcpmitmError('E_LAB_SETUP', `${(err as Error).message}; removing the half-made lab left ${left.join('; ')}`, ExitCode.Runtime, `retry with \`sudo tcpmitm lab down ${id}\``);
  }

  const pids: Record<LabSide, number> = {
    client: holders[0]!.pid!,
    middle: holders[1]!.pid!,
    server: holders[2]!.pid!,
  };
  let destroyed: Promise<string[]> | undefined;
  return {
    id,
    ipv6: opts.ipv6,
    namespaces: ns,
    createMs: performance.now() - t0,
    record,
    nsPid: (which) => pids[which],
    spawn: (which, argv, options) => spawnInNetns(ns[which], argv, options),
    destroy: () => (destroyed ??= destroy()),
  };
}

/** Whether a lab's record (valid or not) or any of its namespaces exist. */
export function labExists(id: string): boolean {
  const present = new Set(listNetns());
  return recordFileExists(id) || Object.values(namespacesOf(id)).some((n) => present.has(n));
}
