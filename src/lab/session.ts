// One lab run, inside the middle namespace: the inline bridge over m0/m1, the
// kernel probe, the peers in the end namespaces, the expectations, and the
// lab's own end (everything closed); logs, UI and signals are the RunShell's.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { Runtime } from '../engine/runtime.js';
import { openPacketPort } from '../io/packet-port.js';
import { RunShell, type RunEnd } from '../session/run-shell.js';
import { PcapngWriter } from '../io/pcapng-writer.js';
import type { TcpmitmEvent, AppEvent } from '../engine/events.js';
import type { Endpoint } from '../tcp/state.js';
import { spawnInNetns } from './netns.js';
import { parsePeerLine } from './peers/format.js';
import { parseProcTcp } from '../io/proc-net-tcp.js';
import { startKernelView } from '../session/kernel-view.js';
import type { InnerConfig } from './inner-config.js';
import { compileChosen, type ChosenProfile } from '../session/profile-choice.js';
import { resolveLabProfile } from './peer-args.js';
import { ExitCode, TcpmitmError, formatError } from '../cli/errors.js';
import { LAB_ADDRESSES } from './topology.js';
import { checkExpectations } from '../session/expectations.js';

/** Events kept for the expectation check at the end of a run. */
const MAX_RECORDED = 200_000;

const BIN = fileURLToPath(new URL('../../bin/tcpmitm.js', import.meta.url));

export async function runSession(cfg: InnerConfig): Promise<number> {
  const opts = cfg.options;
  const profile: ChosenProfile = cfg.profile;
  const pcap = opts.pcap ? new PcapngWriter({ path: opts.pcap, names: { a: 'm0', b: 'm1' } }) : undefined;
  const runtime = new Runtime({
    tap: pcap,
    openA: (cb, onError) => openPacketPort('m0', cb, onError),
    openB: (cb, onError) => openPacketPort('m1', cb, onError),
    decider: compileChosen(profile),
    timeWaitMs: opts.timeWaitS * 1000,
    finTimeoutMs: opts.finTimeoutS * 1000,
    interactive: opts.ui,
  });
  const bus = runtime.bus;
  if (pcap) bus.subscribe('pcap', pcap.onEvent, { passSegments: false });
  const recorded: TcpmitmEvent[] = [];
  bus.subscribe('recorder', (ev) => {
    // Expectations need state, app and rule events; a long or busy run must
    // not grow without bound, so recording stops at a generous cap.
    if (recorded.length >= MAX_RECORDED) {
      if (recorded.length === MAX_RECORDED) {
        recorded.push({ type: 'warning', t: ev.t, message: `more than ${MAX_RECORDED} events: expectations are checked on the first ${MAX_RECORDED}` });
        bus.emit(recorded.at(-1)!);
      }
      return;
    }
    if (ev.type !== 'segment' && ev.type !== 'stats') recorded.push(ev);
    else if (ev.type === 'segment' && ev.rule !== undefined) recorded.push(ev);
  }, { passSegments: false });
  const durationS = opts.durationS ?? profile.lab?.duration;
  const shell = openShell(runtime, pcap, () => new RunShell(
    {
      bus,
      elapsed: () => runtime.elapsed(),
      control: (cmd) => runtime.control(cmd),
      setProfile: async (name) => runtime.setDecider(compileChosen(await resolveLabProfile(name))),
      stats: () => runtime.engine.stats,
    },
    {
      ui: opts.ui,
      segments: opts.segments,
      json: opts.json,
      durationS,
      profileName: profile.name,
      profileNames: profile.builtins,
      title: cfg.lab.id,
    },
  ));

  // The kernel's own view beside the inference (nothing to compare without a probe).
  const kernel =
    opts.kernelProbe === 'off'
      ? undefined
      : await startKernelView({ source: opts.kernelProbe, labId: cfg.lab.id, pids: cfg.lab.holderPids, bus, runtime });

  bus.emit({
    type: 'start',
    t: runtime.elapsed(),
    mode: 'lab',
    lab: cfg.lab.id,
    profile: profile.name,
    wall: new Date().toISOString(),
  });
  await shell.startUi();

  const peers: { endpoint: Endpoint; child: ChildProcess; exited: Promise<number> }[] = [];
  let end: RunEnd = { reason: 'stopped', exitCode: ExitCode.Ok };
  let failure: TcpmitmError | undefined;
  // The run's own end (everything closed) is cancelled when another comes first.
  const stopWaiting = new AbortController();
  try {
    if (opts.peers) {
      const server = startPeer(cfg, 'server', serverArgv(cfg, profile), bus.emit, runtime);
      peers.push(server);
      await waitForListen(cfg, serverPort(cfg, profile), server, runtime);
      peers.push(startPeer(cfg, 'client', clientArgv(cfg, profile), bus.emit, runtime));
    }
    const extra: Promise<string>[] = [];
    // Without a UI, a run with peers ends once everything has closed.
    if (opts.untilClosed || (opts.peers && !opts.ui && durationS === undefined)) {
      // A --server command is usually a daemon (python3 -m http.server, nginx)
      // that never exits by itself: the run waits for the client and for the
      // built-in server (which exits after its connections), not for it.
      extra.push(untilClosed(runtime, peers.filter((p) => p.endpoint === 'client' || opts.server === undefined), stopWaiting.signal));
    }
    end = await shell.waitForEnd(extra);
  } catch (err) {
    if (!(err instanceof TcpmitmError)) throw err;
    bus.emit({ type: 'warning', t: runtime.elapsed(), message: err.message });
    end = { reason: err.message, exitCode: err.exitCode };
    failure = err;
  } finally {
    stopWaiting.abort();
    for (const p of peers) stopPeer(p.child);
    await kernel?.stop();
    const pending = runtime.engine.pendingSummary();
    if (pending) bus.emit({ type: 'warning', t: runtime.elapsed(), message: pending });
  }

  // Expectations decide the exit code of a run that ended by itself. A profile's
  // expectations describe the built-in peers: with --server/--client commands
  // they apply only to a profile the user named. After `q` in the UI they are
  // shown, but the person chose when to stop, so they do not fail the run.
  const peersAreOurs = opts.server === undefined && opts.client === undefined;
  if (end.exitCode === ExitCode.Ok && profile.expect && opts.peers && (peersAreOurs || opts.profile !== undefined)) {
    const { results, report } = checkExpectations(profile, recorded, runtime.elapsed(), kernel !== undefined);
    for (const r of results) bus.emit(r);
    if (results.some((r) => !r.ok) && end.reason !== 'quit') end = { reason: end.reason, exitCode: ExitCode.Expectations };
    // The report goes to stderr so it never mixes with --json - on stdout.
    if (!opts.ui) process.stderr.write(report + '\n');
  }
  // Capture ends before the last counts, so they match the pcapng exactly.
  runtime.close();
  await shell.finish(end);
  pcap?.close();
  // A failed start (server exited, never listened) is an error of the command:
  // it belongs on stderr as well as in the log, which may be a file, stdout
  // redirected, or a UI that is gone now. Not twice when the log is on stderr.
  if (failure && opts.json !== '-') process.stderr.write(formatError(failure) + '\n');
  return end.exitCode;
}

