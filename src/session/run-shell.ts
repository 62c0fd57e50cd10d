// What every run shares (lab, attach, tap): the text log or the terminal UI,
// the JSONL log, a stats event each second, the conditions that end the run
// (Ctrl-C, SIGTERM, SIGHUP, q in the UI, --duration, or the caller's own), and
// the exit code's last word on outputs that broke (OutputFailures).
// A run that ended by itself keeps the UI's final screen, verdict on it,
// until q.

import type { EventBus } from '../engine/event-bus.js';
import type { ControlCommand } from '../engine/control.js';
import type { StatsEvent } from '../engine/events.js';
import { openJsonl, type JsonlWriter } from '../io/jsonl-writer.js';
import { textLogWriter } from '../io/text-log.js';
import { HIDDEN_PROFILE, blindView } from './blind-view.js';
import type { RunMode, TcpmitmEvent } from '../engine/events.js';
import type { QuitHow } from '../ui/keys.js';
import type { OutputFailures } from './output-failures.js';
import { holdEcho } from '../ui/terminal-echo.js';
import type { TimerSettings } from '../ui/timers.js';
import type { UiProcessHandle } from '../ui/process.js';
import type { WatchedSocket } from '../io/kernel-timers.js';
import type { KernelTimers } from '../io/kernel-timers-thread.js';
import type { RunOutputs } from './run-choices.js';

export interface ShellOptions {
  readonly ui: boolean;
  readonly segments: boolean;
  /** JSONL destination: a path or "-" for stdout. */
  readonly json?: string;
  /** `--pcap -`: the pcapng owns stdout, and the text log goes to stderr (as with --json -). */
  readonly pcapToStdout?: boolean;
  /** Where every output of the run reports that it broke; its verdict on the exit code is applied at the end. */
  readonly outputs: OutputFailures;
  readonly durationS?: number;
  readonly profileName: string;
  readonly profileNames: readonly string[];
  /** Shown where the lab id goes in the UI header (the lab id, "attach m0⇄m1", "tap lo"). */
  readonly title: string;
  /** The run's mode: the UI offers only the keys it can act on. */
  readonly mode: RunMode;
  /** The inference's timer settings, for the UI's timers line. */
  readonly timers?: TimerSettings;
  /** Hide the fault: the text log and the UI see the blind view (blind-view.ts), every segment shown; the JSONL keeps all. */
  readonly blind?: boolean;
}

/** What a mode says of its run beyond the user's choices (shellOptions). */
export interface ShellRun {
  readonly outputs: OutputFailures;
  readonly profile: { readonly name: string; readonly builtins: readonly string[] };
  readonly title: string;
  readonly mode: RunMode;
  /** Default: the choices' --duration. */
  readonly durationS?: number;
  /** Per end (a lab's namespaces may differ); default: the choices' --fin-timeout for both. */
  readonly finTimeoutMs?: TimerSettings['finTimeoutMs'];
  readonly blind?: boolean;
}

/** The shell's options as every mode fills them from the user's choices. */
export function shellOptions(o: Pick<RunOutputs, 'ui' | 'segments' | 'json' | 'pcap' | 'durationS' | 'timeWaitS' | 'finTimeoutS'>, run: ShellRun): ShellOptions {
  return {
    ui: o.ui,
    segments: o.segments,
    json: o.json,
    pcapToStdout: o.pcap === '-',
    outputs: run.outputs,
    durationS: run.durationS ?? o.durationS,
    profileName: run.profile.name,
    profileNames: run.profile.builtins,
    title: run.title,
    mode: run.mode,
    timers: { timeWaitMs: o.timeWaitS * 1000, finTimeoutMs: run.finTimeoutMs ?? { client: o.finTimeoutS * 1000, server: o.finTimeoutS * 1000 } },
    blind: run.blind === true,
  };
}

export interface ShellTarget {
  readonly bus: EventBus;
  elapsed(): number;
  control(cmd: ControlCommand): void;
  /** The UI's profile picker; a failure is reported as a warning. */
  setProfile(name: string): Promise<void>;
  stats(): Omit<StatsEvent, 'type' | 't'>;
}

export interface RunEnd {
  readonly reason: string;
  readonly exitCode: number;
}

const SIGNALS = [
  ['SIGINT', 'interrupted (Ctrl-C)', 130],
  ['SIGTERM', 'terminated (SIGTERM)', 143],
  ['SIGHUP', 'terminal closed (SIGHUP)', 129],
] as const;

