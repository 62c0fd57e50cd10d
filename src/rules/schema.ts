// What a fault profile *is*: the zod definition every profile is validated
// against, the TypeScript types derived from it, and (through emit-schema.ts)
// the JSON Schema shipped for editors. Error texts are written here, next to
// the field they describe: "<bad value> <problem>; expected <what is allowed>".

import * as z from 'zod';
import { TCP_STATES } from '../tcp/state.js';
import { ROLES } from '../tcp/role.js';
import { TcpFlag } from '../tcp/segment.js';
import { intIn, kindOf, listOf, notA, oneOfMsg, show, strict } from './schema-kit.js';
import { SYSCTL_NAME } from './sysctls.js';
import { didYouMean } from './nearest.js';

export { show } from './schema-kit.js';

/** Longest delay or window a profile may ask for: 10 minutes. Anything longer is a typo. */
export const MAX_DELAY_MS = 600_000;

/** The whole sequence space: an offset is taken mod 2^32, so ±(2^32 − 1) reaches every sequence number from either side. */
export const MAX_SEQ_OFFSET = 0xffff_ffff;

export const ACTION_NAMES = ['pass', 'drop', 'duplicate', 'hold', 'blackhole'] as const;
export const ACTION_KEYS = ['delay', 'rst', 'coalesce', 'await', 'signal', 'replay', 'forge'] as const;
export const FLAG_NAMES = Object.keys(TcpFlag) as (keyof typeof TcpFlag)[];

const delayMs = (what: string) => intIn(0, MAX_DELAY_MS, `${what} in ms from 0 to ${MAX_DELAY_MS}`);

/** Linux signal names without "SIG", as `expect.<end>.signal` takes them (signal(7)). */
export const SIGNAL_NAMES = [
  'HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM',
  'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS',
] as const;

/** "'SIGKILL' …; expected KILL (without SIG)", else the list of names. */
function signalNameMsg(iss: { input?: unknown }): string {
  const v = iss.input;
  if (typeof v === 'string' && /^SIG/i.test(v) && (SIGNAL_NAMES as readonly string[]).includes(v.slice(3).toUpperCase())) {
    return `${show(v)} is written with SIG; expected the name without it: '${v.slice(3).toUpperCase()}'`;
  }
  return oneOfMsg('signal', SIGNAL_NAMES)(iss);
}

export const EndpointSchema = z.enum(['client', 'server'], { error: oneOfMsg('endpoint', ['client', 'server']) });
export const StateSchema = z.enum(TCP_STATES, { error: oneOfMsg('TCP state', TCP_STATES) });
export const RoleSchema = z.enum(ROLES, { error: oneOfMsg('role', ROLES) });

function orList(what: string, values: readonly string[]): (iss: { input?: unknown }) => string {
  const expected = `one of ${values.join(', ')}, or a list of them`;
  return (iss) =>
    typeof iss.input === 'string'
      ? `${show(iss.input)} is not a known ${what}${didYouMean(iss.input, values)}; expected ${expected}`
      : notA(expected)(iss);
}

const flagToken = `!?(?:${FLAG_NAMES.join('|')})`;
/** "FIN,!RST": names from TcpFlag; a leading "!" means the flag must be clear. */
export const FlagsSchema = z
  .string({ error: notA(`flags such as 'FIN,!RST'`) })
  .regex(new RegExp(`^${flagToken}(?:,${flagToken})*$`), {
    error: (iss) => {
      const s = String(iss.input);
      const bad = s.split(',').find((t) => !FLAG_NAMES.includes(t.trim().replace(/^!/, '') as keyof typeof TcpFlag));
      const what = bad !== undefined ? `has unknown flag '${bad}'` : 'is not a flag list';
      return `${show(s)} ${what}; expected names from ${FLAG_NAMES.join(', ')}, each optionally prefixed by '!', separated by commas (e.g. 'FIN,!RST')`;
    },
  })
  .refine((s) => !s.split(',').some((t) => t.startsWith('!') && s.split(',').includes(t.slice(1))), {
    error: (iss) => `${show(iss.input)} asks for a flag both set and clear; expected each flag at most once`,
  })
  .describe("TCP flags that must be set, or clear with a leading '!': 'FIN,!RST', 'ACK,!FIN,!SYN,!RST'");

