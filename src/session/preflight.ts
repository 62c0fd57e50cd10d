// Checks, before anything is created, that this process can build a lab:
// privileges (root or the needed capabilities) and the system pieces (`ip`,
// `ethtool`, tcpmitm's packet addon or libpcap). Each failure is one message that says how to fix it.
//
// Exit codes (documented choice): both kinds of failure exit 2, "usage or
// configuration error" — nothing ran, and the fix is to change how or where
// tcpmitm is invoked (sudo, apt-get), not to retry. Codes: E_NOT_ROOT, E_MISSING_DEP.

import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { BUILD_ADDON_HINT, loadAfPacket } from '../io/afpacket-addon.js';

/** Linux capability bits (include/uapi/linux/capability.h). */
export const CAP = { NET_ADMIN: 12, NET_RAW: 13, SYS_ADMIN: 21 } as const;

/** The facts preflight looks at; injectable so the decision is unit-testable. */
export interface PreflightProbes {
  /** Effective capability mask (CapEff in /proc/self/status), undefined if unreadable. */
  capEff(): bigint | undefined;
  /** Whether an executable of that name is on PATH (or in /sbin, /usr/sbin). */
  hasCommand(name: string): boolean;
  /** Whether libpcap can be loaded the way `cap` loads it (dlopen("libpcap.so")). */
  libpcapLoadable(): boolean;
  /** Whether tcpmitm's own packet addon (native/afpacket) is built and loads. */
  packetAddonLoadable(): boolean;
}

export interface PreflightNeeds {
  /** Lab mode creates namespaces: CAP_SYS_ADMIN, `ip`, `ethtool`. */
  readonly namespaces: boolean;
  /**
   * Any mode that captures or injects needs CAP_NET_RAW and CAP_NET_ADMIN,
   * and its way to the wire: the packet addon (inline modes) or libpcap (tap).
   */
  readonly capture: false | 'packet-addon' | 'libpcap';
}

const LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];

export const systemProbes: PreflightProbes = {
  capEff() {
    try {
      const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      return m ? BigInt('0x' + m[1]) : undefined;
    } catch {
      return undefined;
    }
  },
  hasCommand(name) {
    const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
    return dirs.some((d) => {
      try {
        accessSync(join(d, name), fsConstants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  },
  libpcapLoadable() {
    // `cap` links libpcap.so.0.8 and also dlopen()s the unversioned
    // "libpcap.so", which only libpcap-dev installs: both must be there.
    const unversioned = LIB_DIRS.some((d) => {
      try {
        accessSync(join(d, 'libpcap.so'), fsConstants.R_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!unversioned) return false;
    try {
      createRequire(import.meta.url)('cap');
      return true;
    } catch {
      return false;
    }
  },
  packetAddonLoadable() {
    try {
      loadAfPacket();
      return true;
    } catch {
      return false;
    }
  },
};

function has(mask: bigint, bit: number): boolean {
  return ((mask >> BigInt(bit)) & 1n) === 1n;
}

/** The problems found, most fundamental first; empty when all is well. */
export function preflightProblems(probes: PreflightProbes, needs: PreflightNeeds): TcpmitmError[] {
  const problems: TcpmitmError[] = [];
  const mask = probes.capEff() ?? 0n;
  const wanted: [string, number][] = [];
  if (needs.capture) wanted.push(['CAP_NET_ADMIN', CAP.NET_ADMIN], ['CAP_NET_RAW', CAP.NET_RAW]);
  if (needs.namespaces) wanted.push(['CAP_NET_ADMIN', CAP.NET_ADMIN], ['CAP_SYS_ADMIN', CAP.SYS_ADMIN]);
  const lacking = [...new Set(wanted.filter(([, bit]) => !has(mask, bit)).map(([n]) => n))];
  if (lacking.length > 0) {
    problems.push(
      new TcpmitmError(
        'E_NOT_ROOT',
        `tcpmitm needs root privileges here (missing ${lacking.join(', ')})` +
          (needs.namespaces ? ': it creates network namespaces and captures on their interfaces' : ': it captures and injects raw frames'),
        ExitCode.Usage,
        needs.namespaces ? 'run it with sudo, e.g. `sudo tcpmitm lab` (or `sudo npm run lab`)' : 'run it with sudo, e.g. `sudo tcpmitm …`',
      ),
    );
  }
  const packages: string[] = [];
  const what: string[] = [];
  if (needs.namespaces && !probes.hasCommand('ip')) {
    packages.push('iproute2');
    what.push('`ip`');
  }
  if (needs.namespaces && !probes.hasCommand('ethtool')) {
    packages.push('ethtool');
    what.push('`ethtool`');
  }
  if (needs.capture === 'libpcap' && !probes.libpcapLoadable()) {
    packages.push('libpcap-dev');
    what.push('libpcap (libpcap.so)');
  }
  if (packages.length > 0) {
    problems.push(
      new TcpmitmError(
        'E_MISSING_DEP',
        `missing ${what.join(', ')}`,
        ExitCode.Usage,
        `install with: sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`,
      ),
    );
  }
  if (needs.capture === 'packet-addon' && !probes.packetAddonLoadable()) {
    problems.push(
      new TcpmitmError(
        'E_MISSING_DEP',
        "tcpmitm's packet addon (native/afpacket) is not built",
        ExitCode.Usage,
        BUILD_ADDON_HINT,
      ),
    );
  }
  return problems;
}

/** Throws the first problem found (privileges before packages: sudo may change PATH). */
export function preflight(
  needs: PreflightNeeds = { namespaces: true, capture: 'packet-addon' },
  probes: PreflightProbes = systemProbes,
): void {
  const [first] = preflightProblems(probes, needs);
  if (first) throw first;
}
