// A profile's signal rules need a program at the end they signal: a lab with
// its programs has one at each end; attach, tap and `lab up` run none. Such a
// profile is refused before anything starts (exit 2), naming each rule where
// it is written — never silently ignored. Time triggers need tcpmitm inline
// (tap/profile.ts refuses them there).

import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { describeRule } from '../rules/match.js';
import { hasSignal } from '../rules/cue-sites.js';
import type { ChosenProfile } from './profile-choice.js';
import type { RunAbilities } from './verdict.js';

/** One line per signal rule this run cannot carry out: "x.yaml:5:13: rule 1 (kill-server) signals the server, but tap runs no programs of its own". */
export function unsendableSignals(chosen: ChosenProfile, a: Pick<RunAbilities, 'programs'>): string[] {
  const out: string[] = [];
  (chosen.profile.rules ?? []).forEach((r, i) => {
    if (!hasSignal(r) || typeof r.action !== 'object' || !('signal' in r.action)) return;
    const to = r.action.signal.to;
    const program = a.programs[to];
    if (program === true) return;
    const where = chosen.sites?.[i] ?? `${chosen.file}: rules[${i}]`;
    out.push(`${where}: rule ${i + 1} (${describeRule(r)}) sends SIG${r.action.signal.name} to the ${to}'s program, but ${program}`);
  });
  return out;
}

/** Throws E_PROFILE_SIGNAL (exit 2) when the profile signals a program this run does not have. */
export function refuseUnsendableSignals(chosen: ChosenProfile, a: Pick<RunAbilities, 'programs' | 'mode'>): void {
  const problems = unsendableSignals(chosen, a);
  if (problems.length === 0) return;
  throw new TcpmitmError(
    'E_PROFILE_SIGNAL',
    `profile '${chosen.name}' signals programs that ${a.mode === 'lab' ? 'this lab run (lab up)' : `${a.mode} mode`} does not run:\n  ${problems.join('\n  ')}`,
    ExitCode.Usage,
    'a signal rule needs tcpmitm lab with its programs (the built-in peers, or --client/--server commands); remove the rule to run the profile here',
  );
}
