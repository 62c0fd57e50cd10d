// Compiles a profile's rules into a RuleSet the engine asks, once per segment,
// what to do: first matching rule wins. Matching runs on every frame, so masks
// and decisions are precomputed and nothing is allocated when no rule matches.

import { TCP_STATES, type TcpState } from '../tcp/state.js';
import { ROLES, type Role } from '../tcp/role.js';
import { TcpFlag, type TcpFlagName } from '../tcp/segment.js';
import { PASS, type Decider, type Decision, type MatchContext, type Plan } from '../engine/plan.js';
import { durationMs, type Action, type Profile, type Rule } from './schema.js';
import type { TimeTrigger } from '../engine/cues.js';

export type { MatchContext, Decision, Plan } from '../engine/plan.js';

/** A Decision that also carries the profile's own form of the action. */
export interface RuleDecision extends Decision {
  readonly action: Action;
}

const ROLE_BIT = Object.fromEntries(ROLES.map((r, i) => [r, 1 << i])) as Record<Role, number>;
const STATE_BIT = Object.fromEntries(TCP_STATES.map((s, i) => [s, 1 << i])) as Record<TcpState, number>;

/** Mulberry32: a tiny seeded PRNG in [0, 1), so a profile's probabilities replay identically with the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** "FIN,!RST" → masks: every `set` bit must be on and every `clear` bit off. */
export function parseFlags(s: string): { set: number; clear: number } {
  let set = 0;
  let clear = 0;
  for (const raw of s.split(',')) {
    const t = raw.trim();
    const neg = t.startsWith('!');
    const bit = TcpFlag[(neg ? t.slice(1) : t) as TcpFlagName];
    if (bit === undefined) throw new Error(`unknown flag '${t}'`);
    if (neg) clear |= bit;
    else set |= bit;
  }
  return { set, clear };
}

/** The engine's executable form of a profile action. */
export function toPlan(a: Action): Plan {
  if (typeof a === 'string') return { kind: a };
  if ('delay' in a) return { kind: 'delay', ms: a.delay.ms, reorder: a.delay.reorder ?? false };
  if ('rst' in a) return { kind: 'rst', to: a.rst.to, instead: a.rst.instead ?? false, seqOffset: a.rst.seqOffset ?? 0 };
  if ('coalesce' in a) return { kind: 'coalesce', windowMs: a.coalesce.window_ms };
  if ('forge' in a) return { kind: 'forge', to: a.forge.to, flags: a.forge.flags, seqOffset: a.forge.seqOffset ?? 0, instead: a.forge.instead ?? false };
  if ('replay' in a) return { kind: 'replay', afterMs: a.replay.after_ms ?? 0, into: a.replay.into ?? 'same-conn', instead: a.replay.instead ?? false };
  if ('signal' in a) return { kind: 'signal', to: a.signal.to, name: a.signal.name, then: a.signal.then ?? 'pass' };
  return { kind: 'await-peer-fin', timeoutMs: a.await.timeout_ms };
}

export function actionName(a: Action): string {
  return typeof a === 'string' ? a : Object.keys(a)[0]!;
}

/** A label for logs: the rule's id or name, else what it matches ("drop last-ack from client"). */
export function describeRule(r: Rule): string {
  if (r.id) return r.id;
  if (r.name) return r.name;
  const m = r.match ?? {};
  const what = [
    m.role === undefined ? undefined : ([] as string[]).concat(m.role).join('|'),
    m.flags,
    m.from && m.from !== 'any' ? `from ${m.from}` : undefined,
  ].filter((x) => x !== undefined);
  if (r.at !== undefined) return `${actionName(r.action)} ${r.at.after} after ${r.at.since === 'state' ? `${r.at.endpoint} ${r.at.state}` : r.at.since}`;
  return `${actionName(r.action)} ${what.length ? what.join(' ') : 'any segment'}`;
}

interface Compiled {
  readonly from: 'client' | 'server' | undefined;
  readonly roles: number;
  readonly set: number;
  readonly clear: number;
  readonly sender: number;
  readonly receiver: number;
  readonly port: number;
  readonly conn: number;
  /** Payload bytes the sender must have sent (0: no condition). */
  readonly afterBytes: number;
  readonly after: number;
  readonly times: number;
  readonly probability: number;
  readonly counted: boolean;
  /** A time trigger (`at`): never matches a segment. */
  readonly timed: boolean;
  readonly decision: RuleDecision;
}

