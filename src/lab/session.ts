// One lab run, inside the middle namespace: the inline bridge over m0/m1, the
// kernel's view, the programs in the end namespaces and the run's own end
// (everything closed); logs, UI and signals are the RunShell's, the exit code
// the Verdict's.

import { Runtime } from '../engine/runtime.js';
import { inferenceSettings, sysctlsFromRecord } from '../rules/sysctls.js';
import { openPacketPort } from '../io/packet-port.js';
import { RunShell, shellOptions, type RunEnd } from '../session/run-shell.js';
import { PcapngWriter } from '../io/pcapng-writer.js';
import { startKernelView } from '../session/kernel-view.js';
import { Verdict } from '../session/verdict.js';
import { labAbilities } from './abilities.js';
import type { InnerConfig } from './inner-config.js';
import { compileChosen, type ChosenProfile } from '../session/profile-choice.js';
import { resolveLabProfile } from './peer-args.js';
import { LabPrograms } from './lab-programs.js';
import { ExitCode, TcpmitmError, formatError } from '../cli/errors.js';
import { OutputFailures } from '../session/output-failures.js';
import { trackerLimits } from '../tcp/tracker.js';

/** `ends`: more ways the run may end (the supervisor's death, from inner-main), raced with the shell's own. */
export async function runSession(cfg: InnerConfig, ends: readonly Promise<RunEnd>[] = []): Promise<number> {
  const opts = cfg.options;
  const profile: ChosenProfile = cfg.profile;
  const outputs = new OutputFailures();
  const pcap = opts.pcap ? new PcapngWriter({ path: opts.pcap, names: { a: 'm0', b: 'm1' }, onFailure: outputs.failed }) : undefined;
  // The inference assumes what the lab set in each end's kernel (sysctls.ts).
  const inference = inferenceSettings(sysctlsFromRecord(cfg.lab.sysctls), { finTimeoutMs: opts.finTimeoutS * 1000 });
  const runtime = new Runtime({
    tap: pcap,
    openA: (cb, onError) => openPacketPort('m0', cb, onError),
    openB: (cb, onError) => openPacketPort('m1', cb, onError),
    devs: { a: 'm0', b: 'm1' },
    decider: compileChosen(profile),
    timeWaitMs: opts.timeWaitS * 1000,
    ...inference,
    ...trackerLimits(opts.table),
    interactive: opts.ui,
    segmentOptions: opts.tcpOptions,
  });
  const bus = runtime.bus;
  const elapsed = (): number => runtime.elapsed();
  if (pcap) bus.subscribe('pcap', pcap.onEvent, { passSegments: false });
  const verdict = new Verdict({ bus, profile, abilities: labAbilities(opts), report: !opts.ui && opts.hideFault !== true, junit: opts.junit, outputs, title: `lab ${cfg.lab.id}` });
  const durationS = opts.durationS ?? profile.lab?.duration;
  const shell = openShell(runtime, pcap, () => new RunShell(
    {
      bus,
      elapsed,
      control: (cmd) => runtime.control(cmd),
      setProfile: async (name) => runtime.setDecider(compileChosen(await resolveLabProfile(name))),
      stats: () => runtime.stats(),
    },
    shellOptions(opts, { outputs, profile, title: cfg.lab.id, mode: 'lab', durationS, finTimeoutMs: inference.finTimeoutMs, blind: opts.hideFault === true }),
  ));

  // The UI loads (seconds on a busy machine) while the kernel view starts;
  // the run starts once its first frame is up, so its clock reads 0 there
  // and the programs' first SYN is drawn, not missed.
  const uiUp = shell.startUi();
  // The kernel's own view beside the inference (nothing to compare without a probe).
  const kernel =
    opts.kernelProbe === 'off'
      ? undefined
      : await startKernelView({ source: opts.kernelProbe, labId: cfg.lab.id, pids: cfg.lab.holderPids, bus, runtime });
  await uiUp;
  // The UI's timers line: the kernel's own, read in the end namespaces.
  if (kernel !== undefined) void shell.showKernelTimers(cfg.lab.holderPids);

  bus.emit({
    type: 'start',
    t: elapsed(),
    mode: 'lab',
    lab: cfg.lab.id,
    profile: profile.name,
    ...(Object.keys(cfg.lab.sysctls.client).length + Object.keys(cfg.lab.sysctls.server).length > 0 ? { sysctls: cfg.lab.sysctls } : {}),
    wall: new Date().toISOString(),
  });

  const programs = opts.peers ? new LabPrograms(cfg, profile, bus.emit, elapsed, (id, what) => runtime.signalSettled(id, what)) : undefined;
  // A profile's signal rules reach the programs (refused up front where there are none: session/cue-check.ts).
  if (programs) runtime.setSignalSender((req) => programs.signal(req));
  let end: RunEnd = { reason: 'stopped', exitCode: ExitCode.Ok };
  let failure: TcpmitmError | undefined;
  // The run's own end (everything closed) is cancelled when another comes first.
  const stopWaiting = new AbortController();
  try {
    const extra: Promise<RunEnd | string>[] = [...ends];
    if (programs) {
      await programs.start();
      // A command the shell cannot run ends the run at once, whatever else waits.
      extra.push(programs.cannotStart.then((err) => {
        failure = err;
        return { reason: err.message, exitCode: err.exitCode };
      }));
      // Without a UI or a duration, a run with programs ends once everything has closed.
      if (opts.untilClosed || (!opts.ui && durationS === undefined)) {
        extra.push(programs.untilClosed(runtime.engine, opts.serverGraceS * 1000, stopWaiting.signal));
      }
    }
    end = await shell.waitForEnd(extra);
  } catch (err) {
    if (!(err instanceof TcpmitmError)) throw err;
    end = { reason: err.message, exitCode: err.exitCode };
    failure = err;
  } finally {
    verdict.runEnded(elapsed());
    stopWaiting.abort();
    if (failure) bus.emit({ type: 'warning', t: elapsed(), message: failure.message });
    // The run is over: the kernel view and the capture end before the
    // programs are stopped, so what stopping them causes (a stopped server's
    // FIN) is not reported as part of it. The capture ends before the last
    // counts, so they match the pcapng exactly.
    await kernel?.stop();
    runtime.close();
    const pending = runtime.engine.pendingSummary();
    if (pending) bus.emit({ type: 'warning', t: elapsed(), message: pending });
    // What still runs is stopped (SIGTERM, then SIGKILL) and its exit reported before the verdict.
    await programs?.stop();
  }

  pcap?.close();
  end = verdict.conclude(end, elapsed());
  end = await shell.finish(end);
  // A failed start (server exited, never listened) is an error of the command:
  // it belongs on stderr as well as in the log, which may be a file, stdout
  // redirected, or a UI that is gone now. Not twice when the log is on stderr.
  if (failure && opts.json !== '-' && opts.pcap !== '-') process.stderr.write(formatError(failure) + '\n');
  return end.exitCode;
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
