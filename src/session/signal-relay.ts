// A supervisor's signals passed on to the process that does the run (the
// lab's session; attach and tap run again with the session's node flags):
// SIGINT included, since a terminal's Ctrl-C reaches the whole process group
// but `kill -INT <supervisor pid>` reaches only the supervisor, and the run
// must end (and flush its log) either way; the run ignores the duplicate. A
// second Ctrl-C stops a stuck run hard.

import type { ChildProcess } from 'node:child_process';
import { exitStatus } from '../lab/netns.js';
import { ExitCode } from '../cli/errors.js';

const RELAYED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export class SignalRelay {
  /** The first signal received, or SIGKILL once a second Ctrl-C made us stop the child hard. */
  stopping: NodeJS.Signals | undefined;
  private child: ChildProcess | undefined;
  private held = false;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    // Tearing down takes a moment and must not be cut short: nothing to pass on any more.
    if (this.held) return;
    const c = this.child;
    if (this.stopping && sig === 'SIGINT' && c && c.exitCode === null) {
      c.kill('SIGKILL');
      this.stopping = 'SIGKILL';
      return;
    }
    if (c && c.exitCode === null) c.kill(sig);
    this.stopping ??= sig;
  };

  constructor() {
    for (const sig of RELAYED) process.on(sig, this.onSignal);
  }

  /** The process signals go to from now on. */
  relayTo(child: ChildProcess): void {
    this.child = child;
  }

  /** Signals are received and dropped from now on (teardown). */
  hold(): void {
    this.held = true;
  }

  dispose(): void {
    for (const sig of RELAYED) process.off(sig, this.onSignal);
  }

  /**
   * The exit status of a child that `sig` ended. The one we passed on (it
   * died before its handlers were set) is the run's interruption: 128 + its
   * number, as a shell reports it. Any other (SIGKILL from outside, the OOM
   * killer, a crash) is a runtime failure (exit 1), said on stderr (`what` was
   * killed…, then `next`): the run's own log may not have got to say anything.
   */
  statusOfKilled(sig: NodeJS.Signals | null, what: string, next = ''): number {
    // After a second Ctrl-C we SIGKILLed it ourselves: still an interruption.
    if (this.stopping === 'SIGKILL' && sig === 'SIGKILL') return exitStatus(null, 'SIGINT');
    if (sig !== null && sig === this.stopping) return exitStatus(null, sig);
    process.stderr.write(`tcpmitm: ${what} was killed by ${sig ?? 'an unknown cause'}${next}\n`);
    return ExitCode.Runtime;
  }
}