/** Resolves after `ms`; never resolves once `signal` aborts (and holds no timer then). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return;
    const onAbort = () => clearTimeout(timer);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Builds the run's shell; if that fails (e.g. --json cannot be written), the capture is closed so the process can end. */
function openShell(runtime: Runtime, pcap: PcapngWriter | undefined, make: () => RunShell): RunShell {
  try {
    return make();
  } catch (err) {
    runtime.close();
    pcap?.close();
    throw err;
  }
}

/** The port the server listens on: the profile's own (its peers need it), else --port. */
function serverPort(cfg: InnerConfig, profile: ChosenProfile): number {
  return profile.lab?.port ?? cfg.options.port;
}

function serverAddr(cfg: InnerConfig): string {
  return cfg.lab.ipv6 ? LAB_ADDRESSES.server6 : LAB_ADDRESSES.server4;
}

function serverArgv(cfg: InnerConfig, profile: ChosenProfile): string[] {
  const o = cfg.options;
  if (o.server) return ['sh', '-c', o.server];
  const extra = profile.lab?.server ?? ['--send', '1000', '--on-eof', 'delay:300'];
  return [process.execPath, BIN, 'peer', 'server', '--host', serverAddr(cfg), '--port', String(serverPort(cfg, profile)), ...extra];
}

