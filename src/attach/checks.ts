// What attach mode must verify about the two interfaces it bridges, as pure
// functions over the text of `ethtool -k`, `ip -j link`, `ip -j rule` and `ip -j
// route`: which offloads are on, whether a device is up, which devices carry a
// default route that a policy rule uses.

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

interface RuleJson {
  priority?: number;
  table?: string;
  [selector: string]: unknown;
}

interface RouteJson {
  dst?: string;
  type?: string;
  dev?: string;
  table?: string;
  nexthops?: { dev?: string }[];
}

function parseArray<T>(json: string): T[] {
  try {
    const v: unknown = JSON.parse(json || '[]');
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

/** A default route that some `ip rule` leads to, through `dev`. */
export interface DefaultRouteUse {
  readonly dev: string;
  readonly family: 4 | 6;
  readonly table: string;
  /** The first rule (by priority) that looks the table up, as `ip rule` prints it: "32766: from all lookup main". */
  readonly rule: string;
}

/** "1000: from 198.18.60.0/24 fwmark 0x7 iif m0 lookup 100", from one entry of `ip -j rule show`. */
export function formatRule(r: RuleJson): string {
  const words: string[] = [];
  words.push('from', typeof r.src === 'string' ? (r.srclen !== undefined ? `${r.src}/${String(r.srclen)}` : r.src) : 'all');
  if (typeof r.dst === 'string') words.push('to', r.dstlen !== undefined ? `${r.dst}/${String(r.dstlen)}` : r.dst);
  for (const [k, v] of Object.entries(r)) {
    if (['priority', 'src', 'srclen', 'dst', 'dstlen', 'table', 'flags'].includes(k)) continue;
    if (typeof v === 'string' || typeof v === 'number') words.push(k, String(v));
  }
  return `${r.priority ?? 0}: ${words.join(' ')} lookup ${r.table ?? '?'}`;
}

/**
 * Which of `devs` a default route goes through in a table that some policy
 * rule looks up (`ip -j [-6] rule show`, `ip -j [-6] route show table all`).
 * Any rule counts, whatever it selects: some of this host's traffic (maybe
 * this very session's) is routed by it. A route without a "table" field is in
 * main; unreachable/blackhole/prohibit defaults go through no device. When
 * `ip rule` gave nothing (no policy routing), main is what the kernel uses.
 */
export function defaultRouteUses(devs: readonly string[], family: 4 | 6, rulesJson: string, routesJson: string): DefaultRouteUse[] {
  let rules = parseArray<RuleJson>(rulesJson).filter((r) => typeof r.table === 'string');
  if (rules.length === 0) rules = [{ priority: 32766, table: 'main' }];
  rules.sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0));
  const uses: DefaultRouteUse[] = [];
  const seen = new Set<string>();
  for (const route of parseArray<RouteJson>(routesJson)) {
    if (route.dst !== 'default' || (route.type !== undefined && route.type !== 'unicast')) continue;
    const table = route.table ?? 'main';
    const rule = rules.find((r) => r.table === table);
    if (!rule) continue;
    const through = [route.dev, ...(route.nexthops ?? []).map((n) => n.dev)];
    for (const dev of devs) {
      if (!through.includes(dev) || seen.has(`${dev} ${table}`)) continue;
      seen.add(`${dev} ${table}`);
      uses.push({ dev, family, table, rule: formatRule(rule) });
    }
  }
  return uses;
}
