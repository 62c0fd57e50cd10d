// Profile parameters: a profile declares `params: {times: {default: 1, description}}`
// and writes `${times}` where the value goes; `--set times=3` overrides the
// default. Substitution happens on the parsed document, before validation, so a
// bad value is reported at the placeholder's own line and column.

import { TcpmitmError, ExitCode } from '../cli/errors.js';
import { ParamsSchema, show, type ParamDecl } from './schema.js';
import { didYouMean } from './nearest.js';

export type ParamValue = number | string | boolean;
export type Path = readonly (string | number)[];

export interface ParamProblem {
  /** Where in the document; empty for problems with the overrides themselves. */
  readonly path: Path;
  readonly message: string;
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** "3" → 3, "true" → true, "all" → "all": what a `--set key=value` string means. */
export function coerceParam(s: string): ParamValue {
  const t = s.trim();
  if (/^-?\d+(?:\.\d+)?$/.test(t)) return Number(t);
  if (t === 'true') return true;
  if (t === 'false') return false;
  return s;
}

/** Parses `key=value` (the form of `--set`). */
export function parseSetting(s: string): [string, ParamValue] {
  const i = s.indexOf('=');
  if (i <= 0) {
    throw new TcpmitmError('E_USAGE', `--set ${show(s)}: expected key=value, e.g. --set times=3`, ExitCode.Usage);
  }
  return [s.slice(0, i).trim(), coerceParam(s.slice(i + 1))];
}

/** The value of every declared parameter: its default unless overridden. */
export function resolveParams(
  decls: Readonly<Record<string, ParamDecl>> | undefined,
  overrides: Readonly<Record<string, string | ParamValue>>,
): { values: Record<string, ParamValue>; problems: ParamProblem[] } {
  const values: Record<string, ParamValue> = {};
  const problems: ParamProblem[] = [];
  const names = Object.keys(decls ?? {});
  for (const n of names) values[n] = decls![n]!.default;
  for (const [k, raw] of Object.entries(overrides)) {
    const v = typeof raw === 'string' ? coerceParam(raw) : raw;
    const decl = decls !== undefined && Object.hasOwn(decls, k) ? decls[k] : undefined;
    if (decl === undefined) {
      problems.push({
        path: [],
        message: `--set ${k}=${String(raw)}: no parameter '${k}'${didYouMean(k, names)}; expected ${names.length ? `one of ${names.join(', ')}` : 'none (this profile takes no parameters)'}`,
      });
      continue;
    }
    if (decl.values !== undefined && !decl.values.includes(v)) {
      problems.push({ path: [], message: `--set ${k}=${String(raw)}: ${show(v)} is not allowed; expected one of ${decl.values.join(', ')}` });
      continue;
    }
    values[k] = v;
  }
  return { values, problems };
}

/**
 * Replaces `${name}` in every string of `doc` except inside `params` itself.
 * A string that is exactly one placeholder takes the parameter's value with
 * its type (numbers stay numbers); a placeholder inside longer text is interpolated.
 */
export function substitute(doc: unknown, values: Readonly<Record<string, ParamValue>>): { value: unknown; problems: ParamProblem[] } {
  const problems: ParamProblem[] = [];
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('${')) return v;
      const whole = WHOLE.exec(v);
      if (whole) {
        const name = whole[1]!;
        if (Object.hasOwn(values, name)) return values[name];
        problems.push({ path, message: unknownParam(name, values) });
        return v;
      }
      return v.replace(PLACEHOLDER, (m, name: string) => {
        if (Object.hasOwn(values, name)) return String(values[name]);
        problems.push({ path, message: unknownParam(name, values) });
        return m;
      });
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        // defineProperty: a key named "__proto__" stays a plain field.
        Object.defineProperty(out, k, {
          value: path.length === 0 && k === 'params' ? x : walk(x, [...path, k]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return v;
  };
  return { value: walk(doc, []), problems };
}

function unknownParam(name: string, values: Readonly<Record<string, ParamValue>>): string {
  const names = Object.keys(values);
  return `'\${${name}}' names no declared parameter${didYouMean(name, names)}; expected ${names.length ? `one of ${names.map((n) => `\${${n}}`).join(', ')}` : 'a parameter declared under params'}`;
}

/**
 * Applies the profile's declared parameters, with `overrides` (from `--set`),
 * to a parsed but not yet validated document. Throws an E_PROFILE error (exit 2)
 * on a bad declaration, an unknown override, or a placeholder naming nothing.
 * The loader uses the same steps with line/column positions for each problem.
 */
export function applyParams(doc: unknown, overrides: Readonly<Record<string, string | ParamValue>> = {}): unknown {
  const declared = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>)['params'] : undefined;
  const parsed = ParamsSchema.optional().safeParse(declared);
  if (!parsed.success) {
    throw new TcpmitmError('E_PROFILE', `params: ${parsed.error.issues.map((i) => i.message).join('; ')}`, ExitCode.Usage);
  }
  const { values, problems } = resolveParams(parsed.data, overrides);
  const sub = substitute(doc, values);
  const all = [...problems, ...sub.problems];
  if (all.length > 0) {
    throw new TcpmitmError('E_PROFILE', all.map((p) => (p.path.length ? `${formatPath(p.path)}: ` : '') + p.message).join('\n'), ExitCode.Usage);
  }
  return sub.value;
}

/** rules[0].action.delay.ms */
export function formatPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}
