// Entry point of the session process that the supervisor starts inside the
// middle namespace. Not a user command: it reads its config from the session
// link (fd 3), and if the supervisor dies it ends the run and removes the lab.

import { runSession } from './session.js';
import { openSessionLink, removeAbandonedLab, type SessionLink } from './session-link.js';
import { ExitCode, exitCodeOf, formatError } from '../cli/errors.js';

/**
 * How long a run without a UI may take to end after its supervisor died
 * before the lab is removed under it (stopping the programs takes seconds at
 * most). A run with a UI keeps its final screen until q, as any run that
 * ended by itself.
 */
const ABANDONED_RUN_GRACE_MS = 15_000;

// `tcpmitm lab | head`: once the reader is gone the log is dropped, not a crash;
// the run goes on to its end so the lab is torn down in order.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

let link: SessionLink | undefined;
try {
  link = await openSessionLink();
} catch (err) {
  process.stderr.write(formatError(err) + '\n');
  process.exitCode = exitCodeOf(err);
}

if (link) {
  const { config } = link;
  let removing: Promise<void> | undefined;
  // Once: from the end of the run, or from the timer if the run does not end.
  const removeOwnLab = (): Promise<void> =>
    (removing ??= removeAbandonedLab(config.lab).then((left) => {
      if (left && left.length > 0) process.stderr.write(`tcpmitm: lab '${config.lab.id}' not fully removed: ${left.join('; ')}\n`);
    }));
  const abandoned = link.supervisorGone.then(() => {
    if (!config.options.ui) {
      setTimeout(() => void removeOwnLab().finally(() => process.exit(ExitCode.Runtime)), ABANDONED_RUN_GRACE_MS);
    }
    return { reason: `the supervisor (tcpmitm lab, pid ${config.lab.owner.pid}) died: the session removes the lab`, exitCode: ExitCode.Runtime };
  });
  let failed = false;
  if (!link.gone()) {
    try {
      process.exitCode = await runSession(config, [abandoned]);
    } catch (err) {
      process.stderr.write(formatError(err) + '\n');
      process.exitCode = exitCodeOf(err);
      failed = true;
    }
  }
  if (link.gone()) await removeOwnLab();
  // A run that threw did not close what it opened (its timers, its kernel
  // probe): end here, so that the supervisor removes the lab (the probe's
  // trace instance with it) instead of waiting for a session that never exits.
  if (failed || link.gone()) process.exit();
}
