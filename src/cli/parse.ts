// Small option parsers shared by the command declarations: each names the bad
// token and what was expected, and exits 2 through commander.

import { InvalidArgumentError } from 'commander';

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
  if (!/^[a-z0-9][a-z0-9_]{0,11}$/.test(v)) {
    throw new InvalidArgumentError(`'${v}' is not a lab id: use 1–12 characters of a-z, 0-9 and _, starting with a letter or digit.`);
  }
  return v;
}

/** `--set key=value`, repeatable: profile parameter overrides. */
export function collectSetting(v: string, acc: Record<string, string> | undefined): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`'${v}' is not key=value (e.g. --set times=3).`);
  return { ...acc, [v.slice(0, eq)]: v.slice(eq + 1) };
}
