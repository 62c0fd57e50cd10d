// Profiles' cues: the signal action and time triggers (`at`) validate with
// file:line:col; a run without the program a signal rule needs refuses the
// profile naming the rule where it is written; how a program a rule killed is
// judged (not a failure; `signal:` still checks it); what a process does with
// a signal, from /proc/<pid>/status.

import { describe, expect, it } from 'vitest';
import { parseProfile } from '../../../src/rules/parse.js';
import { cueSites } from '../../../src/rules/cue-sites.js';
import { check, describeExit } from '../../../src/rules/expect.js';
import { unsendableSignals, refuseUnsendableSignals } from '../../../src/session/cue-check.js';
import { wireOnlyAbilities } from '../../../src/session/verdict.js';
import { dispositionIn, effectOf } from '../../../src/session/signal-effect.js';
import type { ChosenProfile } from '../../../src/session/profile-choice.js';
import type { ExitEvent } from '../../../src/engine/events.js';
import { tapProfileProblems } from '../../../src/tap/profile.js';

const HEAD = 'name: t\ndescription: t\nrules:\n';

function problems(rules: string): string[] {
  try {
    parseProfile(HEAD + rules, 'bad.yaml');
  } catch (e) {
    const m = (e as Error).message;
    return m.includes('\n') ? m.split('\n').slice(1).map((l) => l.trim()) : [m];
  }
  return [];
}

describe('the signal action and time triggers in a profile', () => {
  it('a good signal rule and a good time trigger validate', () => {
    const p = parseProfile(
      HEAD +
        '  - match: {from: client, role: data}\n    action: {signal: {to: server, name: KILL, then: drop}}\n' +
        '  - at: {after: 300ms, since: state, endpoint: client, state: FIN-WAIT-2, conn: 1}\n    action: {rst: {to: both}}\n',
      'ok.yaml',
    );
    expect(p.rules).toHaveLength(2);
  });

  it.each([
    ['a signal written with SIG', '  - action: {signal: {to: server, name: SIGKILL}}\n', "bad.yaml:4:41: rules[0].action.signal.name: 'SIGKILL' is written with SIG; expected the name without it: 'KILL'"],
    ['an unknown signal', '  - action: {signal: {to: server, name: DIE}}\n', "bad.yaml:4:41: rules[0].action.signal.name: 'DIE' is not a known signal; expected one of HUP, INT, QUIT, ILL, TRAP, ABRT, BUS, FPE, KILL, USR1, SEGV, USR2, PIPE, ALRM, TERM, STKFLT, CHLD, CONT, STOP, TSTP, TTIN, TTOU, URG, XCPU, XFSZ, VTALRM, PROF, WINCH, IO, PWR, SYS"],
    ['a signal to nobody', '  - action: {signal: {to: both, name: KILL}}\n', "bad.yaml:4:27: rules[0].action.signal.to: 'both' is not a known endpoint; expected one of client, server"],
    ['a bad then', '  - action: {signal: {to: server, name: KILL, then: delay}}\n', "bad.yaml:4:53: rules[0].action.signal.then: 'delay' is not a known verdict for the held segment; expected one of pass, drop"],
    ['a bad since', '  - at: {after: 1s, since: fin}\n    action: {rst: {to: client}}\n', "bad.yaml:4:28: rules[0].at.since: 'fin' is not a known start of a time trigger; expected one of run, conn, state"],
    ['a bad duration', '  - at: {after: 1min, since: conn}\n    action: {rst: {to: client}}\n', "bad.yaml:4:17: rules[0].at.after: '1min' is not a duration; expected a duration such as '5s' or '500ms'"],
  ])('%s', (_name, rules, message) => {
    expect(problems(rules)).toEqual([message]);
  });

  it('cross-field rules of a time trigger, each at its place', () => {
    expect(
      problems(
        '  - at: {after: 300ms, since: run, state: FIN-WAIT-2}\n    match: {from: client}\n    action: drop\n' +
          '  - at: {after: 300ms, since: state}\n    action: {signal: {to: server, name: KILL, then: drop}}\n' +
          '  - at: {after: 1s, since: run}\n    action: {rst: {to: server, instead: true}}\n',
      ),
    ).toEqual([
      'bad.yaml:4:43: rules[0].at.state: given with since: run; expected state only with since: state',
      "bad.yaml:5:12: rules[0].match: 'match' beside 'at'; expected a rule that fires on segments (match, times, after, probability) or at a time (at), not both",
      "bad.yaml:6:13: rules[0].action: 'drop' needs a segment; expected signal or rst in a rule with 'at' (a time trigger has no segment to pass, drop or hold)",
      'bad.yaml:7:9: rules[1].at.endpoint: missing; expected the endpoint whose state starts the time (client or server) with since: state',
      'bad.yaml:7:9: rules[1].at.state: missing; expected the state that starts the time with since: state',
      "bad.yaml:8:53: rules[1].action.signal.then: given in a rule with 'at'; expected no then: a time trigger holds no segment",
      'bad.yaml:10:13: rules[2].action: rst with since: run; expected since: conn or since: state: a RST belongs to a connection',
      "bad.yaml:10:41: rules[2].action.rst.instead: given in a rule with 'at'; expected no instead: a time trigger has no segment to replace",
    ]);
  });
});

