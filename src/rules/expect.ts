// Checks a profile's `expect` against the event stream of a run: per endpoint,
// the expected states must appear in order (a subsequence) in what the
// inference and/or the kernel probe observed, the built-in peers' app events
// likewise, and each end's program must exit as expected (0 by default). What
// this run cannot answer is `not-checked`, never a pass or a failure. Pure:
// events in, ExpectationEvents and a readable report out.

import type { Endpoint } from '../tcp/state.js';
import type { CheckStatus, ExitEvent, ExpectationEvent, StateSource, TcpmitmEvent } from '../engine/events.js';
import { SIGNAL_NAMES, durationMs, type EndpointExpect, type Expect, type Profile } from './schema.js';
import { describeRule } from './match.js';

/** Why a check cannot be made in this run, or `true` when it can. */
export type Answerable = true | string;

export interface CheckOptions {
  /** Event time (seconds) stamped on the results; default: the last event's. */
  readonly t?: number;
  /**
   * Whether a kernel probe ran (`true`), else why not ("--kernel-probe off").
   * Without one, `source: both` checks the inference and reports the kernel
   * half not-checked; `source: kernel` is not-checked too. Default true.
   */
  readonly kernel?: Answerable;
  /** With a kernel probe: whether it can answer for one end of one connection (intercept: a socket on this host), else why not. Default: it can. */
  readonly kernelEnd?: (conn: number, endpoint: Endpoint) => Answerable;
  /** Per end: whether its `app` events come from a built-in peer, else why they cannot be checked. Default true. */
  readonly app?: Partial<Readonly<Record<Endpoint, Answerable>>>;
  /**
   * Per end: whether a program runs there (a built-in peer or a command) whose
   * exit is part of the verdict, else why none does. Default: no program, no
   * exit check unless the profile asks for one (then not-checked).
   */
  readonly programs?: Partial<Readonly<Record<Endpoint, Answerable>>>;
}

/**
 * A kernel state left sooner than this (seconds) was passed through while the
 * kernel handled one segment, not waited in (see the `not` check). Measured on
 * 6.18: 15 µs for FIN-WAIT-2 inside one FIN+ACK; the shortest real wait, one
 * round trip through tcpmitm, was 230 µs (CLOSING).
 */
export const KERNEL_TRANSIT_S = 0.0001;

interface Seen {
  readonly v: string;
  /** Seconds since the start of the run. */
  readonly t: number;
}

/** One expected item: a state (or app event) and whether the kernel probe may miss it. */
interface Want {
  readonly v: string;
  readonly optional: boolean;
}

function parseWant(s: string): Want {
  return s.endsWith('?') ? { v: s.slice(0, -1), optional: true } : { v: s, optional: false };
}

/**
 * Greedy subsequence match. An optional item is taken only if it occurs before
 * the next required item's first occurrence, so taking it never costs a
 * required match; greedy-earliest also gives the earliest completion time.
 * Returns the time of the last matched item, or the index of the first required item not found.
 */
export function matchSubsequence(
  want: readonly Want[],
  seen: readonly Seen[],
  allowOptional: boolean,
): { ok: true; lastT: number } | { ok: false; missing: number } {
  let pos = 0;
  let lastT = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.optional && allowOptional) {
      const next = want.slice(i + 1).find((x) => !(x.optional && allowOptional));
      let limit = seen.length;
      if (next) {
        const q = seen.findIndex((s, k) => k >= pos && s.v === next.v);
        if (q >= 0) limit = q;
      }
      for (let k = pos; k < limit; k++) {
        if (seen[k]!.v === w.v) {
          pos = k + 1;
          lastT = seen[k]!.t;
          break;
        }
      }
      continue;
    }
    let k = pos;
    while (k < seen.length && seen[k]!.v !== w.v) k++;
    if (k === seen.length) return { ok: false, missing: i };
    pos = k + 1;
    lastT = seen[k]!.t;
  }
  return { ok: true, lastT };
}

function statesOf(events: readonly TcpmitmEvent[], conn: number, endpoint: Endpoint, source: StateSource): Seen[] {
  const out: Seen[] = [];
  for (const e of events) {
    if (e.type === 'state' && e.conn === conn && e.endpoint === endpoint && e.source === source) out.push({ v: e.to, t: e.t });
  }
  return out;
}

