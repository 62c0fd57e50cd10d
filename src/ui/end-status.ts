// The UI's last word on a run: why it ended and its verdict with the exit
// code, in the header, and in the help bar what the verdict rests on and that
// q closes the screen (a run that ended by itself holds its end until then).

import type { UiModel } from './model.js';

type Ended = Pick<UiModel, 'ended' | 'expectationsOk' | 'expectationsFailed' | 'expectationsNotChecked'>;

/** ✓ PASS, ✗ FAIL (3: the verdict failed), or ✗ alone when the run itself did not complete (an interrupt, an error). */
function verdictWord(exitCode: number): string {
  return exitCode === 0 ? '✓ PASS' : exitCode === 3 ? '✗ FAIL' : '✗';
}

/** Header: "ended: duration 6s reached · ✗ FAIL (exit 3)". */
export function endHeadline(model: Ended): string {
  const e = model.ended!;
  return `ended: ${e.reason} · ${verdictWord(e.exitCode)} (exit ${e.exitCode})`;
}

/** Help bar: "✗ FAIL: 1 of 8 checks failed, 2 not checked (exit 3) · ↑↓ PgUp/PgDn to read · q closes". */
export function endFooter(model: Ended): string {
  const e = model.ended!;
  const made = model.expectationsOk + model.expectationsFailed;
  const checks = [
    model.expectationsFailed > 0 ? `${model.expectationsFailed} of ${made} checks failed` : made > 0 ? `${made} checks met` : 'no checks',
    model.expectationsNotChecked > 0 ? `${model.expectationsNotChecked} not checked` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${verdictWord(e.exitCode)}: ${checks} (exit ${e.exitCode}) · ↑↓ PgUp/PgDn to read · q closes`;
}
