// The lab's two programs: the server (built-in or --server) in the server
// namespace, started first and waited for in LISTEN, then the client (built-in
// or --client) in the client namespace; when the run may end by itself; and
// their stop at the end. Their output and exits are events (session/program.ts).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../engine/engine.js';
import type { ExitEvent, TcpmitmEvent } from '../engine/events.js';
import { parseProcTcp } from '../io/proc-net-tcp.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import type { ChosenProfile } from '../session/profile-choice.js';
import { Program, type ProgramSpec } from '../session/program.js';
import type { Endpoint } from '../tcp/state.js';
import type { InnerConfig } from './inner-config.js';
import { spawnInNetns } from './netns.js';
import { LAB_ADDRESSES } from './topology.js';
import { parsePeerLine } from './peers/format.js';
import type { SignalDelivery, SignalRequest } from '../engine/cues.js';

const BIN = fileURLToPath(new URL('../../bin/tcpmitm.js', import.meta.url));

/** How long the server waits in LISTEN at most before the run gives up on it. */
const LISTEN_TIMEOUT_S = 10;

/** The port the server listens on: the profile's own (its peers need it), else --port. */
export function serverPort(cfg: InnerConfig, profile: ChosenProfile): number {
  return profile.lab?.port ?? cfg.options.port;
}

function serverAddr(cfg: InnerConfig): string {
  return cfg.lab.ipv6 ? LAB_ADDRESSES.server6 : LAB_ADDRESSES.server4;
}

function spec(cfg: InnerConfig, profile: ChosenProfile, endpoint: Endpoint): ProgramSpec {
  const o = cfg.options;
  const own = endpoint === 'server' ? o.server : o.client;
  const port = String(serverPort(cfg, profile));
  // Where the server is, for a command that connects or listens (an exercise's own programs).
  const env = { TCPMITM_SERVER_ADDR: serverAddr(cfg), TCPMITM_SERVER_PORT: port };
  if (own !== undefined) return { endpoint, label: commandLabel(own), run: { shell: own }, env };
  const argv =
    endpoint === 'server'
      ? ['peer', 'server', '--host', serverAddr(cfg), '--port', port, ...(profile.lab?.server ?? ['--send', '1000', '--on-eof', 'delay:300'])]
      : ['peer', 'client', '--connect', `${cfg.lab.ipv6 ? `[${serverAddr(cfg)}]` : serverAddr(cfg)}:${port}`, ...(profile.lab?.client ?? ['--send', '100', '--recv', '1000', '--then', 'close'])];
  return { endpoint, label: `built-in ${endpoint}`, run: { argv: [process.execPath, BIN, ...argv] } };
}

/** A command as logs name it: its first line (a program written out in an exercise spans many). */
function commandLabel(command: string): string {
  const lines = command.trim().split('\n');
  return lines.length > 1 ? `${lines[0]!.trim()} …` : command;
}

export class LabPrograms {
  server?: Program;
  client?: Program;
  /** Resolves with the error when a program cannot start (the shell's 126/127); never otherwise. */
  readonly cannotStart: Promise<TcpmitmError>;
  private failStart!: (err: TcpmitmError) => void;

  constructor(
    private readonly cfg: InnerConfig,
    private readonly profile: ChosenProfile,
    private readonly emit: (ev: TcpmitmEvent) => void,
    private readonly elapsed: () => number,
    /** A signal sent for a rule (signal) has taken effect: the engine's held segment may go on. */
    private readonly settled: (id: number, what: string) => void = () => undefined,
  ) {
    this.cannotStart = new Promise((resolve) => (this.failStart = resolve));
  }

  /** Starts the server, waits until its port is in LISTEN, then starts the client. Throws when the server never listens. */
  async start(): Promise<void> {
    const server = (this.server = this.launch('server'));
    await this.waitForListen(server, serverPort(this.cfg, this.profile));
    this.client = this.launch('client');
  }

  /**
   * The run's own end (`--until-closed`, and the default without a UI or a
   * duration): the client has exited, every connection is CLOSED or
   * TIME-WAIT on both ends (or never reached a listener) with nothing held at
   * tcpmitm, and the server has had `serverGraceMs` to finish by itself (a
   * server that writes after EOF to see EPIPE, a built-in one exiting after
   * its connections). A server still running then is stopped by the caller.
   */
  async untilClosed(engine: Engine, serverGraceMs: number, signal: AbortSignal): Promise<string> {
    if (this.client) await this.client.exited;
    while (!signal.aborted && !allClosed(engine)) await sleep(20, signal);
    if (signal.aborted) return 'stopped';
    // Let the kernel probe (5 ms period) see the final states too.
    await sleep(150, signal);
    if (this.server?.running) await Promise.race([this.server.exited, sleep(serverGraceMs, signal)]);
    return 'all connections closed';
  }

