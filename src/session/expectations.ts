// End of a lab run: check the profile's expectations against what was
// recorded, and print the report (expected vs observed per endpoint, which
// rule fired how often) where a person or a CI log will read it.

import type { ExpectationEvent, TcpmitmEvent } from '../engine/events.js';
import { check, formatReport } from '../rules/expect.js';
import type { ChosenProfile } from './profile-choice.js';

export function checkExpectations(
  chosen: ChosenProfile,
  recorded: readonly TcpmitmEvent[],
  t: number,
  kernelProbe: boolean,
): { results: ExpectationEvent[]; report: string } {
  const results = check(chosen.expect, recorded, { t, kernelProbe });
  return { results, report: formatReport(chosen.profile, results, recorded) };
}