function clientArgv(cfg: InnerConfig, profile: ChosenProfile): string[] {
  const o = cfg.options;
  if (o.client) return ['sh', '-c', o.client];
  const host = cfg.lab.ipv6 ? `[${serverAddr(cfg)}]` : serverAddr(cfg);
  const extra = profile.lab?.client ?? ['--send', '100', '--recv', '1000', '--then', 'close'];
  return [process.execPath, BIN, 'peer', 'client', '--connect', `${host}:${serverPort(cfg, profile)}`, ...extra];
}

/** Starts a peer in its end namespace; each line it prints becomes an application event. */
function startPeer(
  cfg: InnerConfig,
  endpoint: Endpoint,
  argv: string[],
  emit: (ev: TcpmitmEvent) => void,
  runtime: Runtime,
): { endpoint: Endpoint; child: ChildProcess; exited: Promise<number>; stderrTail: string[] } {
  const ns = endpoint === 'client' ? cfg.lab.namespaces.client : cfg.lab.namespaces.server;
  // Its own process group, so that stopping it reaches what `sh -c` (or a
  // pyenv shim) forked; see stopPeer.
  const child = spawnInNetns(ns, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stderrTail: string[] = [];
  const app = (event: string, detail?: string): AppEvent => ({ type: 'app', t: runtime.elapsed(), endpoint, event, ...(detail !== undefined ? { detail } : {}) });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const p = parsePeerLine(line);
    emit(p ? app(p.event, p.detail) : app('output', line));
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 10) stderrTail.shift();
    emit(app('stderr', line));
  });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1)));
    child.on('error', (err) => {
      emit(app('error', err.message));
      resolve(127);
    });
  });
  return { endpoint, child, exited, stderrTail };
}

/**
 * Ends a peer and everything it started. Killing only the direct child left
 * e.g. `python3 -m http.server` (forked by `sh -c` or a pyenv shim) running,
 * holding our stdout/stderr pipes open, so the session never exited and the
 * supervisor waited forever. The pipes are also unref'd (not destroyed: lines
 * still in them are read while the session finishes) for a process that left
 * the group (a daemon that called setsid); the lab's removal kills it later.
 */
function stopPeer(child: ChildProcess): void {
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }
  for (const s of [child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  child.unref();
}

/** The client starts only once the server's port is in LISTEN (read from the server namespace's socket table). */
async function waitForListen(
  cfg: InnerConfig,
  port: number,
  server: { child: ChildProcess; exited: Promise<number>; stderrTail?: string[] },
  runtime: Runtime,
): Promise<void> {
  const pid = cfg.lab.holderPids.server;
  let exitCode: number | undefined;
  void server.exited.then((c) => (exitCode = c));
  const deadline = runtime.elapsed() + 10;
  while (runtime.elapsed() < deadline) {
    for (const file of ['tcp', 'tcp6']) {
      let text = '';
      try {
        text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
      } catch {
        continue;
      }
      if (parseProcTcp(text).some((r) => r.state === 'LISTEN' && r.local.endsWith(`:${port}`))) return;
    }
    if (exitCode !== undefined) {
      const tail = (server as { stderrTail?: string[] }).stderrTail?.join('\n  ') ?? '';
      throw new TcpmitmError('E_SERVER_EXITED', `the server exited with code ${exitCode} before listening on port ${port}${tail ? `:\n  ${tail}` : ''}`, ExitCode.Runtime);
    }
    await sleep(10);
  }
  throw new TcpmitmError('E_SERVER_NO_LISTEN', `the server did not listen on port ${port} within 10 s (is --port right?)`, ExitCode.Runtime);
}

/** Resolves once every given peer has exited and every connection is CLOSED or TIME-WAIT on both ends, with nothing held. */
async function untilClosed(runtime: Runtime, peers: { exited: Promise<number> }[], signal: AbortSignal): Promise<string> {
  await Promise.all(peers.map((p) => p.exited));
  while (!signal.aborted) {
    let open = runtime.engine.pendingCount() > 0;
    for (const c of runtime.engine.connections()) {
      const done = (s: string) => s === 'CLOSED' || s === 'TIME-WAIT';
      if (!done(c.clientEnd.state) || !done(c.serverEnd.state)) open = true;
    }
    if (!open) {
      // Let the kernel probe (5 ms period) see the final states too.
      await sleep(150, signal);
      return 'all connections closed';
    }
    await sleep(20, signal);
  }
  return 'stopped';
}