function appOf(events: readonly TcpmitmEvent[], endpoint: Endpoint): Seen[] {
  const out: Seen[] = [];
  for (const e of events) if (e.type === 'app' && e.endpoint === endpoint) out.push({ v: e.event, t: e.t });
  return out;
}

function fmtSeen(seen: readonly Seen[]): string {
  return seen.length ? seen.map((s) => `${s.v}@${s.t.toFixed(3)}s`).join(' → ') : '(nothing)';
}

function result(t: number, status: CheckStatus, subject: string, expected: string, observed: string): ExpectationEvent {
  return { type: 'expectation', t, status, ok: status === 'met', subject, expected, observed };
}

function checkEndpoint(endpoint: Endpoint, x: EndpointExpect, events: readonly TcpmitmEvent[], t: number, o: CheckOptions): ExpectationEvent[] {
  const out: ExpectationEvent[] = [];
  const conn = x.conn ?? 1;
  const on = conn === 1 ? '' : ` #${conn}`;
  const withinS = x.within !== undefined ? durationMs(x.within) / 1000 : undefined;
  const source = x.source ?? 'both';
  const sources: StateSource[] = source === 'both' ? ['inferred', 'kernel'] : [source];
  const push = (subject: string, ok: boolean, expected: string, observed: string): void => {
    out.push(result(t, ok ? 'met' : 'failed', subject, expected, observed));
  };
  const probe = o.kernel ?? true;
  const kernel = probe === true && o.kernelEnd ? o.kernelEnd(conn, endpoint) : probe;

  for (const src of sources) {
    if (src === 'kernel' && kernel !== true) {
      const why = `not checked: ${kernel}`;
      if (x.states !== undefined) out.push(result(t, 'not-checked', `${endpoint}${on} states (kernel)`, x.states.join(' → '), why));
      if (x.not !== undefined && x.not.length > 0) out.push(result(t, 'not-checked', `${endpoint}${on} never (kernel)`, `none of ${x.not.join(', ')}`, why));
      continue;
    }
    const seen = statesOf(events, conn, endpoint, src);
    if (x.states !== undefined) {
      const want = x.states.map(parseWant);
      // `STATE?` is optional only for the kernel probe: a 10 ms poller can miss
      // a state that lasts ~1 ms (LAST-ACK, CLOSING); the inference cannot.
      const r = matchSubsequence(want, seen, src === 'kernel');
      const late = r.ok && withinS !== undefined && r.lastT > withinS;
      let observed = fmtSeen(seen);
      if (!r.ok) observed += `  (missing ${want[r.missing]!.v})`;
      else if (late) observed += `  (complete only at ${r.lastT.toFixed(3)}s)`;
      const expected =
        x.states.map((s) => (src === 'kernel' || !s.endsWith('?') ? s : s.slice(0, -1))).join(' → ') +
        (x.within !== undefined ? ` within ${x.within}` : '');
      push(`${endpoint}${on} states (${src})`, r.ok && !late, expected, observed);
    }
    if (x.not !== undefined && x.not.length > 0) {
      const forbidden = (s: Seen): boolean => (x.not as readonly string[]).includes(s.v);
      // The tracepoint probe also reports states the kernel passes through
      // while handling one segment: a FIN+ACK in FIN-WAIT-1 is processed ACK
      // first (tcp_rcv_state_process sets FIN_WAIT2), then FIN (tcp_fin moves
      // to TIME_WAIT), ~15 µs apart. No socket ever waits there, so for `not`
      // such a pass-through does not count; any real wait lasts at least one
      // round trip through tcpmitm, far above KERNEL_TRANSIT_S.
      const transit = (k: number): boolean => src === 'kernel' && k + 1 < seen.length && seen[k + 1]!.t - seen[k]!.t < KERNEL_TRANSIT_S;
      const bad = seen.filter((s, k) => forbidden(s) && !transit(k));
      const passed = seen.filter((s, k) => forbidden(s) && transit(k));
      const note = passed.length
        ? `  (passed through ${passed.map((s) => s.v).join(', ')} within one segment's processing: not counted)`
        : '';
      push(
        `${endpoint}${on} never (${src})`,
        bad.length === 0,
        `none of ${x.not.join(', ')}`,
        (bad.length ? `${fmtSeen(bad)} in ${fmtSeen(seen)}` : fmtSeen(seen)) + note,
      );
    }
  }
  const app = o.app?.[endpoint] ?? true;
  if (x.app !== undefined && app !== true) {
    out.push(result(t, 'not-checked', `${endpoint} app`, x.app.join(' → '), `not checked: ${app}`));
  } else if (x.app !== undefined) {
    const seen = appOf(events, endpoint);
    const want = x.app.map((v) => ({ v, optional: false }));
    const r = matchSubsequence(want, seen, false);
    const late = r.ok && withinS !== undefined && r.lastT > withinS;
    push(
      `${endpoint} app`,
      r.ok && !late,
      x.app.join(' → ') + (x.within !== undefined ? ` within ${x.within}` : ''),
      fmtSeen(seen) + (!r.ok ? `  (missing ${want[r.missing]!.v})` : late ? `  (complete only at ${r.lastT.toFixed(3)}s)` : ''),
    );
  }
  return out;
}