  /**
   * A profile rule's signal to one end's program (the engine's request):
   * sent now; its effect (the process gone, or stopped) reported through
   * `settled` when it comes.
   */
  signal(req: SignalRequest): SignalDelivery {
    const p = req.to === 'server' ? this.server : this.client;
    if (p === undefined) return { sent: false, reason: `the ${req.to}'s program has not started yet` };
    const d = p.signalOnCue(req.name, req.rule);
    if (d.sent && d.waits !== 'nothing') void p.effect(d.waits, req.name).then((what) => this.settled(req.id, what));
    return d;
  }

  /** Stops whatever still runs (SIGTERM, then SIGKILL) and waits for their exits to be reported. */
  async stop(): Promise<void> {
    await Promise.all([this.client?.stop(), this.server?.stop()]);
  }

  private launch(endpoint: Endpoint): Program {
    const ns = endpoint === 'client' ? this.cfg.lab.namespaces.client : this.cfg.lab.namespaces.server;
    const p = new Program(spec(this.cfg, this.profile, endpoint), {
      spawn: (argv, options) => spawnInNetns(ns, argv, options),
      emit: this.emit,
      elapsed: this.elapsed,
      parseLine: parsePeerLine,
    });
    void p.exited.then((ev) => {
      if (ev.notStarted !== undefined) this.failStart(startError(ev));
    });
    return p;
  }

  /** Polls the server namespace's socket table (no process per poll) until `port` is in LISTEN. */
  private async waitForListen(server: Program, port: number): Promise<void> {
    const pid = this.cfg.lab.holderPids.server;
    let exited: TcpmitmError | undefined;
    void server.exited.then((ev) => {
      const tail = server.stderrTail.join('\n  ');
      exited =
        ev.notStarted !== undefined
          ? startError(ev)
          : new TcpmitmError('E_SERVER_EXITED', `the server exited with ${ev.signal ? `signal ${ev.signal}` : `code ${ev.code}`} before listening on port ${port}${tail ? `:\n  ${tail}` : ''}`, ExitCode.Runtime);
    });
    const deadline = this.elapsed() + LISTEN_TIMEOUT_S;
    while (this.elapsed() < deadline) {
      for (const file of ['tcp', 'tcp6']) {
        let text = '';
        try {
          text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
        } catch {
          continue;
        }
        if (parseProcTcp(text).some((r) => r.state === 'LISTEN' && r.local.endsWith(`:${port}`))) return;
      }
      if (exited) throw exited;
      await sleep(10);
    }
    throw new TcpmitmError('E_SERVER_NO_LISTEN', `the server did not listen on port ${port} within ${LISTEN_TIMEOUT_S} s (is --port right?)`, ExitCode.Runtime);
  }
}

/** E_PEER_START (exit 2): a command the shell could not run is the user's to fix, not a run that failed. */
function startError(ev: ExitEvent): TcpmitmError {
  return new TcpmitmError(
    'E_PEER_START',
    `the ${ev.endpoint} command could not start (exit ${ev.code ?? '?'}): ${ev.notStarted ?? ''}`,
    ExitCode.Usage,
    `--${ev.endpoint} runs as \`sh -c '<command>'\` in the ${ev.endpoint} namespace: check the program's name and that it is installed`,
  );
}

/**
 * Every connection over on both ends, nothing held at tcpmitm. LISTEN counts
 * as over: a server end that never left its listener (a SYN refused, or never
 * answered) has no socket of its own.
 */
function allClosed(engine: Engine): boolean {
  if (engine.pendingCount() > 0) return false;
  const over = (s: string): boolean => s === 'CLOSED' || s === 'TIME-WAIT' || s === 'LISTEN';
  for (const c of engine.connections()) if (!over(c.clientEnd.state) || !over(c.serverEnd.state)) return false;
  return true;
}

/** Resolves after `ms`; never resolves once `signal` aborts (and holds no timer then). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return;
    const onAbort = (): void => clearTimeout(timer);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
