// Finds and reads profiles: a bare name is a built-in (profiles/<name>.yaml at
// the package root), anything else is a path to a YAML or JSON file. The only
// module of src/rules that touches the file system; parsing is parse.ts.

import { closeSync, constants as fsConstants, existsSync, fstatSync, openSync, readSync, readdirSync, type Stats } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { parseProfile } from './parse.js';
import type { Profile } from './schema.js';
import type { ParamValue } from './params.js';

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
        `'${nameOrPath}' is neither a built-in profile nor a file; expected one of ${builtinProfileNames().join(', ')}, or a path to a .yaml/.json file`,
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

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a profile file: a regular file of at most PROFILE_MAX_BYTES. Opened
 * with O_NONBLOCK so that a FIFO with no writer does not hang open(2), then
 * judged by fstat on that same fd (no race with a rename), and read at most
 * one byte past the limit (a file growing after fstat cannot make it read more).
 */
function readProfileText(path: string, file: string): string {
  const fail = (why: string, hint?: string): never => {
    throw new TcpmitmError('E_PROFILE', `${file}: ${why}`, ExitCode.Usage, hint);
  };
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (e) {
    return fail(`cannot read: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return fail(`${kindOf(st)}; expected a regular YAML or JSON file`, 'a profile is read from a regular file (not a pipe, device or directory): save it to a file first');
    const tooBig = (size: string): never =>
      fail(`${size}, more than the ${PROFILE_MAX_BYTES} bytes (1 MiB) a profile may have`, 'split it, or use parameters (--set) instead of repeating rules; see docs/profiles.md');
    if (st.size > PROFILE_MAX_BYTES) tooBig(`${st.size} bytes`);
    const buf = Buffer.allocUnsafe(PROFILE_MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > PROFILE_MAX_BYTES) tooBig(`${n} bytes read so far (it grew while being read)`);
    }
    return buf.toString('utf8', 0, n);
  } catch (e) {
    if (e instanceof TcpmitmError) throw e;
    return fail(`cannot read: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** Loads and validates a built-in profile by name, or a profile file by path. Throws E_PROFILE (exit 2). */
export function loadProfileFile(nameOrPath: string, overrides: Readonly<Record<string, string | ParamValue>> = {}): LoadedProfile {
  const r = resolveProfile(nameOrPath);
  const text = readProfileText(r.path, r.file);
  return { profile: parseProfile(text, r.file, overrides), file: r.file, path: r.path, builtin: r.builtin, text };
}

/** The validated profile for `--profile NAME|FILE` with `--set` overrides. */
export function loadProfile(nameOrPath: string, overrides: Readonly<Record<string, string | ParamValue>> = {}): Profile {
  return loadProfileFile(nameOrPath, overrides).profile;
}
