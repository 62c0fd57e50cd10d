// Which profiles tap mode can run: it watches the wire from the side, so it
// can let segments go by (`pass`) and forge RSTs (`rst`), nothing that needs
// the segment to wait at tcpmitm. Anything else is refused before the run.

import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { actionName, describeRule } from '../rules/match.js';
import type { Profile } from '../rules/schema.js';

export const TAP_ACTIONS = ['pass', 'rst'] as const;

/** One line per rule tap mode cannot carry out; empty when the profile is fine. */
export function tapProfileProblems(profile: Profile): string[] {
  const problems: string[] = [];
  (profile.rules ?? []).forEach((r, i) => {
    const name = actionName(r.action);
    const label = `rule ${i + 1} (${describeRule(r)})`;
    if (r.at !== undefined) {
      // The tap core runs no timers for rules (it only follows the wire).
      problems.push(`${label} is a time trigger (at), which tap mode does not run`);
    } else if (!(TAP_ACTIONS as readonly string[]).includes(name)) {
      problems.push(`${label} asks for ${name}`);
    } else if (typeof r.action === 'object' && 'rst' in r.action && r.action.rst.instead === true) {
      // `instead` drops the trigger segment, which has already gone by.
      problems.push(`${label} asks for rst with instead: true (dropping the trigger)`);
    }
  });
  return problems;
}

/** Throws E_TAP_PROFILE (exit 2) naming every rule tap mode cannot do. */
export function checkTapProfile(profile: Profile, file: string): void {
  const problems = tapProfileProblems(profile);
  if (problems.length === 0) return;
  throw new TcpmitmError(
    'E_TAP_PROFILE',
    `profile '${profile.name}' (${file}) cannot run in tap mode: ${problems.join('; ')}. ` +
      'Tap mode is not inline — segments have already gone by — so it can only pass them and forge RSTs; ' +
      'drop, delay, coalesce, hold, duplicate, blackhole, await, signal and time triggers (at) need tcpmitm inline',
    ExitCode.Usage,
    'run this profile with `tcpmitm lab` or `tcpmitm attach`, or use a profile with only pass and rst rules',
  );
}
