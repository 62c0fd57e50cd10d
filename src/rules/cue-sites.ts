// Where in a profile file its cues are written — the rules with a `signal`
// action or an `at` time trigger — so that a run that cannot carry one out
// names its file:line:col. Only profiles with such rules are read again
// (most have none). Pure: text and file name in.

import { parseYamlSource } from './yaml-source.js';
import type { Profile } from './schema.js';

/** Rule index (0-based) → "file:line:col" of its signal action, or of its `at`. */
export type CueSites = Readonly<Record<number, string>>;

export function hasSignal(r: NonNullable<Profile['rules']>[number]): boolean {
  return typeof r.action === 'object' && 'signal' in r.action;
}

export function cueSites(text: string, file: string, profile: Profile): CueSites | undefined {
  const rules = profile.rules ?? [];
  const wanted = rules.flatMap((r, i) => (hasSignal(r) || r.at !== undefined ? [i] : []));
  if (wanted.length === 0) return undefined;
  const src = parseYamlSource(text, file, () => {
    throw new Error('a profile that parsed once does not parse again');
  }, { kind: 'a profile', empty: 'a profile' });
  const sites: Record<number, string> = {};
  for (const i of wanted) {
    const path = hasSignal(rules[i]!) ? ['rules', i, 'action', 'signal'] : ['rules', i, 'at'];
    const p = src.locate({ path, message: '' });
    sites[i] = `${p.file}:${p.line}:${p.col}`;
  }
  return sites;
}
