// A run's namespace sysctls: the layers that ask for them (the profile's
// lab.sysctls, an exercise's, the command line's --sysctl, later over earlier)
// resolved into what each end namespace gets, and the line the run's header
// prints. Applying them is the lab's (src/lab/sysctls.ts).

import type { Sysctls } from './schema.js';

export type SysctlEnd = 'client' | 'server';

/** Name → value per end namespace, in the order they were first asked for. */
export type EndSysctls = Readonly<Record<SysctlEnd, ReadonlyMap<string, string>>>;

/** Only net.* is per network namespace (net/sysctl_net.c): anything else would change the host. */
export const SYSCTL_NAME = /^net\.[a-z0-9_]+(\.[a-z0-9_-]+)+$/;

/** Later layers win; within a layer, `client` / `server` win over `both`. */
export function resolveSysctls(layers: readonly (Sysctls | undefined)[]): EndSysctls {
  const out = { client: new Map<string, string>(), server: new Map<string, string>() };
  for (const layer of layers) {
    if (!layer) continue;
    for (const end of ['client', 'server'] as const) {
      for (const [k, v] of Object.entries({ ...layer.both, ...layer[end] })) out[end].set(k, String(v));
    }
  }
  return out;
}

export function noSysctls(s: EndSysctls): boolean {
  return s.client.size === 0 && s.server.size === 0;
}

/**
 * `--sysctl [client:|server:]name=value` as a layer of its own; a value
 * `sysctl -w` would take (a whole number, or text such as "4096 87380 6291456").
 * Returns an error message instead when the flag is not one.
 */
export function parseSysctlFlag(flag: string, into: Sysctls = {}): Sysctls | string {
  const m = /^(?:(client|server|both):)?([^=\s]+)=(.*)$/.exec(flag);
  if (!m) return `'${flag}' is not a sysctl setting; expected [client:|server:]name=value, e.g. server:net.ipv4.tcp_rfc1337=1`;
  const [, end = 'both', name = '', value = ''] = m;
  if (!SYSCTL_NAME.test(name)) return `'${name}' is not a network namespace's sysctl; expected a name under net. (e.g. net.ipv4.tcp_fin_timeout): only those are per namespace`;
  if (value.length === 0 || /[\n\r]/.test(value)) return `'${flag}' has no value; expected name=value`;
  const side = end as keyof Sysctls;
  return { ...into, [side]: { ...into[side], [name]: value } };
}

/**
 * One line for the run's header: "sysctls: net.ipv4.tcp_rfc1337=1 (both);
 * net.ipv4.tcp_fin_timeout=5 (client)". The values are the ones read back
 * from the kernel after setting them.
 */
export function formatSysctls(s: EndSysctls): string {
  const parts: string[] = [];
  const names = [...new Set([...s.client.keys(), ...s.server.keys()])];
  for (const name of names) {
    const c = s.client.get(name);
    const v = s.server.get(name);
    if (c !== undefined && c === v) parts.push(`${name}=${c} (both)`);
    else {
      if (c !== undefined) parts.push(`${name}=${c} (client)`);
      if (v !== undefined) parts.push(`${name}=${v} (server)`);
    }
  }
  return parts.join('; ');
}

/** The plain-object form the start event and the session's config carry. */
export function sysctlsRecord(s: EndSysctls): { client: Record<string, string>; server: Record<string, string> } {
  return { client: Object.fromEntries(s.client), server: Object.fromEntries(s.server) };
}

export function sysctlsFromRecord(r: { client: Record<string, string>; server: Record<string, string> }): EndSysctls {
  return { client: new Map(Object.entries(r.client)), server: new Map(Object.entries(r.server)) };
}

/** Two layers as one (`over` wins), for settings that carry a single `sysctls`. */
export function layerSysctls(under: Sysctls | undefined, over: Sysctls | undefined): Sysctls | undefined {
  if (!under) return over;
  if (!over) return under;
  const r = resolveSysctls([under, over]);
  return { client: Object.fromEntries(r.client), server: Object.fromEntries(r.server) };
}

/**
 * What the inference must assume of each end's kernel, from the sysctls the
 * lab set there: tcp_rfc1337 (does a RST end TIME-WAIT?) and tcp_fin_timeout
 * (an orphan's FIN-WAIT-2). An end whose sysctl was not set keeps `dflt`
 * (Linux's defaults, or --fin-timeout): what the namespace holds then.
 */
export function inferenceSettings(
  s: EndSysctls,
  dflt: { readonly finTimeoutMs: number },
): { rfc1337: Record<SysctlEnd, boolean>; finTimeoutMs: Record<SysctlEnd, number> } {
  const rfc = (end: SysctlEnd) => {
    const v = s[end].get('net.ipv4.tcp_rfc1337');
    return v !== undefined && v.trim() !== '0';
  };
  const fin = (end: SysctlEnd) => {
    const v = Number(s[end].get('net.ipv4.tcp_fin_timeout'));
    return s[end].has('net.ipv4.tcp_fin_timeout') && Number.isFinite(v) ? v * 1000 : dflt.finTimeoutMs;
  };
  return { rfc1337: { client: rfc('client'), server: rfc('server') }, finTimeoutMs: { client: fin('client'), server: fin('server') } };
}
