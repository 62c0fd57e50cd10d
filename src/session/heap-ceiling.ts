// attach and tap forward in the CLI's own process, whose node flags were set
// when it started: to run under the session's heap ceiling (node-flags.ts —
// without it a flood of new tuples let the heap grow to several times what
// was live: 557 MB of RSS in attach for a table of 32 768), the command runs
// itself again once, as a child with those flags, and returns its status.
// The child knows itself by TCPMITM_SESSION_FLAGS; signals are passed on,
// and a child whose parent died (SIGKILL) ends its run as if terminated.

import { spawn } from 'node:child_process';
import { ExitCode } from '../cli/errors.js';
import { sessionNodeFlags } from './node-flags.js';
import { SignalRelay } from './signal-relay.js';

const MARK = 'TCPMITM_SESSION_FLAGS';

/**
 * Undefined in the process that runs with the flags (go on with the run);
 * otherwise, once that child has ended, its exit status. `via`: a command
 * the child is started through, e.g. ['nsenter', '--net=PATH', '--'] to run
 * it in another network namespace (intercept's --netns).
 */
export async function runUnderHeapCeiling(maxConnections: number, via: readonly string[] = []): Promise<number | undefined> {
  const flags = sessionNodeFlags(maxConnections);
  if (process.env[MARK] === flags.join(' ')) {
    endWithParent();
    return undefined;
  }
  const relay = new SignalRelay();
  try {
    const argv = [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)];
    const [cmd, ...args] = [...via, ...argv] as [string, ...string[]];
    const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, [MARK]: flags.join(' ') } });
    relay.relayTo(child);
    return await new Promise<number>((resolve) => {
      child.on('exit', (code, sig) => resolve(code ?? relay.statusOfKilled(sig, `the session (pid ${child.pid})`)));
      child.on('error', (err) => {
        process.stderr.write(`tcpmitm: cannot start the session: ${err.message}\n`);
        resolve(ExitCode.Runtime);
      });
    });
  } finally {
    relay.dispose();
  }
}

/** How often (ms) the child looks whether its parent still lives. */
const PARENT_CHECK_MS = 500;

/**
 * Node cannot ask for PR_SET_PDEATHSIG: a child whose parent died is
 * adopted (its ppid changes), and then ends its run the way SIGTERM does —
 * its log flushed, its outputs closed, exit 143 — rather than forward alone.
 */
function endWithParent(): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.stderr.write(`tcpmitm: the command that started this run (pid ${parent}) died: ending the run\n`);
    process.kill(process.pid, 'SIGTERM');
  }, PARENT_CHECK_MS);
  timer.unref();
}