const stateOrList = z
  .union([StateSchema, listOf(StateSchema, 'a list of TCP states').min(1, { error: 'an empty list; expected at least one TCP state' })], {
    error: orList('TCP state', TCP_STATES),
  })
  .describe('a TCP state as ss prints it, or a list of them (any one matches)');

const durationRe = /^\d+(?:\.\d+)?(?:ms|s)$/;
export const DurationSchema = z
  .string({ error: notA("a duration such as '5s' or '500ms'") })
  .regex(durationRe, { error: (iss) => `${show(iss.input)} is not a duration; expected a duration such as '5s' or '500ms'` });

export const MatchSchema = strict(
  {
    from: z
      .enum(['client', 'server', 'any'], { error: oneOfMsg('sender', ['client', 'server', 'any']) })
      .optional()
      .describe('who sent the segment (default any)'),
    role: z
      .union([RoleSchema, listOf(RoleSchema, 'a list of roles').min(1, { error: 'an empty list; expected at least one role' })], {
        error: orList('role', ROLES),
      })
      .optional()
      .describe("the tracker's role for the segment, or a list of roles (any one matches)"),
    flags: FlagsSchema.optional(),
    senderState: stateOrList.optional().describe("the sender's state once it has sent this segment"),
    receiverState: stateOrList.optional().describe("the receiver's state before this segment is delivered"),
    port: intIn(1, 65535, 'a port from 1 to 65535').optional().describe('source or destination port'),
    conn: intIn(1, Number.MAX_SAFE_INTEGER, 'a connection number from 1 (the first connection)')
      .optional()
      .describe('only the nth connection (1-based)'),
    afterBytes: intIn(0, Number.MAX_SAFE_INTEGER, 'a byte count from 0')
      .optional()
      .describe('only once the sender has sent at least this many payload bytes on the connection (this segment included)'),
  },
  'a match',
);

const ONE_ACTION = `'%KEY%' beside another action; expected exactly one action per rule`;

export const DelayActionSchema = strict(
  {
    delay: strict(
      {
        ms: delayMs('a delay'),
        reorder: z.boolean({ error: notA('true or false') }).optional().describe('let later segments of the same direction overtake (default false)'),
      },
      'a delay',
    ),
  },
  'an action',
  ONE_ACTION,
);

export const RstActionSchema = strict(
  {
    rst: strict(
      {
        to: z.enum(['client', 'server', 'both'], { error: oneOfMsg('RST target', ['client', 'server', 'both']) }),
        instead: z.boolean({ error: notA('true or false') }).optional().describe('drop the triggering segment (default false: it passes, then the RST)'),
        seqOffset: intIn(-MAX_SEQ_OFFSET, MAX_SEQ_OFFSET, `an offset from -${MAX_SEQ_OFFSET} to ${MAX_SEQ_OFFSET} added to the receiver's rcv_nxt, mod 2^32 (0 unless testing RFC 5961)`)
          .optional()
          .describe("added to the exact sequence number, mod 2^32: 0 resets; inside the receiver's window draws a challenge ACK; outside it is dropped (RFC 5961 §3.2)"),
      },
      'a RST',
    ),
  },
  'an action',
  ONE_ACTION,
);

/** Re-send a copy of the segment later (the "old duplicate"): into the same connection after `after_ms`, or into the next one on its 4-tuple. */
export const ReplayActionSchema = strict(
  {
    replay: strict(
      {
        after_ms: delayMs('a wait').optional().describe('how long after the segment (same connection) or after the next connection is established (into: next-conn); default 0'),
        into: z
          .enum(['next-conn'], { error: oneOfMsg('replay target', ['next-conn']) })
          .optional()
          .describe('next-conn: wait for the next connection on the same 4-tuple (default: the same connection)'),
        instead: z.boolean({ error: notA('true or false') }).optional().describe('drop the original (default false: it passes, the copy comes later)'),
      },
      'a replay',
    ),
  },
  'an action',
  ONE_ACTION,
).refine((a) => a.replay.after_ms !== undefined || a.replay.into !== undefined, {
  path: ['replay'],
  error: 'says neither when nor where; expected after_ms (the same connection, that long after) or into: next-conn',
});

