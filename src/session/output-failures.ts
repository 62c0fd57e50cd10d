// The run's outputs that broke (disk full, an I/O error, a pipe whose reader
// fell too far behind). Each is reported once, as a warning event and one line
// on stderr, and the run exits 4 (an output is incomplete) where it would have
// exited 0: any other exit code (3 verdict failed, 130 interrupted…) says more
// and is kept. A reader that went away (`| head`) is not a failure.

import type { EventBus } from '../engine/event-bus.js';
import { ExitCode } from '../cli/errors.js';

/**
 * Where the stderr line goes: `now`; `held` while the terminal UI owns the
 * screen (written once it is gone); `none` when the text log is on stderr
 * already and prints the warning there.
 */
export type StderrMode = 'now' | 'held' | 'none';

export class OutputFailures {
  private readonly messages: string[] = [];
  private bus: EventBus | undefined;
  private elapsed: () => number = () => 0;
  private mode: StderrMode = 'now';
  private held: string[] = [];

  constructor(private readonly stderr: (line: string) => void = (line) => void process.stderr.write(line)) {}

  /** An output that broke says so, once (OutputSink's onFailure). */
  failed = (message: string): void => {
    this.messages.push(message);
    if (this.bus) this.report(message);
  };

  /** The run's event stream exists: what broke before is reported now, and what breaks later at once. */
  connect(bus: EventBus, elapsed: () => number, mode: StderrMode): void {
    this.bus = bus;
    this.elapsed = elapsed;
    this.mode = mode;
    for (const m of this.messages) this.report(m);
  }

  /** The terminal UI is gone: the lines it held are written. */
  release(): void {
    for (const line of this.held.splice(0)) this.stderr(line);
    if (this.mode === 'held') this.mode = 'now';
  }

  get incomplete(): boolean {
    return this.messages.length > 0;
  }

  /** The run's exit code given what broke: 0 becomes 4; every other code is kept. */
  exitCode(code: number): number {
    return code === ExitCode.Ok && this.incomplete ? ExitCode.OutputIncomplete : code;
  }

  private report(message: string): void {
    this.bus!.emit({ type: 'warning', t: this.elapsed(), message: `${message}; the run goes on` });
    const line = `tcpmitm: ${message}; the run goes on (exit ${ExitCode.OutputIncomplete} at its end, unless it fails otherwise) [E_OUTPUT]\n`;
    if (this.mode === 'now') this.stderr(line);
    else if (this.mode === 'held') this.held.push(line);
  }
}
