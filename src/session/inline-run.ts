// One run of an inline mode that takes its frames from two ports and runs no
// programs of its own (attach: two interfaces; intercept: netfilter's queue):
// the engine's runtime over the mode's ports, the pcapng, the verdict and
// the run's shell of outputs and signals. The mode says how its frames
// arrive and leave (openA/openB), and what to put in place once the runtime
// exists and take away at the end (setup/teardown) — intercept's rules.

import { Runtime, type PortOpener } from '../engine/runtime.js';
import { PcapngWriter } from '../io/pcapng-writer.js';
import { compileChosen, resolveProfile, type ChosenProfile } from './profile-choice.js';
import { RunShell, shellOptions, type RunEnd } from './run-shell.js';
import { ExitCode } from '../cli/errors.js';
import { OutputFailures } from './output-failures.js';
import { Verdict, type RunAbilities } from './verdict.js';
import { trackerLimits } from '../tcp/tracker.js';
import type { RunOutputs } from './run-choices.js';
import type { Port } from '../engine/engine.js';

export interface InlineRunOptions extends RunOutputs {
  /** The ends' net.ipv4.tcp_rfc1337, as the inference judges a RST in TIME-WAIT (default 0, Linux's). */
  readonly rfc1337?: boolean;
  readonly mode: 'attach' | 'intercept';
  /** Names the run in the UI header and the JUnit suite ("attach eth1⇄eth2"). */
  readonly title: string;
  readonly profile: ChosenProfile;
  readonly abilities: RunAbilities;
  readonly openA: PortOpener;
  readonly openB: PortOpener;
  /** The sides' names, for messages and the pcapng's interfaces. */
  readonly devs: Readonly<Record<Port, string>>;
  /** Said as warnings once the run has started (what preflight fixed or noticed). */
  readonly notes?: readonly string[];
  /**
   * Called once the runtime listens, before the start event: what must be in
   * place for frames to come (intercept's rules). Returns more notes. A throw
   * ends the run before it starts (teardown still runs).
   */
  readonly setup?: (runtime: Runtime) => readonly string[] | Promise<readonly string[]>;
  /** After setup: a process in each end's namespace when the ends' sockets are local and the kernel view runs (the UI then shows their kernel timers). */
  readonly kernelPids?: () => Readonly<Record<'client' | 'server', number>> | undefined;
  /** Called on every way out, before the runtime closes; returns notes for the log. */
  readonly teardown?: () => readonly string[] | Promise<readonly string[]>;
}

export async function runInline(o: InlineRunOptions): Promise<number> {
  const outputs = new OutputFailures();
  const pcap = o.pcap ? new PcapngWriter({ path: o.pcap, names: o.devs, onFailure: outputs.failed }) : undefined;
  let runtime: Runtime;
  try {
    runtime = new Runtime({
      tap: pcap,
      openA: o.openA,
      openB: o.openB,
      devs: o.devs,
      decider: compileChosen(o.profile),
      timeWaitMs: o.timeWaitS * 1000,
      finTimeoutMs: o.finTimeoutS * 1000,
      ...(o.rfc1337 !== undefined ? { rfc1337: o.rfc1337 } : {}),
      ...trackerLimits(o.table),
      interactive: o.ui,
      segmentOptions: o.tcpOptions,
    });
  } catch (err) {
    pcap?.close();
    throw err;
  }
  let setupNotes: readonly string[];
  try {
    setupNotes = (await o.setup?.(runtime)) ?? [];
  } catch (err) {
    await o.teardown?.();
    runtime.close();
    pcap?.close();
    throw err;
  }
  const bus = runtime.bus;
  if (pcap) bus.subscribe('pcap', pcap.onEvent, { passSegments: false });
  const verdict = new Verdict({ bus, profile: o.profile, abilities: o.abilities, report: !o.ui, junit: o.junit, outputs, title: o.title });
  const shell = new RunShell(
    {
      bus,
      elapsed: () => runtime.elapsed(),
      control: (cmd) => runtime.control(cmd),
      setProfile: async (name) => runtime.setDecider(compileChosen(await resolveProfile(name))),
      stats: () => runtime.stats(),
    },
    shellOptions(o, { outputs, profile: o.profile, title: o.title, mode: o.mode }),
  );
  let end: RunEnd = { reason: 'failed', exitCode: ExitCode.Runtime };
  try {
    // The run's clock reads 0 when the UI's first frame is up (run-shell.ts).
    await shell.startUi();
    const pids = o.kernelPids?.();
    if (pids !== undefined) void shell.showKernelTimers(pids);
    bus.emit({ type: 'start', t: runtime.elapsed(), mode: o.mode, profile: o.profile.name, wall: new Date().toISOString() });
    for (const message of [...(o.notes ?? []), ...setupNotes]) bus.emit({ type: 'warning', t: runtime.elapsed(), message });
    end = await shell.waitForEnd();
  } finally {
    for (const message of (await o.teardown?.()) ?? []) bus.emit({ type: 'warning', t: runtime.elapsed(), message });
    // Close the capture first, so the final stats count every frame the pcapng holds.
    runtime.close();
    const pending = runtime.engine.pendingSummary();
    if (pending) bus.emit({ type: 'warning', t: runtime.elapsed(), message: pending });
    pcap?.close();
    end = verdict.conclude(end, runtime.elapsed());
    end = await shell.finish(end);
  }
  return end.exitCode;
}