/** Flags a forged segment other than a RST may carry (a RST has its own action, `rst`). */
export const FORGE_FLAGS = ['SYN'] as const;

/** Forge a segment other than a RST to one end, as if from its peer: today a SYN (e.g. into a TIME-WAIT). */
export const ForgeActionSchema = strict(
  {
    forge: strict(
      {
        to: EndpointSchema,
        flags: z.enum(FORGE_FLAGS, { error: oneOfMsg('forged segment', FORGE_FLAGS) }).describe('what to forge: SYN (a RST is the rst action)'),
        seqOffset: intIn(-MAX_SEQ_OFFSET, MAX_SEQ_OFFSET, `an offset from -${MAX_SEQ_OFFSET} to ${MAX_SEQ_OFFSET} added to the receiver's rcv_nxt, mod 2^32`)
          .optional()
          .describe("added to the receiver's rcv_nxt, mod 2^32 (default 0): a SYN into TIME-WAIT opens a new connection only beyond it"),
        instead: z.boolean({ error: notA('true or false') }).optional().describe('drop the triggering segment (default false: it passes, then the forged one)'),
      },
      'a forged segment',
    ),
  },
  'an action',
  ONE_ACTION,
);

export const CoalesceActionSchema = strict(
  { coalesce: strict({ window_ms: delayMs('a window') }, 'a coalesce window') },
  'an action',
  ONE_ACTION,
);

export const AwaitActionSchema = strict(
  {
    await: strict(
      {
        until: z.enum(['peer-fin'], { error: oneOfMsg('event to wait for', ['peer-fin']) }),
        timeout_ms: delayMs('a timeout'),
      },
      'an await',
    ),
  },
  'an action',
  ONE_ACTION,
);

/** A signal tcpmitm sends, on cue, to one end's program (cues.ts: the names, and which end a process). */
export const SignalActionSchema = strict(
  {
    signal: strict(
      {
        to: EndpointSchema.describe("whose program: the client's or the server's (the built-in peer, or the --client/--server command and its children)"),
        name: z
          .enum(SIGNAL_NAMES, { error: signalNameMsg })
          .describe('the signal, without SIG: KILL, TERM, INT, HUP, PIPE, USR1, USR2, STOP, CONT…'),
        then: z
          .enum(['pass', 'drop'], { error: oneOfMsg('verdict for the held segment', ['pass', 'drop']) })
          .optional()
          .describe('what becomes of the triggering segment, held until the signal is delivered (and a process it ends is gone): pass (default) or drop'),
      },
      'a signal',
    ),
  },
  'an action',
  ONE_ACTION,
);

const actionExpected = `one of ${ACTION_NAMES.join(', ')}, or a mapping with exactly one of ${ACTION_KEYS.join(', ')} (e.g. {delay: {ms: 200}})`;

function actionError(iss: { input?: unknown }): string {
  const v = iss.input;
  if (v === undefined) return `missing; expected ${actionExpected}`;
  if (typeof v === 'string') return `${show(v)} is not a known action${didYouMean(v, [...ACTION_NAMES, ...ACTION_KEYS])}; expected ${actionExpected}`;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const unknown = keys.find((k) => !(ACTION_KEYS as readonly string[]).includes(k));
    if (unknown !== undefined) return `unknown action '${unknown}'${didYouMean(unknown, ACTION_KEYS)}; expected ${actionExpected}`;
    if (keys.length !== 1) return `${keys.length === 0 ? 'an empty mapping' : `'${keys.join("' and '")}' together`} is not one action; expected ${actionExpected}`;
  }
  return `got ${kindOf(v)}; expected ${actionExpected}`;
}

export const ActionSchema = z
  .union([z.enum(ACTION_NAMES), DelayActionSchema, RstActionSchema, CoalesceActionSchema, AwaitActionSchema, SignalActionSchema, ReplayActionSchema, ForgeActionSchema], {
    error: actionError,
  })
  .describe(`one of ${ACTION_NAMES.join(', ')}, or a mapping with one of ${ACTION_KEYS.join(', ')}`);

