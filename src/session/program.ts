// A program tcpmitm runs at one end of a run (a --client/--server command or
// a built-in peer): its output, line by line, as app events; its end as an
// exit event (status or signal, and who ended it); and its stop at the end of
// the run, politely first (SIGTERM, then SIGKILL).

import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { AppEvent, ExitEvent, TcpmitmEvent } from '../engine/events.js';
import type { Endpoint } from '../tcp/state.js';
import type { SignalDelivery } from '../engine/cues.js';
import { shellSignal } from '../rules/expect.js';
import { dispositionIn, effectOf, readStatus, stoppedOrGone } from './signal-effect.js';

export interface ProgramSpec {
  readonly endpoint: Endpoint;
  /** "built-in client", or the command as the user gave it. */
  readonly label: string;
  /** A shell command (`sh -c TEXT`), or the argv of a built-in peer. */
  readonly run: { readonly shell: string } | { readonly argv: readonly string[] };
  /** More environment for it (the lab tells a command where its server is). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface ProgramHost {
  /** Starts argv where this end lives (the lab: its namespace); `options.env` and `options.detached` are set by the caller. */
  spawn(argv: readonly string[], options: SpawnOptions): ChildProcess;
  emit(ev: TcpmitmEvent): void;
  /** The run's clock, seconds. */
  elapsed(): number;
  /**
   * Reads a line a built-in peer prints about its socket (the lab's peers);
   * undefined for any other line, which becomes an `output` event.
   */
  parseLine?(line: string): { readonly event: string; readonly detail?: string } | undefined;
}

/** How long after SIGTERM a program stopped by tcpmitm gets before SIGKILL. */
export const STOP_GRACE_MS = 1000;
/** How long after a program's exit its output pipes may stay open (a daemon it left holds them) before we stop reading. */
const DRAIN_MS = 500;

/**
 * What makes a peer's output reach the log line by line, whatever it is:
 * Python block-buffers stdout into a pipe unless PYTHONUNBUFFERED is set, and
 * C stdio (socat, nc, curl's -w output) unless stdbuf(1) line-buffers it; both
 * are inherited by everything the shell starts. Programs with buffering of
 * their own (Perl's $|, Ruby's sync, Java) need their own flag.
 */
function lineBuffered(argv: readonly string[], more: Readonly<Record<string, string>> = {}): { argv: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', ...more };
  const stdbuf = onPath('stdbuf');
  return { argv: stdbuf ? [stdbuf, '-oL', '-eL', ...argv] : [...argv], env };
}

/** The executable `cmd` names on PATH, if any. */
export function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(dir, cmd);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

function signalName(sig: NodeJS.Signals | null): string | undefined {
  return sig ? sig.replace(/^SIG/, '') : undefined;
}

export class Program {
  /** Resolves once it has ended and its output is read (bounded). */
  readonly exited: Promise<ExitEvent>;
  /** Its last stderr lines, for error messages. */
  readonly stderrTail: string[] = [];
  private readonly child: ChildProcess;
  private stopping = false;
  private ended = false;
  /** The last signal a profile rule sent it (signalOnCue): an end by that signal is the rule's doing. */
  private cue: { readonly name: string; readonly rule?: number } | undefined;
  /** Resolves at the process's exit itself, before its output is drained. */
  private readonly gone: Promise<{ code: number | null; signal: string | undefined }>;

