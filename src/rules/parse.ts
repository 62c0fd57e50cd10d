// Turns a profile's text (YAML, or JSON — JSON is YAML) into a validated
// Profile, or an E_PROFILE error listing every problem as
// "file:line:col: path: bad value …; expected …". Pure: text and file name in.

import { isScalar, type Node } from 'yaml';
import { ParamsSchema, ProfileSchema, show, type Profile } from './schema.js';
import { resolveParams, substitute, type ParamValue } from './params.js';
import { SourceError, parseYamlSource, schemaProblems, type SourceProblem } from './yaml-source.js';

export { MAX_FLOW_DEPTH, formatProblem } from './yaml-source.js';
export type ProfileProblem = SourceProblem;

/** A profile that cannot be used: exit 2, never starts a run. */
export class ProfileError extends SourceError {
  constructor(problems: readonly ProfileProblem[]) {
    super('E_PROFILE', problems, 'the profile', 'see docs/profiles.md, or check a file with: tcpmitm profiles check FILE');
    this.name = 'ProfileError';
  }
}

const PARAM_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/;

/**
 * Parses and validates one profile. `file` is only used in messages.
 * `overrides` are `--set` values for the profile's declared params.
 */
export function parseProfile(text: string, file: string, overrides: Readonly<Record<string, string | ParamValue>> = {}): Profile {
  const fail = (problems: ProfileProblem[]): never => {
    throw new ProfileError(problems);
  };
  const src = parseYamlSource(text, file, fail, { kind: 'a profile', empty: 'a profile with name, description, rules and expect' });
  const raw = src.raw;
  const problems: ProfileProblem[] = [];

  // 1. Parameters: validate their declarations, then substitute ${name}.
  let values: Record<string, ParamValue> = {};
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const declared = ParamsSchema.optional().safeParse((raw as Record<string, unknown>)['params']);
    if (!declared.success) fail(schemaProblems(declared.error.issues, src, { at: ['params'] }));
    const resolved = resolveParams(declared.data, overrides);
    for (const p of resolved.problems) problems.push({ file, line: 0, col: 0, path: '', message: p.message });
    values = resolved.values;
  }
  const sub = substitute(raw, values);
  for (const p of sub.problems) problems.push(src.locate({ path: p.path, message: p.message }));
  if (problems.length > 0) fail(problems);

  // 2. The profile itself. A value that came from a parameter says so.
  const parsed = ProfileSchema.safeParse(sub.value);
  if (parsed.success) return parsed.data;
  const fromParam = (n: Node | undefined): string => {
    if (!isScalar(n) || typeof n.value !== 'string') return '';
    const m = PARAM_REF.exec(n.value);
    return m && Object.hasOwn(values, m[1]!) ? ` (from parameter ${m[1]} = ${show(values[m[1]!])})` : '';
  };
  return fail(schemaProblems(parsed.error.issues, src, { note: fromParam }));
}
