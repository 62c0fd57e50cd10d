// Attach mode's checks before it touches anything: both interfaces exist and
// are up, none carries a default route of this host's routing (in any table an
// `ip rule` looks up; unless --force), and the offloads that break
// re-injection are off — or, with --fix-offloads, turned off.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { defaultRouteUses, fixCommand, linkUp, offloadProblems, parseEthtoolFeatures, type OffloadProblem } from './checks.js';

export interface AttachChecks {
  readonly devs: readonly [string, string];
  readonly fixOffloads: boolean;
  readonly force: boolean;
}

/** What preflight did or noticed, for the run's log. */
export interface PreflightReport {
  /** "turned off tx-checksumming, tcp-segmentation-offload on m0 (ethtool -K m0 tx off tso off)". */
  readonly fixed: string[];
  readonly warnings: string[];
}

function sh(cmd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) {
    throw new TcpmitmError('E_MISSING_DEP', `cannot run ${cmd}: ${r.error.message}`, ExitCode.Usage, `install it: sudo apt-get install -y ${cmd === 'ip' ? 'iproute2' : cmd}`);
  }
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export function attachPreflight(c: AttachChecks): PreflightReport {
  const [a, b] = c.devs;
  if (a === b) throw new TcpmitmError('E_USAGE', `--a and --b are both '${a}'; expected two different interfaces`, ExitCode.Usage);
  const warnings: string[] = [];
  for (const dev of c.devs) {
    if (!existsSync(`/sys/class/net/${dev}`)) {
      throw new TcpmitmError('E_NO_IFACE', `no interface '${dev}' in this network namespace`, ExitCode.Usage, 'ip -br link lists the interfaces here');
    }
    const l = linkUp(sh('ip', ['-j', 'link', 'show', 'dev', dev]).stdout);
    if (!l?.up) {
      throw new TcpmitmError('E_IFACE_DOWN', `interface '${dev}' is down`, ExitCode.Usage, `bring it up first: ip link set ${dev} up`);
    }
    if (!l.lowerUp) warnings.push(`${dev} has no carrier (operstate ${l.operstate}): nothing will arrive on it until its link is up`);
  }

  // Bridging the interface this session comes in by would cut it (and the
  // route): in any routing table a policy rule looks up, not only main.
  if (!c.force) {
    const uses = ([4, 6] as const).flatMap((family) => {
      const f = family === 4 ? '-4' : '-6';
      return defaultRouteUses(c.devs, family, sh('ip', ['-j', f, 'rule', 'show']).stdout, sh('ip', ['-j', f, 'route', 'show', 'table', 'all']).stdout);
    });
    const use = uses[0];
    if (use) {
      const whose = use.table === 'main' ? "this host's default route" : `a default route in routing table ${use.table}`;
      throw new TcpmitmError(
        'E_DEFAULT_ROUTE',
        `interface '${use.dev}' carries ${whose} (IPv${use.family}, used by ip rule ${use.rule}): attaching to it would cut this machine's own connections (maybe this very session)` +
          (uses.length > 1 ? `; also ${uses.slice(1).map((u) => `'${u.dev}' in table ${u.table} (IPv${u.family})`).join(', ')}` : ''),
        ExitCode.Usage,
        `ip ${use.family === 4 ? '-4' : '-6'} route show table ${use.table} default  shows it; use other interfaces, or pass --force if you really mean it`,
      );
    }
  }

  const problems: OffloadProblem[] = [];
  for (const dev of c.devs) {
    const r = sh('ethtool', ['-k', dev]);
    if (r.code !== 0) throw new TcpmitmError('E_ETHTOOL', `\`ethtool -k ${dev}\` failed: ${r.stderr.trim()}`, ExitCode.Usage);
    problems.push(...offloadProblems(dev, parseEthtoolFeatures(r.stdout)));
  }
  const fixed: string[] = [];
  if (problems.length === 0) return { fixed, warnings };
  const devsWith = [...new Set(problems.map((p) => p.dev))];
  const list = (dev: string) => problems.filter((p) => p.dev === dev).map((p) => p.feature).join(', ');
  const stuck = problems.filter((p) => p.fixed);
  if (!c.fixOffloads || stuck.length > 0) {
    const lines = devsWith.map((d) => `${d}: ${list(d)}`);
    const cmds = devsWith.map((d) => fixCommand(d, problems).join(' '));
    if (stuck.length > 0) {
      throw new TcpmitmError(
        'E_OFFLOADS',
        `offloads that break re-injection are on and fixed by the driver (cannot be turned off): ${stuck.map((p) => `${p.dev} ${p.feature}`).join(', ')}`,
        ExitCode.Usage,
        'use another interface (or driver); tcpmitm needs wire-size frames with real checksums',
      );
    }
    throw new TcpmitmError(
      'E_OFFLOADS',
      `offloads are on that break re-injection (oversized frames, bad checksums): ${lines.join('; ')}`,
      ExitCode.Usage,
      `turn them off with: ${cmds.join(' && ')}  — or pass --fix-offloads (for veths, do the same on the peer ends)`,
    );
  }
  for (const dev of devsWith) {
    const cmd = fixCommand(dev, problems);
    try {
      execFileSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new TcpmitmError('E_OFFLOADS', `\`${cmd.join(' ')}\` failed: ${e.stderr?.toString().trim() || e.message}`, ExitCode.Runtime);
    }
    // ethtool exits 0 even when a feature would not change: check again.
    const left = offloadProblems(dev, parseEthtoolFeatures(sh('ethtool', ['-k', dev]).stdout));
    if (left.length > 0) {
      throw new TcpmitmError('E_OFFLOADS', `after \`${cmd.join(' ')}\`, still on: ${left.map((p) => `${dev} ${p.feature}`).join(', ')}`, ExitCode.Runtime);
    }
    fixed.push(`turned off ${list(dev)} on ${dev} (${cmd.join(' ')})`);
  }
  return { fixed, warnings };
}
