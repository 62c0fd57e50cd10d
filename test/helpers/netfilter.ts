// What of tcpmitm's is left in a namespace's netfilter rules: both families,
// the nf_tables backend, and the legacy one where its tables exist (asking
// iptables-legacy anything where there are none would make them).

import { execFileSync } from 'node:child_process';

const inNs = (ns: string, ...cmd: string[]): string => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });

/** Every rule or chain line naming tcpmitm in `ns` (an empty list: nothing left). */
export function tcpmitmRulesIn(ns: string): string[] {
  const out = [inNs(ns, 'iptables-save'), inNs(ns, 'ip6tables-save')];
  for (const [names, save] of [['/proc/net/ip_tables_names', 'iptables-legacy-save'], ['/proc/net/ip6_tables_names', 'ip6tables-legacy-save']] as const) {
    if (inNs(ns, 'cat', names).trim() !== '') out.push(inNs(ns, save));
  }
  return out.join('\n').split('\n').filter((l) => l.includes('tcpmitm'));
}
