// One attach run: the lab's inline bridge, engine and sinks over two existing
// interfaces of the current network namespace (two NICs between real hosts,
// or veths the user made). No topology, no peers, no kernel probe: the ends
// are not ours to look into, so the verdict checks the inference only. The
// run itself is the inline modes' shared one (session/inline-run.ts).

import { openPacketPort } from '../io/packet-port.js';
import { preflight } from '../session/preflight.js';
import { resolveProfile, type ChosenProfile } from '../session/profile-choice.js';
import { attachPreflight } from './preflight.js';
import { refuseUnanswerable, wireOnlyAbilities } from '../session/verdict.js';
import type { RunChoices } from '../session/run-choices.js';
import { refuseUnsendableSignals } from '../session/cue-check.js';
import { runInline } from '../session/inline-run.js';

export interface AttachOptions extends RunChoices {
  /** The client-side interface (port a) and the server-side one (port b). */
  readonly a: string;
  readonly b: string;
  readonly fixOffloads: boolean;
  readonly force: boolean;
}

export async function runAttach(o: AttachOptions): Promise<number> {
  // Everything that can be refused is checked before anything is opened.
  preflight({ namespaces: false, capture: 'packet-addon' });
  const profile: ChosenProfile = await resolveProfile(o.profile ?? 'passthrough', o.set);
  const abilities = wireOnlyAbilities('attach', "attach has no kernel probe (the ends' sockets are on other hosts)", o.profile !== undefined);
  refuseUnanswerable(profile, abilities);
  refuseUnsendableSignals(profile, abilities);
  const checked = attachPreflight({ devs: [o.a, o.b], fixOffloads: o.fixOffloads, force: o.force });

  return runInline({
    ...o,
    mode: 'attach',
    title: `attach ${o.a}⇄${o.b}`,
    profile,
    abilities,
    openA: (cb, onError) => openPacketPort(o.a, cb, onError),
    openB: (cb, onError) => openPacketPort(o.b, cb, onError),
    devs: { a: o.a, b: o.b },
    notes: [...checked.fixed, ...checked.warnings],
  });
}
