// Sets a run's sysctls in the end namespaces before any program starts, and
// reads them back: the header prints what the kernel holds, not what was
// asked (a value the kernel rounds or clamps shows as it is). `ip netns exec`
// runs sysctl inside the namespace, where /proc/sys/net is that namespace's.

import { run } from './netns.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import type { EndSysctls, SysctlEnd } from '../rules/sysctls.js';

/** Sets each end's sysctls; E_SYSCTL (exit 2) names the one the kernel refused and why. */
export async function applySysctls(namespaces: Readonly<Record<SysctlEnd, string>>, wanted: EndSysctls): Promise<EndSysctls> {
  const read = { client: new Map<string, string>(), server: new Map<string, string>() };
  for (const end of ['client', 'server'] as const) {
    for (const [name, value] of wanted[end]) {
      const ns = namespaces[end];
      const set = await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${name}=${value}`]);
      if (set.code !== 0) throw refused(end, name, value, set.stderr);
      const got = await run('ip', ['netns', 'exec', ns, 'sysctl', '-n', name]);
      if (got.code !== 0) throw refused(end, name, value, got.stderr);
      // Multi-value sysctls read back with tabs ("4096\t87380\t6291456").
      read[end].set(name, got.stdout.trim().replace(/\s+/g, ' '));
    }
  }
  return read;
}

function refused(end: SysctlEnd, name: string, value: string, stderr: string): TcpmitmError {
  const why = stderr.trim().replace(/^sysctl:\s*/, '');
  const missing = /cannot stat|No such file/i.test(why);
  return new TcpmitmError(
    'E_SYSCTL',
    missing
      ? `sysctl ${name}: the ${end}'s network namespace has no such sysctl (this kernel, or not per namespace: only the host has it)`
      : `sysctl ${name}=${value} in the ${end}'s namespace: the kernel refused it: ${why}`,
    ExitCode.Usage,
    missing ? 'list what a namespace has with `sudo ip netns exec <ns> sysctl -a --pattern ^net` (`tcpmitm lab up` keeps one)' : undefined,
  );
}
