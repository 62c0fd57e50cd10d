// One tap run: watch an interface from the side, log both endpoints' states
// as observed, forge RSTs by profile or by key. The profile is checked for
// actions tap mode cannot do before anything is opened.

import { preflight } from '../session/preflight.js';
import { compileChosen, resolveProfile } from '../session/profile-choice.js';
import { ExitCode } from '../cli/errors.js';
import { OutputFailures } from '../session/output-failures.js';
import { RunShell, shellOptions, type RunEnd } from '../session/run-shell.js';
import { checkTapProfile } from './profile.js';
import { TapRuntime } from './runtime.js';
import { TapPcapngWriter } from '../io/tap-pcapng-writer.js';
import { Verdict, refuseUnanswerable, wireOnlyAbilities } from '../session/verdict.js';
import { trackerLimits } from '../tcp/tracker.js';
import type { RunChoices } from '../session/run-choices.js';
import { refuseUnsendableSignals } from '../session/cue-check.js';
import { startKernelView, type KernelView } from '../session/kernel-view.js';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export interface TapOptions extends RunChoices {
  readonly iface: string;
  readonly port?: number;
}

export async function runTap(o: TapOptions): Promise<number> {
  preflight({ namespaces: false, capture: 'libpcap' });
  const profile = await resolveProfile(o.profile ?? 'passthrough', o.set);
  const abilities = wireOnlyAbilities('tap', 'tap has no kernel probe', o.profile !== undefined);
  // A signal rule first: its own message names where it is written.
  refuseUnsendableSignals(profile, abilities);
  checkTapProfile(profile.profile, profile.file);
  refuseUnanswerable(profile, abilities);
  const outputs = new OutputFailures();
  const pcapPath = o.pcap;
  const runtime = new TapRuntime({
    iface: o.iface,
    port: o.port,
    decider: compileChosen(profile),
    timeWaitMs: o.timeWaitS * 1000,
    finTimeoutMs: o.finTimeoutS * 1000,
    ...trackerLimits(o.table),
    segmentOptions: o.tcpOptions,
    ...(pcapPath !== undefined ? { pcap: (linkType) => new TapPcapngWriter({ path: pcapPath, iface: o.iface, linkType, onFailure: outputs.failed }) } : {}),
  });
  const title = `tap ${o.iface}${o.port !== undefined ? `:${o.port}` : ''}`;
  const verdict = new Verdict({ bus: runtime.bus, profile, abilities, report: !o.ui, junit: o.junit, outputs, title });
  const shell = new RunShell(
    {
      bus: runtime.bus,
      elapsed: () => runtime.elapsed(),
      control: (cmd) => runtime.control(cmd),
      setProfile: async (name) => {
        const next = await resolveProfile(name);
        checkTapProfile(next.profile, next.file);
        runtime.setDecider(compileChosen(next));
      },
      stats: () => ({ ...runtime.core.stats }),
    },
    shellOptions(o, { outputs, profile, title, mode: 'tap' }),
  );
  let end: RunEnd = { reason: 'failed', exitCode: ExitCode.Runtime };
  let kernel: KernelView | undefined;
  try {
    // The run's clock reads 0 when the UI's first frame is up (run-shell.ts).
    const uiUp = shell.startUi();
    const kernelNote = await startTapKernelView(o, runtime).then(
      (k) => ((kernel = k.view), k.note),
      (err: Error) => `kernel view: none, the probe did not start (${err.message})`,
    );
    await uiUp;
    // On loopback both ends are this namespace's sockets: their kernel timers too.
    if (kernel !== undefined) void shell.showKernelTimers({ client: process.pid, server: process.pid });
    runtime.bus.emit({ type: 'start', t: runtime.elapsed(), mode: 'tap', profile: profile.name, wall: new Date().toISOString() });
    runtime.bus.emit({ type: 'warning', t: runtime.elapsed(), message: kernelNote });
    end = await shell.waitForEnd();
  } finally {
    await kernel?.stop();
    runtime.close();
    end = verdict.conclude(end, runtime.elapsed());
    end = await shell.finish(end);
  }
  return end.exitCode;
}

/**
 * The kernel's own view where both ends are sockets of this host: a tap on
 * the loopback interface sees only such connections, so the probe reads them
 * (/proc/net/tcp, polled: no trace instance to leave behind). Which end is the
 * server comes from --port; without it, or on another interface (whose ends
 * may be on other hosts), there is no kernel view, and the note says why.
 */
async function startTapKernelView(o: TapOptions, runtime: TapRuntime): Promise<{ view: KernelView | undefined; note: string }> {
  if (!isLoopback(o.iface)) return { view: undefined, note: `kernel view: none, ${o.iface} is not the loopback interface (its ends may be on other hosts)` };
  if (o.port === undefined) return { view: undefined, note: 'kernel view: none without --port (which end is the server is told by its port)' };
  const view = await startKernelView({
    source: 'proc',
    labId: `tap${process.pid}`,
    pids: { client: process.pid, server: process.pid },
    ends: { by: 'server-port', port: o.port, localHosts: hostAddresses() },
    bus: runtime.bus,
    runtime,
  });
  return { view, note: `kernel view: this host's sockets on port ${o.port} (/proc/net/tcp, polled), both ends local on ${o.iface}` };
}

/** ARPHRD_LOOPBACK (772) in the interface's sysfs type. */
function isLoopback(iface: string): boolean {
  try {
    return readFileSync(`/sys/class/net/${iface}/type`, 'utf8').trim() === '772';
  } catch {
    return false;
  }
}

/** This namespace's addresses, as the kernel probe compares them. */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, '')));
}
