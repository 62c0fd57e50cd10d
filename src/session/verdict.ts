// The verdict of a run, in every mode. Up front: which of the profile's
// expectations this run can answer (a profile the user wrote that asks what
// can never be answered here is refused, exit 2; a built-in profile's are
// reported not checked). During the run: it records what the checks read. At
// the end: the checks, the exit code (0 met, 3 failed; a signal or an error
// keeps its own), the report on stderr and the JUnit file.

import { writeWholeOutput } from '../io/output-sink.js';
import type { EventBus } from '../engine/event-bus.js';
import type { ExpectationEvent, TcpmitmEvent } from '../engine/events.js';
import { check, countRuleEvent, formatReport, summarize, type Answerable, type RuleCounts } from '../rules/expect.js';
import type { Expect } from '../rules/schema.js';
import type { Endpoint } from '../tcp/state.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import type { ChosenProfile } from './profile-choice.js';
import type { RunEnd } from './run-shell.js';
import { junitXml, type JunitCase } from './junit.js';
import type { OutputFailures } from './output-failures.js';

/** What this run can answer; each `string` says why not. */
export interface RunAbilities {
  readonly mode: 'lab' | 'attach' | 'tap' | 'intercept';
  /** A kernel probe runs beside the inference. */
  readonly kernel: Answerable;
  /** With one: whether it sees one end of one connection (intercept: only this host's sockets), known once the run has seen it. */
  readonly kernelEnd?: (conn: number, endpoint: Endpoint) => Answerable;
  /** Per end: its `app` events come from a built-in peer. */
  readonly app: Readonly<Record<Endpoint, Answerable>>;
  /** Per end: a program of the run's runs there (its exit is checked). */
  readonly programs: Readonly<Record<Endpoint, Answerable>>;
  /**
   * Whether the profile's expectations apply to this run at all. A built-in
   * profile's describe the built-in peers: with the user's own commands they
   * apply only when the user named the profile.
   */
  readonly expectations: Answerable;
}

const ENDS = ['client', 'server'] as const;

/** The reason a built-in profile's expectations do not apply to traffic of the user's own unless the user named the profile. */
export const BUILTIN_EXPECTATIONS_UNNAMED = 'they describe the built-in peers; name the profile with --profile to check them against your own programs';

/**
 * A mode that sees only the wire and runs no programs (attach, tap): its
 * inference can be checked, nothing else; the traffic is the user's own, so
 * a profile's expectations apply only to a profile the user named.
 */
export function wireOnlyAbilities(mode: RunAbilities['mode'], noKernel: string, profileNamed: boolean): RunAbilities {
  const none = `${mode} runs no programs of its own`;
  return {
    mode,
    kernel: noKernel,
    app: { client: none, server: none },
    programs: { client: none, server: none },
    expectations: profileNamed ? true : BUILTIN_EXPECTATIONS_UNNAMED,
  };
}

/** The parts of `expect` that can never be answered in a run with these abilities, one sentence each. */
export function unanswerable(expect: Expect | undefined, a: RunAbilities): string[] {
  const out: string[] = [];
  for (const ep of ENDS) {
    const x = expect?.[ep];
    if (!x) continue;
    if (x.source === 'kernel' && a.kernel !== true) out.push(`${ep} states from the kernel (source: kernel), but ${a.kernel}`);
    if (x.app !== undefined && a.app[ep] !== true) out.push(`${ep} app events (${x.app.join(', ')}), but ${a.app[ep]}: only tcpmitm's built-in peers report them`);
    if ((x.exit !== undefined || x.signal !== undefined) && a.programs[ep] !== true) out.push(`how the ${ep}'s program ends (${x.signal !== undefined ? `signal: ${x.signal}` : `exit: ${x.exit}`}), but ${a.programs[ep]}`);
  }
  return out;
}

/**
 * Refuses (E_PROFILE_EXPECT, exit 2) a profile of the user's own whose
 * expectations this run can never answer. Built-in profiles are not refused:
 * their unanswerable checks are reported as not checked.
 */
export function refuseUnanswerable(chosen: ChosenProfile, a: RunAbilities): void {
  if (chosen.builtin || a.expectations !== true) return;
  const problems = unanswerable(chosen.expect, a);
  if (problems.length === 0) return;
  throw new TcpmitmError(
    'E_PROFILE_EXPECT',
    `profile '${chosen.name}' (${chosen.file}) expects what cannot be checked in ${a.mode} mode: ${problems.join('; ')}`,
    ExitCode.Usage,
    'remove those expectations from the profile, or run it where they can be checked (a lab with its built-in peers and a kernel probe)',
  );
}

export interface VerdictOptions {
  readonly bus: EventBus;
  readonly profile: ChosenProfile;
  readonly abilities: RunAbilities;
  /** Writes the report to stderr at the end (not with the UI, which shows it). */
  readonly report: boolean;
  readonly junit?: string;
  /** Where a JUnit report that cannot be written is reported (the run then exits 4 if it would have exited 0). */
  readonly outputs: OutputFailures;
  /** Names the run in the JUnit suite: "lab ab12cd", "attach eth1⇄eth2". */
  readonly title: string;
}

/** Events kept for the checks at the end of a run. */
const MAX_RECORDED = 200_000;

