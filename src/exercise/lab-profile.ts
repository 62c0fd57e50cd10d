// The profile an exercise runs its lab with, as every mode's session takes
// one (a ChosenProfile): the built-in profile it names (with the exercise's
// parameters, then the command line's --set) or the one written inside it,
// with the exercise's peers and duration over the profile's, and the
// exercise's checks as the run's expectations. Checked like a lab's profile
// (peer flags) before anything starts.

import { builtinProfileNames, loadProfileFile } from '../rules/load.js';
import { checkPeerArgs } from '../lab/peer-args.js';
import { layerSysctls } from '../rules/sysctls.js';
import type { Profile } from '../rules/schema.js';
import type { ParamValue } from '../rules/params.js';
import type { ChosenProfile } from '../session/profile-choice.js';
import type { LoadedExercise } from './load.js';
import { ExitCode, TcpmitmError, UsageError } from '../cli/errors.js';
import type { TryNext } from './schema.js';
import { isOwnVariant, variantExercise } from './variant.js';

export function exerciseProfile(loaded: LoadedExercise, set: Readonly<Record<string, string>>): ChosenProfile {
  const x = loaded.exercise;
  const lab = x.lab;
  let base: Profile;
  let file: string;
  if (typeof lab.profile === 'string') {
    const overrides: Record<string, string | ParamValue> = { ...(lab.set ?? {}), ...set };
    const p = loadProfileFile(lab.profile, overrides);
    base = p.profile;
    file = p.file;
  } else {
    const keys = Object.keys(set);
    // Nothing to set: a profile written in an exercise has no params (parse.ts refuses them).
    if (keys.length > 0) throw new UsageError(`--set ${keys[0]}=…: ${loaded.file} writes its profile out (lab.profile) and it takes no parameters; expected no --set`);
    base = lab.profile;
    file = `${loaded.file} (lab.profile)`;
  }
  const labSettings: Profile['lab'] = {
    ...base.lab,
    ...(lab.server !== undefined ? { server: lab.server } : {}),
    ...(lab.client !== undefined ? { client: lab.client } : {}),
    ...(lab.duration !== undefined ? { duration: lab.duration } : {}),
    ...(lab.sysctls !== undefined ? { sysctls: layerSysctls(base.lab?.sysctls, lab.sysctls) } : {}),
  };
  const expect = x.checks ?? base.expect;
  const profile: Profile = { ...base, lab: labSettings, ...(expect !== undefined ? { expect } : {}) };
  checkPeerArgs(loaded.file, profile.lab);
  return {
    name: profile.name,
    file,
    profile,
    lab: profile.lab,
    expect: profile.expect,
    // A built-in exercise's checks are written for the built-in peers, as a
    // built-in profile's are; a teacher's own are refused up front when the
    // run could never answer them (session/verdict.ts).
    builtin: loaded.builtin,
    builtins: builtinProfileNames(),
  };
}

/** A variant's parameters as --set gives them (strings). */
export function variantSettings(t: TryNext): Record<string, string> {
  return Object.fromEntries(Object.entries(t.set ?? {}).map(([k, v]) => [k, String(v)]));
}

/**
 * Checks that each try-next variant can run: the exercise it names exists and
 * its profile takes the parameters it sets (E_EXERCISE, exit 2, naming the
 * variant). `exercise check` runs it; `exercise run` only prints the variants.
 */
export function checkTryNext(loaded: LoadedExercise, load: (ref: string) => LoadedExercise): void {
  (loaded.exercise.tryNext ?? []).forEach((t, i) => {
    try {
      // Its own variant runs with its checks (variant.ts); another exercise with that one's.
      const target = isOwnVariant(loaded.exercise, t) ? { ...loaded, exercise: variantExercise(loaded.exercise, i) } : load(t.exercise!);
      exerciseProfile(target, variantSettings(t));
    } catch (e) {
      if (!(e instanceof TcpmitmError)) throw e;
      throw new TcpmitmError('E_EXERCISE', `${loaded.file}: tryNext[${i}] cannot run: ${e.message}`, ExitCode.Usage);
    }
  });
}