export class RunShell {
  private jsonl: JsonlWriter | undefined;
  private ui: UiProcessHandle | undefined;
  /** The sockets the UI shows (its last `watch`), and the reader of their kernel timers once there is one. */
  private watched: readonly WatchedSocket[] = [];
  private kernelTimers: KernelTimers | undefined;
  private timersWanted = false;
  private readonly statsTimer: NodeJS.Timeout;
  /** Resolvers of whoever waits for the person to end the run in the UI (q, Ctrl-C, or the UI's end). */
  private quitWaiters: ((how: QuitHow) => void)[] = [];
  private readonly offSignals: (() => void)[] = [];
  /** Resolves on the first SIGINT/SIGTERM/SIGHUP after the shell was made. */
  private readonly signalled: Promise<RunEnd>;
  /** How the run ended, as far as the shell saw it. */
  private endedBy: 'signal' | 'quit' | 'other' = 'other';
  /** Puts the terminal's echo back (it is off from the shell's start until the UI is gone). */
  private readonly restoreEcho: () => void;

  constructor(
    private readonly target: ShellTarget,
    private readonly opts: ShellOptions,
  ) {
    const bus = target.bus;
    // Keys typed before the UI is up are not echoed over it (terminal-echo.ts).
    this.restoreEcho = opts.ui ? holdEcho() : () => undefined;
    // `on`, not `once`: a terminal's Ctrl-C can reach us twice (directly and
    // passed on by the lab's supervisor); a second delivery must not fall back
    // to the default action (death before the log is flushed).
    this.signalled = new Promise<RunEnd>((resolve) => {
      for (const [sig, reason, exitCode] of SIGNALS) {
        const fn = (): void => resolve({ reason, exitCode });
        process.on(sig, fn);
        this.offSignals.push(() => process.off(sig, fn));
      }
    });
    // With --json - or --pcap - the data owns stdout: the text log goes to stderr.
    const logToStderr = opts.json === '-' || opts.pcapToStdout === true;
    // A broken output's line on stderr waits for the UI to be gone; with the text log on stderr, its warning line is that line.
    opts.outputs.connect(bus, () => target.elapsed(), opts.ui ? 'held' : logToStderr ? 'none' : 'now');
    if (opts.json) {
      const jsonl = openJsonl(opts.json, opts.outputs.failed);
      this.jsonl = jsonl;
      bus.subscribe('jsonl', (ev) => jsonl.write(ev));
    }
    if (!opts.ui) {
      // Blind, every segment is a line: a dropped one looks passed, and what
      // happened to it is for the student to find.
      const segments = opts.segments || opts.blind === true;
      const log = textLogWriter(logToStderr ? process.stderr : process.stdout, { segments }, () => target.elapsed());
      bus.subscribe('text-log', opts.blind === true ? seenBlind(log) : log, { passSegments: segments });
    }
    this.statsTimer = setInterval(() => this.emitStats(), 1000);
  }

  /**
   * Starts the terminal UI when asked for (loaded lazily: ink is heavy), and
   * resolves once its first frame is on the terminal (or a signal came
   * first): the caller starts the run's traffic only then, so that no segment
   * crosses before the screen that shows it. On a loaded machine loading ink
   * takes seconds.
   */
  async startUi(): Promise<void> {
    if (!this.opts.ui) return;
    // Its own process: ink's renders must not block the loop that forwards frames.
    const { startUiProcess } = await import('../ui/process.js');
    const t = this.target;
    const ui = startUiProcess({
      subscribe: (fn) => t.bus.subscribe('ui', this.opts.blind === true ? seenBlind(fn) : fn),
      send: (cmd) => {
        if (cmd.kind === 'set-profile') {
          t.setProfile(cmd.name).catch((err: Error) => t.bus.emit({ type: 'warning', t: t.elapsed(), message: `profile ${cmd.name}: ${err.message}` }));
          return;
        }
        t.control(cmd);
      },
      onQuit: (how) => {
        for (const w of this.quitWaiters.splice(0)) w(how);
      },
      onWatch: (sockets) => {
        this.watched = sockets;
        this.kernelTimers?.watch(sockets);
      },
      labId: this.opts.title,
      mode: this.opts.mode,
      ...(this.opts.timers === undefined ? {} : { timers: this.opts.timers }),
      // Blind: no name, and no picker to learn one from.
      profileName: this.opts.blind === true ? HIDDEN_PROFILE : this.opts.profileName,
      profileNames: this.opts.blind === true ? [] : [...this.opts.profileNames],
      elapsed: () => t.elapsed(),
    });
    this.ui = ui;
    await Promise.race([ui.shown(), this.signalled]);
  }