describe('a signal rule where no program runs', () => {
  const text = HEAD + '  - id: kill-server\n    match: {from: client, role: data}\n    action: {signal: {to: server, name: KILL}}\n';
  const profile = parseProfile(text, 'kill.yaml');
  const chosen: ChosenProfile = { name: 't', file: 'kill.yaml', profile, builtin: false, builtins: [], sites: cueSites(text, 'kill.yaml', profile)! };

  it('is refused in attach and tap, naming the rule at its file:line:col', () => {
    for (const mode of ['attach', 'tap'] as const) {
      const a = wireOnlyAbilities(mode, 'no probe', true);
      expect(unsendableSignals(chosen, a)).toEqual([`kill.yaml:6:22: rule 1 (kill-server) sends SIGKILL to the server's program, but ${mode} runs no programs of its own`]);
      expect(() => refuseUnsendableSignals(chosen, a)).toThrow(/E_PROFILE_SIGNAL|signals programs that/);
    }
  });

  it('is fine where that end runs a program', () => {
    expect(unsendableSignals(chosen, { programs: { client: true, server: true } })).toEqual([]);
    expect(unsendableSignals(chosen, { programs: { client: true, server: '`lab up` runs no programs' } })).toHaveLength(1);
  });

  it('tap refuses time triggers too (it runs no timers for rules)', () => {
    const p = parseProfile(HEAD + '  - at: {after: 1s, since: conn}\n    action: {rst: {to: client}}\n', 't.yaml');
    expect(tapProfileProblems(p)).toEqual(['rule 1 (rst 1s after conn) is a time trigger (at), which tap mode does not run']);
  });
});

describe('a program a rule killed', () => {
  const killed: ExitEvent = { type: 'exit', t: 0.5, endpoint: 'server', command: 'built-in server', signal: 'KILL', by: 'cue', rule: 1 };
  const exitOf = (expect_: Parameters<typeof check>[0], e: ExitEvent) =>
    check(expect_, [e], { programs: { client: true, server: true } }).find((r) => r.subject === 'server exit')!;

  it('is not a failure of the run (the profile asked for it)', () => {
    expect(exitOf(undefined, killed).status).toBe('met');
  });
  it('meets signal: KILL, and the report says tcpmitm sent it on a rule', () => {
    const r = exitOf({ server: { signal: 'KILL' } }, killed);
    expect(r.status).toBe('met');
    expect(r.observed).toBe('built-in server: killed by SIGKILL, sent by tcpmitm on rule 1 (a signal rule) at 0.500s');
  });
  it('does not meet another signal, nor an exit status', () => {
    expect(exitOf({ server: { signal: 'TERM' } }, killed).status).toBe('failed');
    expect(exitOf({ server: { exit: 'nonzero' } }, killed).status).toBe('failed');
  });
  it("tcpmitm's stop at the end of the run never meets signal:", () => {
    expect(exitOf({ server: { signal: 'TERM' } }, { ...killed, by: 'tcpmitm', signal: 'TERM', rule: undefined }).status).toBe('failed');
  });
  it('a shell that says 128+n for the command a rule killed', () => {
    expect(describeExit({ ...killed, signal: undefined, code: 137 }, { at: false })).toBe('killed by SIGKILL, sent by tcpmitm on rule 1 (a signal rule)');
  });
});

describe("what a signal does to a process (/proc/<pid>/status)", () => {
  // Node: SIGPIPE ignored (bit 13), SIGINT… caught; bits are signal n-1.
  const status = 'Name:\tnode\nSigIgn:\t0000000000001000\nSigCgt:\t0000000188004602\n';
  it('reads ignored and caught signals from the masks', () => {
    expect(dispositionIn(status, 'PIPE')).toBe('ignored');
    expect(dispositionIn(status, 'USR1')).toBe('caught'); // bit 9: 0x200
    expect(dispositionIn(status, 'TERM')).toBe('caught'); // bit 14: 0x4000
    expect(dispositionIn(status, 'HUP')).toBe('default');
    expect(dispositionIn(status, 'KILL')).toBe('default');
    expect(dispositionIn('', 'TERM')).toBeUndefined();
  });
  it('waits for an exit, a stop, or nothing', () => {
    expect(effectOf('KILL', 'default')).toBe('exit');
    expect(effectOf('TERM', undefined)).toBe('exit');
    expect(effectOf('TERM', 'caught')).toBe('nothing');
    expect(effectOf('PIPE', 'ignored')).toBe('nothing');
    expect(effectOf('STOP', 'default')).toBe('stop');
    expect(effectOf('CONT', 'default')).toBe('nothing');
    expect(effectOf('WINCH', 'default')).toBe('nothing');
  });
});