/** What a time trigger counts from (docs/profiles.md, "Time triggers"). */
export const AT_SINCE = ['run', 'conn', 'state'] as const;

/**
 * A rule that fires at a time rather than on a segment: `after` this long
 * since the run started, since a connection's first segment, or since an
 * endpoint entered a state (and is still in it). Cross-field rules are on
 * RuleSchema (which actions, which fields go with which `since`).
 */
export const AtSchema = strict(
  {
    after: DurationSchema.refine((d) => !durationRe.test(d) || durationMs(d) <= MAX_DELAY_MS, {
      error: (iss) => `${show(iss.input)} is too long; expected a duration up to ${MAX_DELAY_MS / 1000}s`,
    }).describe("how long after `since`: '300ms', '1.5s' (up to 600s)"),
    since: z.enum(AT_SINCE, { error: oneOfMsg('start of a time trigger', AT_SINCE) }).describe('run: once per run; conn: once per connection, from its first segment; state: once per connection, from when `endpoint` entered `state`'),
    endpoint: EndpointSchema.optional().describe('since: state — whose state'),
    state: StateSchema.optional().describe("since: state — the state (tcpmitm's inference), still held when the time comes"),
    conn: intIn(1, Number.MAX_SAFE_INTEGER, 'a connection number from 1 (the first connection)').optional().describe('since: conn or state — only the nth connection'),
  },
  'a time trigger',
);

/** The cross-field rules of a rule with `at` (a time trigger), one issue each. */
function checkTimedRule(r: { at?: z.infer<typeof AtSchema>; match?: unknown; action: unknown; times?: unknown; after?: unknown; probability?: unknown }, ctx: z.RefinementCtx): void {
  const at = r.at;
  if (at === undefined) return;
  const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
  for (const k of ['match', 'times', 'after', 'probability'] as const) {
    if (r[k] !== undefined) issue([k], `'${k}' beside 'at'; expected a rule that fires on segments (match, times, after, probability) or at a time (at), not both`);
  }
  if (at.since === 'state') {
    if (at.endpoint === undefined) issue(['at', 'endpoint'], "missing; expected the endpoint whose state starts the time (client or server) with since: state");
    if (at.state === undefined) issue(['at', 'state'], 'missing; expected the state that starts the time with since: state');
    if (at.state === 'CLOSED') issue(['at', 'state'], "'CLOSED' ends a connection, and no timer outlives its connection; expected a state an endpoint waits in");
  } else {
    if (at.endpoint !== undefined) issue(['at', 'endpoint'], `given with since: ${at.since}; expected endpoint only with since: state`);
    if (at.state !== undefined) issue(['at', 'state'], `given with since: ${at.since}; expected state only with since: state`);
  }
  if (at.since === 'run' && at.conn !== undefined) issue(['at', 'conn'], 'given with since: run; expected conn only with since: conn or since: state');
  const a = r.action;
  const key = typeof a === 'object' && a !== null ? Object.keys(a)[0] : typeof a === 'string' ? a : undefined;
  if (key !== 'signal' && key !== 'rst') {
    issue(['action'], `${show(key ?? a)} needs a segment; expected signal or rst in a rule with 'at' (a time trigger has no segment to pass, drop or hold)`);
  } else if (key === 'rst') {
    const rst = (a as { rst: { instead?: boolean } }).rst;
    if (rst.instead !== undefined) issue(['action', 'rst', 'instead'], "given in a rule with 'at'; expected no instead: a time trigger has no segment to replace");
    if (at.since === 'run') issue(['action'], "rst with since: run; expected since: conn or since: state: a RST belongs to a connection");
  } else if ((a as { signal: { then?: string } }).signal.then !== undefined) {
    issue(['action', 'signal', 'then'], "given in a rule with 'at'; expected no then: a time trigger holds no segment");
  }
}