  /**
   * The kernel's timers beside the inferred ones on the UI's timers line,
   * where the run's sockets are local: `pids` names a process in each end's
   * namespace. Read in a thread of their own (kernel-timers-worker.ts), only
   * for the sockets the UI shows, until the run ends; without a UI, nothing.
   */
  async showKernelTimers(pids: Readonly<Record<'client' | 'server', number>>): Promise<void> {
    const ui = this.ui;
    if (ui === undefined || this.timersWanted) return;
    this.timersWanted = true;
    const t = this.target;
    const warn = (message: string): void => t.bus.emit({ type: 'warning', t: t.elapsed(), message });
    const { startKernelTimers } = await import('../io/kernel-timers-thread.js');
    try {
      const timers = await startKernelTimers({ pids }, { elapsed: () => t.elapsed(), onWarning: warn, onRead: (at, sockets) => ui.kernelTimers({ type: 'kernel-timers', t: at, sockets }) });
      // The run ended while it started.
      if (!this.timersWanted) return timers.stop();
      this.kernelTimers = timers;
      timers.watch(this.watched);
    } catch (err) {
      warn(`kernel timers: none, the UI shows the inferred ones only (${(err as Error).message})`);
    }
  }

  emitStats(): void {
    this.target.bus.emit({ type: 'stats', t: this.target.elapsed(), ...this.target.stats() });
  }

  /** Resolves with why the run ended: a signal, q in the UI, --duration, or one of the caller's own ends (a reason alone means exit 0). */
  async waitForEnd(extra: Promise<RunEnd | string>[] = []): Promise<RunEnd> {
    const signalled = this.signalled;
    const ends: Promise<RunEnd>[] = [
      signalled.then((e) => ((this.endedBy = 'signal'), e)),
      // Ctrl-C in the UI is a key, not a signal, but it is the same interrupt.
      this.nextQuit().then((how) => {
        this.endedBy = how === 'quit' ? 'quit' : 'signal';
        return how === 'quit' ? { reason: 'quit', exitCode: 0 } : { reason: 'interrupted (Ctrl-C)', exitCode: 130 };
      }),
      ...extra.map((p) => p.then((e) => (typeof e === 'string' ? { reason: e, exitCode: 0 } : e))),
    ];
    let timer: NodeJS.Timeout | undefined;
    const d = this.opts.durationS;
    if (d !== undefined) ends.push(new Promise((r) => (timer = setTimeout(() => r({ reason: `duration ${d}s reached`, exitCode: 0 }), d * 1000))));
    try {
      return await Promise.race(ends);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private nextQuit(): Promise<QuitHow> {
    return new Promise((resolve) => this.quitWaiters.push(resolve));
  }

  /**
   * After the capture, the pcapng and the JUnit report are closed: the final
   * stats and end events, then the sinks close. With the UI, a run that ended
   * by itself (duration, all closed, an error) keeps its final screen, verdict
   * on it, until q (or Ctrl-C, or the UI's end); after q or a signal it closes
   * at once. Resolves with the run's end, exit 4 if an output broke and the
   * run would have exited 0.
   */
  async finish(end: RunEnd): Promise<RunEnd> {
    const outputs = this.opts.outputs;
    clearInterval(this.statsTimer);
    // The run's sockets are about to go: the UI falls back to the inferred timers once the last read is stale.
    this.timersWanted = false;
    this.kernelTimers?.stop();
    this.kernelTimers = undefined;
    this.emitStats();
    // The log's last batch is written before the end is told, so the end event carries what became of it.
    this.jsonl?.flush();
    this.target.bus.emit({ type: 'end', t: this.target.elapsed(), reason: end.reason, exitCode: outputs.exitCode(end.exitCode) });
    this.jsonl?.close();
    if (this.ui) {
      if (this.endedBy === 'other') await Promise.race([this.nextQuit(), this.signalled]);
      // The UI's last frame comes before anything printed after it.
      this.ui.unmount();
      await this.ui.waitUntilExit();
    }
    this.restoreEcho();
    outputs.release();
    for (const off of this.offSignals) off();
    return { reason: end.reason, exitCode: outputs.exitCode(end.exitCode) };
  }
}

/** A subscriber that sees the blind view of each event. */
function seenBlind(fn: (ev: TcpmitmEvent) => void): (ev: TcpmitmEvent) => void {
  return (ev) => {
    const seen = blindView(ev);
    if (seen !== undefined) fn(seen);
  };
}
