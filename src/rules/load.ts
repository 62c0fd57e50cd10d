// Finds and reads profiles: a bare name is a built-in (profiles/<name>.yaml at
// the package root), anything else is a path to a YAML or JSON file. The only
// module of src/rules that touches the file system; parsing is parse.ts.

import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { parseProfile } from './parse.js';
import { readRegularFile, type RegularFileLimits } from '../io/regular-file.js';
import type { Profile } from './schema.js';
import type { ParamValue } from './params.js';
import { didYouMean } from './nearest.js';

/** profiles/ at the package root: this file runs as src/rules/load.ts (tests) or dist/rules/load.js, both two levels down. */
export function profilesDir(): string {
  return fileURLToPath(new URL('../../profiles/', import.meta.url));
}

const BUILTIN_NAME = /^[a-z0-9][a-z0-9-]*$/;

export function builtinProfileNames(): string[] {
  return readdirSync(profilesDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

export interface LoadedProfile {
  readonly profile: Profile;
  /** The file it came from, as shown in messages ("profiles/passthrough.yaml" for built-ins). */
  readonly file: string;
  readonly path: string;
  readonly builtin: boolean;
  /** The file's text, comments included (for `profiles show`). */
  readonly text: string;
}

/** Where a name or path leads, without reading it. */
export function resolveProfile(nameOrPath: string): { path: string; file: string; builtin: boolean } {
  if (BUILTIN_NAME.test(nameOrPath)) {
    const path = join(profilesDir(), `${nameOrPath}.yaml`);
    if (existsSync(path)) return { path, file: `profiles/${nameOrPath}.yaml`, builtin: true };
    if (!existsSync(nameOrPath)) {
      throw new TcpmitmError(
        'E_PROFILE',
        `'${nameOrPath}' is neither a built-in profile nor a file${didYouMean(nameOrPath, builtinProfileNames())}; expected one of ${builtinProfileNames().join(', ')}, or a path to a .yaml/.json file`,
        ExitCode.Usage,
        'tcpmitm profiles list shows the built-in profiles',
      );
    }
  }
  if (!existsSync(nameOrPath)) {
    throw new TcpmitmError('E_PROFILE', `${nameOrPath}: no such file; expected a built-in profile name or a path to a .yaml/.json file`, ExitCode.Usage);
  }
  const rel = relative(process.cwd(), nameOrPath);
  return { path: nameOrPath, file: rel.startsWith('..') || rel === '' ? nameOrPath : rel, builtin: false };
}

/**
 * The largest profile file read (docs/profiles.md, `profiles --help`): some
 * 11 000 rules fit, and the YAML parser's time and memory stay bounded (a
 * 1 MiB profile of rules: 3.5 s and 190 MB RSS on a loaded 2-core machine).
 */
export const PROFILE_MAX_BYTES = 1024 * 1024;

/** What a profile file may be: a regular file of at most PROFILE_MAX_BYTES. */
const PROFILE_FILE: RegularFileLimits = {
  code: 'E_PROFILE',
  maxBytes: PROFILE_MAX_BYTES,
  what: 'a profile',
  expected: 'a regular YAML or JSON file',
  tooBigHint: 'split it, or use parameters (--set) instead of repeating rules; see docs/profiles.md',
  notRegularHint: 'a profile is read from a regular file (not a pipe, device or directory): save it to a file first',
};

/** Loads and validates a built-in profile by name, or a profile file by path. Throws E_PROFILE (exit 2). */
export function loadProfileFile(nameOrPath: string, overrides: Readonly<Record<string, string | ParamValue>> = {}): LoadedProfile {
  const r = resolveProfile(nameOrPath);
  const text = readRegularFile(r.path, r.file, PROFILE_FILE);
  return { profile: parseProfile(text, r.file, overrides), file: r.file, path: r.path, builtin: r.builtin, text };
}

/** The validated profile for `--profile NAME|FILE` with `--set` overrides. */
export function loadProfile(nameOrPath: string, overrides: Readonly<Record<string, string | ParamValue>> = {}): Profile {
  return loadProfileFile(nameOrPath, overrides).profile;
}
