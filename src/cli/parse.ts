// Small option parsers shared by the command declarations: each names the bad
// token and what was expected, and exits 2 through commander.

import { InvalidArgumentError } from 'commander';
import { parseSysctlFlag } from '../rules/sysctls.js';
import type { Sysctls } from '../rules/schema.js';
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { checkOutputPath } from '../io/output-file.js';
import { LAB_ID_RULE, isLabId } from '../lab/lab-id.js';

export function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`'${v}' is not a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

export function numberIn(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`'${v}' is not a number from ${min} to ${max}.`);
    }
    return n;
  };
}

export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(values as readonly string[]).includes(v)) {
      throw new InvalidArgumentError(`'${v}' is not one of ${values.join(', ')}.`);
    }
    return v as T;
  };
}

/** Lab ids become namespace names and are kept short and plain. */
export function labId(v: string): string {
  if (!isLabId(v)) {
    throw new InvalidArgumentError(`'${v}' is not a lab id: ${LAB_ID_RULE}.`);
  }
  return v;
}

/** `--sysctl [client:|server:]name=value`, repeatable: the end namespaces' sysctls. */
export function collectSysctl(v: string, acc: Sysctls | undefined): Sysctls {
  const r = parseSysctlFlag(v, acc);
  if (typeof r === 'string') throw new InvalidArgumentError(`${r}.`);
  return r;
}

/** `--set key=value`, repeatable: profile parameter overrides. */
export function collectSetting(v: string, acc: Record<string, string> | undefined): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`'${v}' is not key=value (e.g. --set times=3).`);
  return { ...acc, [v.slice(0, eq)]: v.slice(eq + 1) };
}

/**
 * A file the run will write (--json, --pcap, --junit), checked before anything
 * starts: its folder exists and is writable, and what is at the path may be
 * written (no symbolic link, no other user's file: see openOutput, which
 * checks again when it opens). `-` is stdout where the output can stream.
 */
export function writableFile(allowStdout: boolean): (v: string) => string {
  return (v) => {
    if (v === '-') {
      if (allowStdout) return v;
      throw new InvalidArgumentError("'-' (stdout) is only for outputs that stream (--json, --pcap); give a file name (./- for a file named '-').");
    }
    const why = checkOutputPath(v);
    if (why) throw new InvalidArgumentError(`${why}.`);
    const dir = dirname(resolve(v));
    try {
      if (!statSync(dir).isDirectory()) throw new Error('not a folder');
      accessSync(dir, constants.W_OK);
    } catch {
      throw new InvalidArgumentError(`cannot write '${v}': ${dir} is not a folder this user can write to.`);
    }
    return v;
  };
}
