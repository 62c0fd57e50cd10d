// Entry point of the session process that the supervisor starts inside the
// middle namespace. Not a user command: it reads its config from the environment.

import { runSession } from './session.js';
import type { InnerConfig } from './inner-config.js';
import { exitCodeOf, formatError } from '../cli/errors.js';

// `tcpmitm lab | head`: once the reader is gone the log is dropped, not a crash;
// the run goes on to its end so the lab is torn down in order.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

const raw = process.env.TCPMITM_INNER;
if (!raw) {
  process.stderr.write('tcpmitm: inner-main is started by `tcpmitm lab`, not by hand\n');
  process.exit(2);
}
try {
  process.exitCode = await runSession(JSON.parse(raw) as InnerConfig);
} catch (err) {
  process.stderr.write(formatError(err) + '\n');
  process.exitCode = exitCodeOf(err);
}