export const RuleSchema = strict(
  {
    id: z.string({ error: notA('a short rule id') }).min(1).optional().describe('short id shown in logs'),
    name: z.string({ error: notA('a rule name') }).optional().describe('what the rule does, in words'),
    match: MatchSchema.optional().describe('absent fields match anything'),
    at: AtSchema.optional().describe('instead of match: fire at a time, not on a segment (a time trigger)'),
    action: ActionSchema,
    times: z
      .union([intIn(1, Number.MAX_SAFE_INTEGER, 'a whole number from 1'), z.literal('all')], {
        error: (iss) => `${show(iss.input)} is not a number of times; expected a whole number from 1, or 'all'`,
      })
      .optional()
      .describe("act on the first N matches per connection (after `after`); 'all' or absent: every match"),
    after: intIn(0, Number.MAX_SAFE_INTEGER, 'a whole number from 0').optional().describe('skip the first N matches per connection'),
    probability: z
      .number({ error: notA('a probability from 0 to 1') })
      .min(0, { error: (iss) => `${show(iss.input)} is outside [0, 1]; expected a probability from 0 to 1` })
      .max(1, { error: (iss) => `${show(iss.input)} is outside [0, 1]; expected a probability from 0 to 1` })
      .optional()
      .describe('act on a match with this probability (seeded by the profile seed)'),
  },
  'a rule',
).superRefine(checkTimedRule);

const expectedStates = [...TCP_STATES, ...TCP_STATES.map((s) => `${s}?` as const)] as const;

export const EndpointExpectSchema = strict(
  {
    states: listOf(
      z.enum(expectedStates, {
        error: oneOfMsg('TCP state', [...TCP_STATES, "any of them with a trailing '?' (optional for the kernel probe)"]),
      }),
      'a list of TCP states',
    )
      .optional()
      .describe("states that must appear in this order (a subsequence); 'LAST-ACK?' may be missed by the kernel probe"),
    within: DurationSchema.optional().describe('all of them seen within this time from the start of the run'),
    source: z
      .enum(['kernel', 'inferred', 'both'], { error: oneOfMsg('source', ['kernel', 'inferred', 'both']) })
      .optional()
      .describe('check the inference, the kernel probe, or both (default)'),
    not: listOf(StateSchema, 'a list of TCP states').optional().describe('states that must never appear'),
    app: listOf(z.string({ error: notA("an application event such as 'ECONNRESET'") }).min(1), 'a list of application events')
      .optional()
      .describe('application events of the built-in peer, in this order (a subsequence)'),
    conn: intIn(1, Number.MAX_SAFE_INTEGER, 'a connection number from 1').optional().describe('which connection (default 1, the first)'),
    exit: z
      .union([intIn(0, 255, 'an exit status from 0 to 255'), z.enum(['nonzero', 'any'])], {
        error: (iss) => `${show(iss.input)} is not an exit status; expected a number from 0 to 255, 'nonzero' or 'any'`,
      })
      .optional()
      .describe("how this end's program must exit by itself (default 0); 'any': not checked"),
    signal: z
      .enum(SIGNAL_NAMES, { error: signalNameMsg })
      .optional()
      .describe("the signal that must end this end's program instead of an exit (e.g. KILL): sent by someone else, or by a signal rule of the profile, not tcpmitm's stop at the end of the run"),
  },
  'an expectation',
).refine((x) => !(x.exit !== undefined && x.signal !== undefined), {
  error: 'has both exit and signal; expected at most one: a program either exits or is killed',
});

export const ExpectSchema = strict(
  { client: EndpointExpectSchema.optional(), server: EndpointExpectSchema.optional() },
  'expectations',
);

/**
 * A sysctl of a network namespace: only net.* is per namespace (net/sysctl_net.c);
 * anything else would change the host. The kernel still decides which net.*
 * exist in a namespace that is not the host's (tcp_mem, for one, does not), and
 * the lab reports a name it lacks when it sets them.
 */