  constructor(
    readonly spec: ProgramSpec,
    private readonly host: ProgramHost,
  ) {
    const shell = 'shell' in spec.run;
    const { argv, env } = lineBuffered('shell' in spec.run ? ['sh', '-c', spec.run.shell] : spec.run.argv, spec.env);
    // Its own process group, so that stopping it reaches what `sh -c` (or a
    // pyenv shim) forked.
    this.child = host.spawn(argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
    const app = (event: string, detail?: string): AppEvent => ({ type: 'app', t: host.elapsed(), endpoint: spec.endpoint, event, ...(detail !== undefined ? { detail } : {}) });
    const out = createInterface({ input: this.child.stdout! });
    out.on('line', (line) => {
      const p = host.parseLine?.(line);
      // A built-in peer's own last line ("exit") says what its exit event says.
      if (p?.event === 'exit') return;
      host.emit(p ? app(p.event, p.detail) : app('output', line));
    });
    const err = createInterface({ input: this.child.stderr! });
    err.on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 10) this.stderrTail.shift();
      host.emit(app('stderr', line));
    });
    const outputRead = Promise.all([new Promise<void>((r) => out.once('close', r)), new Promise<void>((r) => err.once('close', r))]);

    this.gone = new Promise((resolve) => this.child.once('exit', (code, sig) => resolve({ code, signal: signalName(sig) })));
    this.exited = new Promise<ExitEvent>((resolve) => {
      const finish = (code: number | null, sig: NodeJS.Signals | null, spawnError?: string): void => {
        if (this.ended) return;
        this.ended = true;
        const t = host.elapsed();
        // A daemon it started may hold the pipes for ever: read what is there, briefly.
        const drained = Promise.race([outputRead, new Promise<void>((r) => setTimeout(r, DRAIN_MS).unref())]);
        void drained.then(() => {
          for (const s of [this.child.stdout, this.child.stderr]) s?.destroy();
          // 126/127: the shell could not run the command (POSIX: not executable / not found).
          const notStarted =
            spawnError ?? (shell && (code === 126 || code === 127) && !this.stopping ? (this.stderrTail.join('\n').trim() || `the shell exited ${code}`) : undefined);
          // Ended by the signal a rule sent (a shell says 128+n for a command it killed).
          const cue = this.cue !== undefined && !this.stopping && (signalName(sig) ?? shellSignal(code ?? undefined)) === this.cue.name ? this.cue : undefined;
          const ev: ExitEvent = {
            type: 'exit',
            t,
            endpoint: spec.endpoint,
            command: spec.label,
            ...(code !== null ? { code } : {}),
            ...(sig !== null ? { signal: signalName(sig)! } : {}),
            by: this.stopping ? 'tcpmitm' : cue ? 'cue' : 'self',
            ...(cue?.rule !== undefined ? { rule: cue.rule } : {}),
            ...(notStarted !== undefined ? { notStarted } : {}),
          };
          host.emit(ev);
          resolve(ev);
        });
      };
      this.child.on('exit', (code, sig) => finish(code, sig));
      this.child.on('error', (e) => finish(127, null, e.message));
    });
  }

  get running(): boolean {
    return !this.ended;
  }

  /**
   * Stops it and everything it started (its process group): SIGTERM, then
   * SIGKILL after `graceMs`. Its exit then says it was stopped by tcpmitm.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<ExitEvent> {
    if (this.ended) return this.exited;
    this.stopping = true;
    this.signalGroup('SIGTERM');
    // A program a rule stopped (SIGSTOP) must be able to act on SIGTERM.
    if (this.cue !== undefined) this.signalGroup('SIGCONT');
    const timer = setTimeout(() => this.signalGroup('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A profile rule's signal: sent to the whole group (a `sh -c` command and
   * what it started), at once. Says what to wait for — the process's exit
   * when the signal's default action ends it and the process neither catches
   * nor ignores it, its stop, or nothing — and `effect` reports it.
   */
  signalOnCue(name: string, rule: number | undefined): SignalDelivery {
    const pid = this.child.pid;
    if (pid === undefined || this.ended) return { sent: false, reason: `it has ended already` };
    const disposition = dispositionIn(readStatus(pid) ?? '', name);
    try {
      process.kill(-pid, `SIG${name}` as NodeJS.Signals);
    } catch (err) {
      return { sent: false, reason: (err as Error).message };
    }
    this.cue = { name, ...(rule !== undefined ? { rule } : {}) };
    const waits = effectOf(name, disposition);
    const note = disposition === 'caught' ? `it catches SIG${name}` : disposition === 'ignored' ? `it ignores SIG${name}` : undefined;
    return { sent: true, pid, program: this.spec.label, waits, ...(note !== undefined ? { note } : {}) };
  }

  /**
   * Resolves, with words for the log, once a signal sent by signalOnCue has
   * had the effect `waits` says: the process has exited, or is stopped
   * (polled in /proc every 5 ms). Never resolves for `nothing`.
   */
  effect(waits: 'exit' | 'stop' | 'nothing', name: string): Promise<string> {
    const pid = this.child.pid;
    const who = `the ${this.spec.endpoint}'s program (pid ${pid ?? '?'})`;
    if (waits === 'exit') {
      return this.gone.then((g) => `${who} exited (${g.signal !== undefined ? `SIG${g.signal}` : `code ${g.code ?? '?'}`})`);
    }
    if (waits === 'stop' && pid !== undefined) {
      return new Promise((resolve) => {
        const poll = (): void => {
          if (this.ended || stoppedOrGone(pid)) return resolve(this.ended ? `${who} exited` : `${who} is stopped (SIG${name})`);
          setTimeout(poll, 5).unref();
        };
        poll();
      });
    }
    return new Promise(() => undefined);
  }

  /** SIGKILL to the whole group at once (the session is going down hard). */
  kill(): void {
    if (!this.ended) this.stopping = true;
    this.signalGroup('SIGKILL');
  }

  private signalGroup(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // The group is gone already.
    }
  }
}
