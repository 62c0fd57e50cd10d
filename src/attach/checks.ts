// What attach mode must verify about the two interfaces it bridges, as pure
// functions over the text of `ethtool -k`, `ip -j link` and `ip -j route`:
// which offloads are on, whether a device is up, which devices carry a default route.

/**
 * Offloads that break re-injection. With tx checksum offload the kernel hands
 * the capture a frame whose TCP checksum is only partial, so the copy we
 * re-send is dropped by the receiver; with TSO/GSO the capture sees one
 * super-frame bigger than the MTU, and with GRO received segments are merged
 * into one: both are refused by the sending device (EMSGSIZE).
 */
export const OFFLOADS = [
  { feature: 'tx-checksumming', flag: 'tx' },
  { feature: 'tcp-segmentation-offload', flag: 'tso' },
  { feature: 'generic-segmentation-offload', flag: 'gso' },
  { feature: 'generic-receive-offload', flag: 'gro' },
] as const;

export type OffloadFeature = (typeof OFFLOADS)[number]['feature'];

export interface FeatureState {
  readonly on: boolean;
  /** "[fixed]": the driver does not let it be changed. */
  readonly fixed: boolean;
}

/** Parses `ethtool -k DEV` ("tx-checksumming: on", "large-receive-offload: off [fixed]"): top-level and nested features alike. */
export function parseEthtoolFeatures(text: string): Map<string, FeatureState> {
  const out = new Map<string, FeatureState>();
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z0-9-]+):\s+(on|off)(\s+\[(?:fixed|requested \w+)\])?/.exec(line);
    if (!m) continue;
    out.set(m[1]!, { on: m[2] === 'on', fixed: (m[3] ?? '').includes('fixed') });
  }
  return out;
}

export interface OffloadProblem {
  readonly dev: string;
  readonly feature: OffloadFeature;
  /** The ethtool -K word that turns it off. */
  readonly flag: string;
  readonly fixed: boolean;
}

/** The offloads of OFFLOADS that are on for `dev`. A feature ethtool does not list is taken as absent (off). */
export function offloadProblems(dev: string, features: ReadonlyMap<string, FeatureState>): OffloadProblem[] {
  const problems: OffloadProblem[] = [];
  for (const o of OFFLOADS) {
    const s = features.get(o.feature);
    if (s?.on) problems.push({ dev, feature: o.feature, flag: o.flag, fixed: s.fixed });
  }
  return problems;
}

/** `ethtool -K DEV tx off tso off …` for the problems of one device. */
export function fixCommand(dev: string, problems: readonly OffloadProblem[]): string[] {
  return ['ethtool', '-K', dev, ...problems.filter((p) => p.dev === dev).flatMap((p) => [p.flag, 'off'])];
}

/** From `ip -j link show dev DEV`: whether it is administratively up, and whether it has a carrier. */
export function linkUp(json: string): { up: boolean; lowerUp: boolean; operstate: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const l = Array.isArray(parsed) ? (parsed[0] as { flags?: string[]; operstate?: string } | undefined) : undefined;
  if (!l) return undefined;
  const flags = l.flags ?? [];
  return { up: flags.includes('UP'), lowerUp: flags.includes('LOWER_UP'), operstate: l.operstate ?? 'UNKNOWN' };
}

/** Devices named by `ip -j [-6] route show default` (multipath nexthops included). */
export function defaultRouteDevs(json: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json || '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const devs = new Set<string>();
  for (const r of parsed as { dev?: string; nexthops?: { dev?: string }[] }[]) {
    if (r.dev) devs.add(r.dev);
    for (const n of r.nexthops ?? []) if (n.dev) devs.add(n.dev);
  }
  return [...devs];
}
