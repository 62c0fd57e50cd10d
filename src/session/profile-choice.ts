// The profile a run uses, in every mode, chosen by `--profile NAME|FILE` and
// `--set k=v`: loaded and validated before anything starts (a bad profile
// exits 2), then compiled into a Decider where the engine runs.

import { builtinProfileNames, loadProfileFile } from '../rules/load.js';
import { compileProfile } from '../rules/match.js';
import type { Profile } from '../rules/schema.js';
import type { Decider } from '../engine/plan.js';
import { cueSites, type CueSites } from '../rules/cue-sites.js';

export interface ChosenProfile {
  readonly name: string;
  /** Where it came from, as messages show it ("profiles/drop-last-ack.yaml"). */
  readonly file: string;
  readonly profile: Profile;
  readonly lab?: Profile['lab'];
  readonly expect?: Profile['expect'];
  /** One of tcpmitm's own (profiles/): its expectations describe the built-in peers. */
  readonly builtin: boolean;
  /** Built-in profile names, for the UI's picker. */
  readonly builtins: string[];
  /** Where its signal and time-trigger rules are written (rules/cue-sites.ts), for messages. */
  readonly sites?: CueSites;
}

export async function resolveProfile(nameOrPath: string, set: Readonly<Record<string, string>> = {}): Promise<ChosenProfile> {
  const loaded = loadProfileFile(nameOrPath, set);
  return {
    name: loaded.profile.name,
    file: loaded.file,
    profile: loaded.profile,
    lab: loaded.profile.lab,
    expect: loaded.profile.expect,
    builtin: loaded.builtin,
    builtins: builtinProfileNames(),
    ...withSites(cueSites(loaded.text, loaded.file, loaded.profile)),
  };
}

function withSites(sites: CueSites | undefined): { sites?: CueSites } {
  return sites === undefined ? {} : { sites };
}

export function compileChosen(c: ChosenProfile): Decider {
  return compileProfile(c.profile);
}