const sysctlName = SYSCTL_NAME;
const SysctlValuesSchema = z
  .record(
    z.string().regex(sysctlName, {
      error: (iss) => `${show(iss.input)} is not a network namespace's sysctl; expected a name under net. (e.g. net.ipv4.tcp_fin_timeout): only those are per namespace`,
    }),
    z.union([intIn(-0x8000_0000, 0xffff_ffff, 'a whole number'), z.string().regex(/^[^\n\r]{1,200}$/)], { error: notA("a sysctl's value: a whole number or a line of text") }),
    { error: notA('a mapping of sysctl names to values') },
  )
  .describe('sysctl name → value, as `sysctl -w` takes them');

export const SysctlsSchema = strict(
  {
    both: SysctlValuesSchema.optional().describe("set in the client's and the server's namespace"),
    client: SysctlValuesSchema.optional().describe("set in the client's namespace (over `both`)"),
    server: SysctlValuesSchema.optional().describe("set in the server's namespace (over `both`)"),
  },
  'sysctls',
).describe("the end namespaces' sysctls for this run (net.* only), set before the programs start and printed in the run's header");

const peerArgs = listOf(z.string({ error: notA('a command-line argument (a string)') }), 'a list of arguments');

export const LabSchema = strict(
  {
    server: peerArgs.optional().describe("arguments for the built-in server, e.g. ['--on-eof', 'delay:300']"),
    client: peerArgs.optional().describe("arguments for the built-in client, e.g. ['--send', '100', '--then', 'close']"),
    port: intIn(1, 65535, 'a port from 1 to 65535').optional(),
    duration: z
      .number({ error: notA('seconds from 0.1 to 86400') })
      .min(0.1, { error: (iss) => `${show(iss.input)} is too small; expected seconds from 0.1 to 86400` })
      .max(86_400, { error: (iss) => `${show(iss.input)} is too large; expected seconds from 0.1 to 86400` })
      .optional()
      .describe('cap on the run, seconds'),
    sysctls: SysctlsSchema.optional(),
  },
  'lab settings',
);

const paramValue = z.union([z.number(), z.string(), z.boolean()], { error: notA('a number, a string or true/false') });

export const ParamSchema = strict(
  {
    default: paramValue,
    description: z.string({ error: notA('a description') }),
    values: listOf(paramValue, 'a list of allowed values').optional(),
  },
  'a parameter',
);

export const ParamsSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      error: (iss) => `${show(iss.input)} is not a parameter name; expected letters, digits and '_'`,
    }),
    ParamSchema,
    { error: notA('a mapping of parameter names') },
  )
  .describe('values referenced as ${name} in the profile, overridable with --set name=value');

const nameRe = /^[a-z0-9][a-z0-9-]*$/;

export const ProfileSchema = strict(
  {
    $schema: z.string().optional(),
    name: z
      .string({ error: notA('a profile name') })
      .regex(nameRe, { error: (iss) => `${show(iss.input)} is not a profile name; expected lower-case letters, digits and '-'` }),
    description: z.string({ error: notA('a description') }),
    seed: intIn(0, 0xffff_ffff, 'a seed from 0 to 4294967295').optional().describe('seed for rules with a probability'),
    lab: LabSchema.optional(),
    params: ParamsSchema.optional(),
    rules: listOf(RuleSchema, 'a list of rules').optional().describe('evaluated in order; the first that matches decides'),
    expect: ExpectSchema.optional(),
  },
  'a profile',
).meta({ title: 'tcpmitm fault profile' });

export type Profile = z.infer<typeof ProfileSchema>;
export type Rule = z.infer<typeof RuleSchema>;
export type Match = z.infer<typeof MatchSchema>;
export type At = z.infer<typeof AtSchema>;
export type Action = z.infer<typeof ActionSchema>;
export type Expect = z.infer<typeof ExpectSchema>;
export type EndpointExpect = z.infer<typeof EndpointExpectSchema>;
export type LabSettings = z.infer<typeof LabSchema>;
export type Sysctls = z.infer<typeof SysctlsSchema>;
export type ParamDecl = z.infer<typeof ParamSchema>;

/** Parses '5s' / '500ms' into milliseconds. */
export function durationMs(s: string): number {
  return s.endsWith('ms') ? Number(s.slice(0, -2)) : Number(s.slice(0, -1)) * 1000;
}