function mask<T extends string>(bits: Record<T, number>, v: T | readonly T[] | undefined): number {
  if (v === undefined) return 0;
  let m = 0;
  for (const x of typeof v === 'string' ? [v] : v) m |= bits[x];
  return m;
}

function compileRule(r: Rule, index: number): Compiled {
  const m = r.match ?? {};
  const flags = m.flags !== undefined ? parseFlags(m.flags) : { set: 0, clear: 0 };
  const after = r.after ?? 0;
  const times = r.times === undefined || r.times === 'all' ? Infinity : r.times;
  return {
    from: m.from === 'any' ? undefined : m.from,
    roles: mask(ROLE_BIT, m.role),
    set: flags.set,
    clear: flags.clear,
    sender: mask(STATE_BIT, m.senderState),
    receiver: mask(STATE_BIT, m.receiverState),
    port: m.port ?? 0,
    conn: m.conn ?? 0,
    afterBytes: m.afterBytes ?? 0,
    after,
    times,
    probability: r.probability ?? 1,
    counted: after > 0 || times !== Infinity,
    timed: r.at !== undefined,
    decision: Object.freeze({ rule: index + 1, plan: Object.freeze(toPlan(r.action)), label: describeRule(r), action: r.action }),
  };
}

function timeTrigger(r: Rule, at: NonNullable<Rule['at']>, index: number): TimeTrigger {
  return {
    rule: index + 1,
    label: describeRule(r),
    afterMs: durationMs(at.after),
    since: at.since,
    ...(at.endpoint !== undefined ? { endpoint: at.endpoint } : {}),
    ...(at.state !== undefined ? { state: at.state } : {}),
    ...(at.conn !== undefined ? { conn: at.conn } : {}),
    plan: toPlan(r.action),
  };
}

/**
 * A compiled profile. Counters for `times`/`after` are per connection per
 * rule and count every segment that matched the rule's `match` (before
 * `probability` is rolled): a rule acts on matches after+1 … after+times.
 */
export class RuleSet implements Decider {
  private readonly rules: readonly Compiled[];
  private readonly counters = new Map<number, Float64Array>();
  readonly triggers: readonly TimeTrigger[];

  constructor(
    rules: readonly Rule[],
    private readonly rng: () => number,
  ) {
    this.rules = rules.map(compileRule);
    this.triggers = rules.flatMap((r, i) => (r.at === undefined ? [] : [timeTrigger(r, r.at, i)]));
  }

  get size(): number {
    return this.rules.length;
  }

  /** First matching rule's decision, else pass. `rng` overrides the set's own (seeded) generator. */
  decide(ctx: MatchContext, rng: () => number = this.rng): Decision {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.timed) continue;
      if (r.from !== undefined && r.from !== ctx.from) continue;
      if (r.roles !== 0 && (r.roles & ROLE_BIT[ctx.role]) === 0) continue;
      if ((ctx.flags & r.set) !== r.set || (ctx.flags & r.clear) !== 0) continue;
      if (r.sender !== 0 && (r.sender & STATE_BIT[ctx.senderState]) === 0) continue;
      if (r.receiver !== 0 && (r.receiver & STATE_BIT[ctx.receiverState]) === 0) continue;
      if (r.port !== 0 && ctx.srcPort !== r.port && ctx.dstPort !== r.port) continue;
      if (r.conn !== 0 && ctx.conn !== r.conn) continue;
      if (ctx.senderBytes < r.afterBytes) continue;
      if (r.counted) {
        let c = this.counters.get(ctx.conn);
        if (c === undefined) {
          c = new Float64Array(rules.length);
          this.counters.set(ctx.conn, c);
        }
        const n = ++c[i]!;
        if (n <= r.after || n > r.after + r.times) continue;
      }
      if (r.probability < 1 && !(rng() < r.probability)) continue;
      return r.decision;
    }
    return PASS;
  }

  /** How many times rule `rule` (1-based) matched on `conn` so far (only counted for rules with times/after). */
  matches(conn: number, rule: number): number {
    return this.counters.get(conn)?.[rule - 1] ?? 0;
  }

  forget(conn: number): void {
    this.counters.delete(conn);
  }
}

/** Compiles a validated profile. Probabilities draw from `rng`, by default mulberry32(profile.seed ?? 0). */
export function compileProfile(profile: Pick<Profile, 'rules' | 'seed'>, opts: { rng?: () => number } = {}): RuleSet {
  return new RuleSet(profile.rules ?? [], opts.rng ?? mulberry32(profile.seed ?? 0));
}