export class Verdict {
  private readonly recorded: TcpmitmEvent[] = [];
  /** How often each rule fired, counted as the run goes (the report's; nothing kept per event). */
  private readonly ruleCounts: RuleCounts = new Map();
  private readonly started = new Date();
  /** When the run ended (s): what follows is tcpmitm's own teardown (it stops the programs), not the run's. */
  private endedAt = Infinity;

  constructor(private readonly o: VerdictOptions) {
    const bus = o.bus;
    // Only a run with expectations to check keeps events for them: a flood's
    // hundreds of thousands of state events are otherwise mostly what its heap holds.
    const keeps = o.abilities.expectations === true && o.profile.expect !== undefined;
    bus.subscribe(
      'verdict',
      (ev) => {
        if (ev.t <= this.endedAt) countRuleEvent(this.ruleCounts, ev);
        // The programs' exits are checked whatever the profile says (exit 0 unless it expects otherwise).
        if (!keeps && ev.type !== 'exit') return;
        // Checks need state, app, exit and rule events; a long or busy run
        // must not grow without bound, so recording stops at a generous cap.
        if (this.recorded.length >= MAX_RECORDED) {
          if (this.recorded.length === MAX_RECORDED) {
            const warning: TcpmitmEvent = { type: 'warning', t: ev.t, message: `more than ${MAX_RECORDED} events: expectations are checked on the first ${MAX_RECORDED}` };
            this.recorded.push(warning);
            bus.emit(warning);
          }
          return;
        }
        // The programs' exits are reported during the teardown and belong to the verdict.
        if (ev.t > this.endedAt && ev.type !== 'exit') return;
        // `connection` events are not needed by any check, and a flood of new tuples is mostly them.
        if (ev.type === 'segment' ? ev.rule !== undefined : ev.type !== 'stats' && ev.type !== 'connection') this.recorded.push(ev);
      },
      { passSegments: false },
    );
  }

  /**
   * The run has ended at `t` (s): the checks look at what happened until
   * then. A kernel change read later but stamped earlier still counts; what
   * stopping the programs causes (a killed server's FIN) does not.
   */
  runEnded(t: number): void {
    this.endedAt = Math.min(this.endedAt, t);
  }

  /**
   * After the run ended and its programs are stopped: the checks (only for a
   * run that ended by itself or by `q`; an interrupted or failed run keeps its
   * own exit code), their events, the report and the JUnit file. Returns the
   * run's end with its final exit code.
   */
  conclude(end: RunEnd, t: number): RunEnd {
    this.runEnded(t);
    const { abilities: a, profile } = this.o;
    const checked = end.exitCode === ExitCode.Ok;
    let results: ExpectationEvent[] = [];
    if (checked) {
      const expect = a.expectations === true ? profile.expect : undefined;
      results = check(expect, this.recorded, { t, kernel: a.kernel, ...(a.kernelEnd ? { kernelEnd: a.kernelEnd } : {}), app: a.app, programs: a.programs });
      for (const r of results) this.o.bus.emit(r);
    }
    const failed = results.some((r) => r.status === 'failed');
    const final: RunEnd = checked && failed ? { reason: end.reason, exitCode: ExitCode.Expectations } : end;
    const report = this.report(results, checked);
    // The report goes to stderr so it never mixes with --json - on stdout.
    if (this.o.report && checked) process.stderr.write(report + '\n');
    // Something the user asked for that fails never exits 0: OutputFailures makes it 4.
    if (this.o.junit !== undefined) writeWholeOutput(this.o.junit, '--junit', this.junit(results, end, t, report), this.o.outputs.failed);
    return final;
  }

  private report(results: readonly ExpectationEvent[], checked: boolean): string {
    const { profile, abilities: a } = this.o;
    if (!checked) return `profile ${profile.name}: not checked (the run did not end by itself)`;
    let text = formatReport(profile.profile, results, this.ruleCounts);
    if (a.expectations !== true && profile.expect) text += `\n  (profile ${profile.name}'s own expectations not checked: ${a.expectations})`;
    return text;
  }

  private junit(results: readonly ExpectationEvent[], end: RunEnd, t: number, report: string): string {
    const { profile, abilities: a } = this.o;
    const classname = `tcpmitm.${profile.name}`;
    const cases: JunitCase[] = results.map((r) => ({ classname, name: r.subject, status: r.status, expected: r.expected, observed: r.observed }));
    // The run itself: completed (it ended by itself or by q), or not.
    const done = end.exitCode === ExitCode.Ok;
    cases.unshift({
      classname,
      name: 'run',
      status: done ? 'met' : 'error',
      expected: 'the run ends by itself',
      observed: end.reason,
      message: `${end.reason} (exit ${end.exitCode})`,
    });
    return junitXml({
      name: `tcpmitm ${this.o.title}: profile ${profile.name}`,
      timestamp: this.started.toISOString().slice(0, 19),
      timeS: t,
      properties: [
        ['mode', a.mode],
        ['profile', profile.name],
        ['profile file', profile.file],
        ['kernel probe', a.kernel === true ? 'on' : `off: ${a.kernel}`],
        ['verdict', done ? summarize(results) : `not checked: ${end.reason}`],
      ],
      cases,
      systemOut: report,
    });
  }
}
