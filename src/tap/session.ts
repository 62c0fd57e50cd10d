// One tap run: watch an interface from the side, log both endpoints' states
// as observed, forge RSTs by profile or by key. The profile is checked for
// actions tap mode cannot do before anything is opened.

import { preflight } from '../session/preflight.js';
import { compileChosen, resolveProfile } from '../session/profile-choice.js';
import { ExitCode } from '../cli/errors.js';
import { OutputFailures } from '../session/output-failures.js';
import { RunShell, type RunEnd } from '../session/run-shell.js';
import { checkTapProfile } from './profile.js';
import { TapRuntime } from './runtime.js';
import { Verdict, refuseUnanswerable, wireOnlyAbilities } from '../session/verdict.js';
import { trackerLimits } from '../tcp/tracker.js';
import type { RunChoices } from '../session/run-choices.js';
import { refuseUnsendableSignals } from '../session/cue-check.js';

/** Tap writes no pcapng, and its segment events carry no options. */
export interface TapOptions extends Omit<RunChoices, 'pcap' | 'tcpOptions'> {
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
  const runtime = new TapRuntime({
    iface: o.iface,
    port: o.port,
    decider: compileChosen(profile),
    timeWaitMs: o.timeWaitS * 1000,
    finTimeoutMs: o.finTimeoutS * 1000,
    ...trackerLimits(o.table),
  });
  const title = `tap ${o.iface}${o.port !== undefined ? `:${o.port}` : ''}`;
  const outputs = new OutputFailures();
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
    {
      ui: o.ui,
      segments: o.segments,
      json: o.json,
      outputs,
      durationS: o.durationS,
      profileName: profile.name,
      profileNames: profile.builtins,
      title,
    },
  );
  runtime.bus.emit({ type: 'start', t: runtime.elapsed(), mode: 'tap', profile: profile.name, wall: new Date().toISOString() });
  let end: RunEnd = { reason: 'failed', exitCode: ExitCode.Runtime };
  try {
    await shell.startUi();
    end = await shell.waitForEnd();
  } finally {
    runtime.close();
    end = verdict.conclude(end, runtime.elapsed());
    end = await shell.finish(end);
  }
  return end.exitCode;
}
