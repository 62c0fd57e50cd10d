// One attach run: the lab's inline bridge, engine and sinks over two existing
// interfaces of the current network namespace (two NICs between real hosts,
// or veths the user made). No topology, no peers, no kernel probe: the ends
// are not ours to look into, so the verdict checks the inference only.

import { Runtime } from '../engine/runtime.js';
import { openPacketPort } from '../io/packet-port.js';
import { PcapngWriter } from '../io/pcapng-writer.js';
import { preflight } from '../session/preflight.js';
import { compileChosen, resolveProfile, type ChosenProfile } from '../session/profile-choice.js';
import { attachPreflight } from './preflight.js';
import { RunShell, type RunEnd } from '../session/run-shell.js';
import { ExitCode } from '../cli/errors.js';
import { OutputFailures } from '../session/output-failures.js';
import { Verdict, refuseUnanswerable, wireOnlyAbilities } from '../session/verdict.js';
import { trackerLimits, type TableLimits } from '../tcp/tracker.js';
import { refuseUnsendableSignals } from '../session/cue-check.js';

export interface AttachOptions {
  /** The client-side interface (port a) and the server-side one (port b). */
  readonly a: string;
  readonly b: string;
  /** A built-in name or a file; undefined: passthrough, not named by the user. */
  readonly profile?: string;
  readonly set: Readonly<Record<string, string>>;
  readonly ui: boolean;
  readonly segments: boolean;
  readonly json?: string;
  readonly junit?: string;
  readonly pcap?: string;
  readonly durationS?: number;
  readonly fixOffloads: boolean;
  readonly force: boolean;
  readonly timeWaitS: number;
  readonly finTimeoutS: number;
  readonly table: TableLimits;
}

export async function runAttach(o: AttachOptions): Promise<number> {
  // Everything that can be refused is checked before anything is opened.
  preflight({ namespaces: false, capture: 'packet-addon' });
  const profile: ChosenProfile = await resolveProfile(o.profile ?? 'passthrough', o.set);
  const abilities = wireOnlyAbilities('attach', "attach has no kernel probe (the ends' sockets are on other hosts)", o.profile !== undefined);
  refuseUnanswerable(profile, abilities);
  refuseUnsendableSignals(profile, abilities);
  const checked = attachPreflight({ devs: [o.a, o.b], fixOffloads: o.fixOffloads, force: o.force });

  const outputs = new OutputFailures();
  const pcap = o.pcap ? new PcapngWriter({ path: o.pcap, names: { a: o.a, b: o.b }, onFailure: outputs.failed }) : undefined;
  let runtime: Runtime;
  try {
    runtime = new Runtime({
      tap: pcap,
      openA: (cb, onError) => openPacketPort(o.a, cb, onError),
      openB: (cb, onError) => openPacketPort(o.b, cb, onError),
      devs: { a: o.a, b: o.b },
      decider: compileChosen(profile),
      timeWaitMs: o.timeWaitS * 1000,
      finTimeoutMs: o.finTimeoutS * 1000,
      ...trackerLimits(o.table),
      interactive: o.ui,
    });
  } catch (err) {
    pcap?.close();
    throw err;
  }
  const bus = runtime.bus;
  if (pcap) bus.subscribe('pcap', pcap.onEvent, { passSegments: false });
  const title = `attach ${o.a}⇄${o.b}`;
  const verdict = new Verdict({ bus, profile, abilities, report: !o.ui, junit: o.junit, outputs, title });
  const shell = new RunShell(
    {
      bus,
      elapsed: () => runtime.elapsed(),
      control: (cmd) => runtime.control(cmd),
      setProfile: async (name) => runtime.setDecider(compileChosen(await resolveProfile(name))),
      stats: () => runtime.stats(),
    },
    {
      ui: o.ui,
      segments: o.segments,
      json: o.json,
      pcapToStdout: o.pcap === '-',
      outputs,
      durationS: o.durationS,
      profileName: profile.name,
      profileNames: profile.builtins,
      title,
    },
  );
  bus.emit({ type: 'start', t: runtime.elapsed(), mode: 'attach', profile: profile.name, wall: new Date().toISOString() });
  for (const message of [...checked.fixed, ...checked.warnings]) bus.emit({ type: 'warning', t: runtime.elapsed(), message });

  let end: RunEnd = { reason: 'failed', exitCode: ExitCode.Runtime };
  try {
    await shell.startUi();
    end = await shell.waitForEnd();
  } finally {
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