/** The exit a profile asks of one end's program: `exit` (default 0) or `signal`. */
function wantedExit(x: EndpointExpect | undefined): { text: string; accepts: (e: ExitEvent) => boolean } {
  if (x?.signal !== undefined) {
    const sig = x.signal;
    // Killed by someone else, or by the signal a rule of the profile sent (on purpose: docs/profiles.md); never by tcpmitm's stop at the end.
    return { text: `killed by SIG${sig}`, accepts: (e) => (e.by === 'self' || e.by === 'cue') && (e.signal ?? shellSignal(e.code)) === sig };
  }
  const code = x?.exit ?? 0;
  if (code === 'any') return { text: 'any end', accepts: () => true };
  // Stopped by tcpmitm at the end of the run: it had not failed by then. Ended
  // by a rule's signal: the profile asked for it, so not a failure either.
  if (code === 0) return { text: 'exit 0', accepts: (e) => e.by === 'tcpmitm' || e.by === 'cue' || (e.code === 0 && e.signal === undefined) };
  if (code === 'nonzero') return { text: 'a non-zero exit', accepts: (e) => e.by === 'self' && e.code !== undefined && e.code !== 0 };
  return { text: `exit ${code}`, accepts: (e) => e.by === 'self' && e.code === code };
}

/**
 * The signal behind a shell's exit status: bash and dash report a command
 * killed by signal n as 128+n (the Linux numbers, in SIGNAL_NAMES' order).
 */
export function shellSignal(code: number | undefined): string | undefined {
  return code !== undefined && code > 128 ? SIGNAL_NAMES[code - 129] : undefined;
}

