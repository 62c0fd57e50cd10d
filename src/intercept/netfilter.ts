// Intercept mode's netfilter rules, applied: which iptables this host offers
// (the xtables NFQUEUE target, with the nf_tables or the legacy backend —
// nftables' own `queue` expression is missing from some kernels, the xtables
// target is not), the run's chain put in and taken out, and the chains of
// dead runs found and removed. Only chains whose names are tcpmitm's
// (rules.ts) are ever touched, and only those whose owner is gone.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { systemProbes } from '../session/preflight.js';
import { processStart } from '../lab/registry.js';
import { backendOf, findChains, setupArgs, teardownArgs, type ChainOwner, type ChainSpec, type FoundChain } from './rules.js';

/** One xtables front end: the IPv4 and IPv6 commands of one backend. */
export interface Xtables {
  readonly v4: string;
  readonly v6: string;
  readonly backend: 'nf_tables' | 'legacy';
  /** "iptables v1.8.9 (nf_tables)". */
  readonly version: string;
}

export const INSTALL_IPTABLES = 'install it: sudo apt-get update && sudo apt-get install -y iptables';

function sh(cmd: string, args: readonly string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return { code: 127, stdout: '', stderr: r.error.message };
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr.trim() };
}

function frontEnd(v4: string, v6: string): Xtables | undefined {
  if (!systemProbes.hasCommand(v4) || !systemProbes.hasCommand(v6)) return undefined;
  const version = sh(v4, ['-V']).stdout.trim();
  const backend = backendOf(version);
  if (backend === undefined) return undefined;
  // Usable here: the kernel has the tables this backend speaks (-S needs no change).
  if (sh(v4, ['-w', '-S', 'OUTPUT']).code !== 0) return undefined;
  return { v4, v6, backend, version };
}

/**
 * The front end to use: the system's `iptables`, or iptables-legacy where
 * that one cannot work here (a kernel without nf_tables). Throws
 * E_MISSING_DEP (exit 2) with the apt command when there is none.
 */
export function findXtables(): Xtables {
  if (!systemProbes.hasCommand('iptables')) {
    throw new TcpmitmError('E_MISSING_DEP', 'intercept needs iptables (the xtables NFQUEUE target), which is not installed', ExitCode.Usage, INSTALL_IPTABLES);
  }
  const x = frontEnd('iptables', 'ip6tables') ?? frontEnd('iptables-legacy', 'ip6tables-legacy');
  if (x) return x;
  const why = sh('iptables', ['-w', '-S', 'OUTPUT']).stderr || 'no error text';
  throw new TcpmitmError('E_NETFILTER', `iptables does not work here: ${why}`, ExitCode.Usage, 'the kernel needs the filter table of nf_tables or of iptables-legacy (CONFIG_IP_NF_FILTER)');
}

/**
 * Whether this namespace has a legacy filter table (/proc/net/ip_tables_names,
 * ip6_tables_names). Only then is iptables-legacy asked anything: listing with
 * it would make the legacy tables where there were none.
 */
function legacyFilterExists(): boolean {
  return ['ip_tables_names', 'ip6_tables_names'].some((f) => {
    try {
      return readFileSync(`/proc/net/${f}`, 'utf8').split('\n').includes('filter');
    } catch {
      return false;
    }
  });
}

/** Every front end on this host (both backends where both are in use): where a dead run's chain may be. */
export function allFrontEnds(): Xtables[] {
  const out: Xtables[] = [];
  const pairs: (readonly [string, string])[] = [['iptables-nft', 'ip6tables-nft']];
  if (legacyFilterExists()) pairs.push(['iptables-legacy', 'ip6tables-legacy']);
  for (const [v4, v6] of pairs) {
    const x = frontEnd(v4, v6);
    if (x) out.push(x);
  }
  if (out.length === 0) {
    const x = frontEnd('iptables', 'ip6tables');
    if (x) out.push(x);
  }
  return out;
}

/** Whether the process a chain names still runs (the same process: its start time matches). */
export function ownerAlive(owner: ChainOwner): boolean {
  return processStart(owner.pid) === owner.start;
}

export interface ChainInFamily extends FoundChain {
  readonly cmd: string;
}

/** tcpmitm's chains in this namespace, in every front end and family. */
export function scanChains(fronts: readonly Xtables[] = allFrontEnds()): ChainInFamily[] {
  const out: ChainInFamily[] = [];
  for (const x of fronts) {
    for (const cmd of [x.v4, x.v6]) {
      const r = sh(cmd, ['-w', '-S']);
      if (r.code !== 0) continue;
      for (const c of findChains(r.stdout)) out.push({ ...c, cmd });
    }
  }
  return out;
}

/** Takes a chain away (unhook, flush, delete); true when it is gone afterwards. */
export function removeChain(cmd: string, chain: string): boolean {
  for (const args of teardownArgs(chain)) sh(cmd, args);
  return sh(cmd, ['-w', '-S', chain]).code !== 0;
}

/**
 * Removes the chains of runs whose owner is gone; returns one line per chain
 * removed (or that would not go). Chains of live runs are left alone.
 */
export function removeDeadChains(fronts: readonly Xtables[] = allFrontEnds()): string[] {
  const said: string[] = [];
  for (const c of scanChains(fronts)) {
    if (ownerAlive(c.owner)) continue;
    const gone = removeChain(c.cmd, c.chain);
    said.push(
      gone
        ? `removed chain ${c.chain} (${c.cmd}${c.port !== undefined ? `, port ${c.port}` : ''}) of a dead intercept run (pid ${c.owner.pid})`
        : `could not remove chain ${c.chain} (${c.cmd}) of a dead intercept run (pid ${c.owner.pid}): remove it by hand with ${teardownArgs(c.chain).map((a) => `${c.cmd} ${a.join(' ')}`).join('; ')}`,
    );
  }
  return said;
}

/**
 * Puts the run's chain in, for the families asked (4: iptables, 6:
 * ip6tables). A step that fails takes out what was made and throws
 * E_NETFILTER with the command and the kernel's answer.
 */
export function installChain(x: Xtables, spec: ChainSpec, families: readonly (4 | 6)[]): void {
  const done: string[] = [];
  for (const family of families) {
    const cmd = family === 4 ? x.v4 : x.v6;
    for (const args of setupArgs(spec)) {
      const r = sh(cmd, args);
      if (r.code === 0) continue;
      for (const c of [...done, cmd]) removeChain(c, spec.chain);
      const nfqueue = args.includes('NFQUEUE');
      throw new TcpmitmError(
        'E_NETFILTER',
        `\`${cmd} ${args.join(' ')}\` failed: ${r.stderr || `exit ${r.code}`}`,
        ExitCode.Runtime,
        nfqueue ? 'the kernel needs the xtables NFQUEUE target (CONFIG_NETFILTER_XT_TARGET_NFQUEUE) and nfnetlink_queue' : undefined,
      );
    }
    done.push(cmd);
  }
}