/** "exit 7", "killed by SIGKILL", "stopped by tcpmitm (SIGTERM)", "could not start: …"; with `at`, the time too. */
export function describeExit(e: ExitEvent, opts: { at?: boolean } = {}): string {
  const at = opts.at === false ? '' : ` at ${e.t.toFixed(3)}s`;
  if (e.notStarted !== undefined) return `could not start (exit ${e.code ?? '?'}): ${e.notStarted}`;
  if (e.by === 'tcpmitm') return `still running at the end of the run: stopped by tcpmitm (SIG${e.signal ?? 'TERM'})${at}`;
  if (e.by === 'cue') return `killed by SIG${e.signal ?? shellSignal(e.code) ?? '?'}, sent by tcpmitm on rule ${e.rule ?? '?'} (a signal rule)${at}`;
  if (e.signal !== undefined) return `killed by SIG${e.signal}${at}`;
  const sig = shellSignal(e.code);
  return `exit ${e.code ?? '?'}${sig ? ` (the shell's way of saying: killed by SIG${sig})` : ''}${at}`;
}

function checkExit(endpoint: Endpoint, x: EndpointExpect | undefined, events: readonly TcpmitmEvent[], t: number, program: Answerable | undefined): ExpectationEvent | undefined {
  const asked = x?.exit !== undefined || x?.signal !== undefined;
  const want = wantedExit(x);
  if (program !== true) {
    // No program of ours runs at this end: nothing to check unless the profile asked.
    return asked ? result(t, 'not-checked', `${endpoint} exit`, want.text, `not checked: ${program ?? `no program runs at the ${endpoint} end`}`) : undefined;
  }
  let exit: ExitEvent | undefined;
  for (const e of events) if (e.type === 'exit' && e.endpoint === endpoint) exit = e;
  if (exit === undefined) return result(t, 'failed', `${endpoint} exit`, want.text, 'no exit seen');
  const ok = exit.notStarted === undefined && want.accepts(exit);
  return result(t, ok ? 'met' : 'failed', `${endpoint} exit`, want.text, `${exit.command}: ${describeExit(exit)}`);
}

/** One ExpectationEvent per thing checked (endpoint × source × states/not/app, and each program's exit). */
export function check(expect: Expect | undefined, events: readonly TcpmitmEvent[], opts: CheckOptions = {}): ExpectationEvent[] {
  const t = opts.t ?? (events.length ? events[events.length - 1]!.t : 0);
  const out: ExpectationEvent[] = [];
  for (const ep of ['client', 'server'] as const) {
    const x = expect?.[ep];
    if (x) out.push(...checkEndpoint(ep, x, events, t, opts));
    const exit = checkExit(ep, x, events, t, opts.programs?.[ep]);
    if (exit) out.push(exit);
  }
  return out;
}

/** No check failed (not-checked ones neither pass nor fail). */
export function allMet(results: readonly ExpectationEvent[]): boolean {
  return results.every((r) => r.status !== 'failed');
}

/** Per rule (1-based): how many segments it decided, by verdict, and its action events. */
export type RuleCounts = Map<number, Map<string, number>>;

/** Counts one event into `counts` if a rule decided it (a run counts as it goes: no event needs keeping for this). */
export function countRuleEvent(counts: RuleCounts, e: TcpmitmEvent): void {
  let rule: number | undefined;
  let what: string;
  if (e.type === 'segment' && e.rule !== undefined) [rule, what] = [e.rule, e.verdict];
  else if (e.type === 'action' && e.rule !== undefined && e.action === 'rst') [rule, what] = [e.rule, 'rst forged'];
  else if (e.type === 'action' && e.rule !== undefined && e.action === 'signal') [rule, what] = [e.rule, 'signal sent'];
  else return;
  let m = counts.get(rule);
  if (!m) counts.set(rule, (m = new Map()));
  m.set(what, (m.get(what) ?? 0) + 1);
}

export function ruleCounts(events: readonly TcpmitmEvent[]): RuleCounts {
  const counts: RuleCounts = new Map();
  for (const e of events) countRuleEvent(counts, e);
  return counts;
}

/** "all 4 checks met", "1 of 5 checks failed, 2 not checked", "no checks". */
export function summarize(results: readonly ExpectationEvent[]): string {
  const n = (st: CheckStatus): number => results.filter((r) => r.status === st).length;
  const failed = n('failed');
  const skipped = n('not-checked');
  const made = results.length - skipped;
  const head = made === 0 ? 'no checks made' : failed === 0 ? `all ${made} checks met` : `${failed} of ${made} checks failed`;
  return skipped === 0 ? head : `${head}, ${skipped} not checked`;
}

/**
 * The text printed at the end of a run (and on exit 3): each check with
 * expected vs observed, then which rule fired how often.
 */
export function formatReport(profile: Pick<Profile, 'name' | 'rules'>, results: readonly ExpectationEvent[], counts: RuleCounts): string {
  const lines: string[] = [];
  lines.push(`profile ${profile.name}: ${summarize(results)}`);
  for (const r of results) {
    lines.push(`  ${r.status === 'met' ? 'ok  ' : r.status === 'failed' ? 'FAIL' : 'SKIP'} ${r.subject}`);
    lines.push(`         expected: ${r.expected}`);
    lines.push(`         observed: ${r.observed}`);
  }
  const rules = profile.rules ?? [];
  if (rules.length > 0) {
    lines.push('  rules:');
    rules.forEach((rule, i) => {
      const c = counts.get(i + 1);
      const detail = c ? [...c].map(([k, n]) => `${k} ×${n}`).join(', ') : 'never fired';
      lines.push(`    ${i + 1}. ${describeRule(rule)}: ${detail}`);
    });
  }
  return lines.join('\n');
}

