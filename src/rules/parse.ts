// Turns a profile's text (YAML, or JSON — JSON is YAML) into a validated
// Profile, or an E_PROFILE error listing every problem as
// "file:line:col: path: bad value …; expected …". Pure: text and file name in.

import { LineCounter, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import type * as z from 'zod';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { ParamsSchema, ProfileSchema, show, type Profile } from './schema.js';
import { formatPath, resolveParams, substitute, type ParamValue, type Path } from './params.js';

export interface ProfileProblem {
  readonly file: string;
  /** 1-based; 0 when the problem is not in the file (a bad --set). */
  readonly line: number;
  readonly col: number;
  /** "rules[0].action.delay.ms", or "" for the document itself. */
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: ProfileProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return `${where}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** How many problems a message lists; the rest are counted (a 1 MiB file can hold tens of thousands). */
const LISTED_PROBLEMS = 50;

function listProblems(problems: readonly ProfileProblem[]): string {
  const shown = problems.slice(0, LISTED_PROBLEMS).map(formatProblem);
  if (problems.length > LISTED_PROBLEMS) shown.push(`… and ${problems.length - LISTED_PROBLEMS} more`);
  return shown.join('\n  ');
}

/** A profile that cannot be used: exit 2, never starts a run. */
export class ProfileError extends TcpmitmError {
  constructor(readonly problems: readonly ProfileProblem[]) {
    super(
      'E_PROFILE',
      problems.length === 1
        ? formatProblem(problems[0]!)
        : `${problems.length} problems in ${problems[0]?.file ?? 'the profile'}:\n  ${listProblems(problems)}`,
      ExitCode.Usage,
      'see docs/profiles.md, or check a file with: tcpmitm profiles check FILE',
    );
    this.name = 'ProfileError';
  }
}

interface Located {
  readonly path: Path;
  readonly message: string;
  /** Point at the key rather than the value (unknown fields). */
  readonly atKey?: boolean;
}

/**
 * Flattens zod issues: an `invalid_union` is replaced by the issues of the one
 * branch that got past the shape of the value (e.g. `{delay: …}` for a delay
 * action), so the user hears about `delay.ms`, not about every action there is.
 */
function flatten(issues: readonly z.core.$ZodIssue[], prefix: Path, out: Located[]): void {
  for (const iss of issues) {
    const path = [...prefix, ...(iss.path as (string | number)[])];
    if (iss.code === 'invalid_union') {
      const branches = iss.errors.filter((b) => b.length > 0 && b.every((i) => i.path.length > 0));
      const best = branches.sort((a, b) => depth(b) - depth(a))[0];
      if (best) flatten(best, path, out);
      else out.push({ path, message: iss.message });
    } else if (iss.code === 'unrecognized_keys') {
      for (const k of iss.keys) out.push({ path: [...path, k], message: iss.message.replace('%KEY%', k), atKey: true });
    } else if (iss.code === 'invalid_key') {
      out.push({ path, message: iss.issues[0]?.message ?? iss.message, atKey: true });
    } else if (iss.code === 'invalid_element') {
      flatten(iss.issues, path, out);
    } else {
      out.push({ path, message: iss.message });
    }
  }
}

function depth(b: readonly z.core.$ZodIssue[]): number {
  return Math.max(...b.map((i) => i.path.length));
}

/** The YAML node at `path` (or the key naming its last step), else the nearest ancestor. */
function nodeAt(doc: Document, path: Path, atKey: boolean): Node | undefined {
  let node: unknown = doc.contents;
  let best = node as Node | undefined;
  for (let i = 0; i < path.length; i++) {
    const step = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(step));
      if (!pair) break;
      if (last && atKey) return pair.key as Node;
      node = pair.value;
      best = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof step === 'number') {
      const item = node.items[step];
      if (item === undefined) break;
      node = item;
      best = (item as Node | null) ?? best;
    } else {
      break;
    }
  }
  return best;
}

/** True when a value contains itself (`a: &a [*a]` makes such a structure). */
function isCyclic(v: unknown, ancestors: Set<object> = new Set()): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (ancestors.has(v)) return true;
  ancestors.add(v);
  for (const child of Object.values(v)) if (isCyclic(child, ancestors)) return true;
  ancestors.delete(v);
  return false;
}

/**
 * Deepest flow nesting (`[`, `{`) allowed. The YAML parser's cost grows
 * steeply with depth (a 1 MiB `[[[[…` takes seconds and 600 MB before it
 * overflows the stack), and a profile needs a handful of levels. A linear scan
 * that skips quoted strings and comments; a bracket inside a plain scalar
 * counts too, which only matters for a file no profile resembles.
 */
export const MAX_FLOW_DEPTH = 64;

function flowTooDeep(text: string): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_FLOW_DEPTH) return i;
    } else if (c === 0x5d || c === 0x7d) {
      if (depth > 0) depth--;
    } else if (c === 0x22 || c === 0x27) {
      // "…" (with \ escapes) or '…' (with '' for a quote): skip to its end.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (c === 0x22 && d === 0x5c) i++;
        else if (d === c) {
          if (c === 0x27 && text.charCodeAt(i + 1) === 0x27) i++;
          else break;
        }
      }
    } else if (c === 0x23 && (i === 0 || /\s/.test(text[i - 1]!))) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    }
  }
  return undefined;
}

/**
 * Keys repeated in one mapping. The parser's own uniqueKeys check compares
 * each key with all before it (quadratic: 100 000 keys take minutes); this is
 * one Set per mapping.
 */
function duplicateKeys(doc: Document): { offset: number | undefined; key: string }[] {
  const found: { offset: number | undefined; key: string }[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (seen.has(key)) found.push({ offset: pair.key.range?.[0], key });
        else seen.add(key);
      }
    },
  });
  return found;
}

const PARAM_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/;

/**
 * Parses and validates one profile. `file` is only used in messages.
 * `overrides` are `--set` values for the profile's declared params.
 */
export function parseProfile(text: string, file: string, overrides: Readonly<Record<string, string | ParamValue>> = {}): Profile {
  const lc = new LineCounter();
  const at = (offset: number | undefined): { line: number; col: number } =>
    offset === undefined ? { line: 1, col: 1 } : lc.linePos(offset);
  const deep = flowTooDeep(text);
  if (deep !== undefined) {
    // Not parsed, so the line counter knows no lines: count them up to there.
    const before = text.slice(0, deep);
    const line = before.split('\n').length;
    throw new ProfileError([{ file, line, col: deep - before.lastIndexOf('\n'), path: '', message: `YAML: nested more than ${MAX_FLOW_DEPTH} levels deep; expected a profile's few levels of [ ] and { }` }]);
  }
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });

  const problems: ProfileProblem[] = [];
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      problems.push({ file, ...at(e.pos[0]), path: '', message: `YAML syntax: ${msg}` });
    }
    throw new ProfileError(problems);
  }
  for (const d of duplicateKeys(doc)) {
    problems.push({ file, ...at(d.offset), path: '', message: `YAML syntax: Map keys must be unique ('${d.key}' again)` });
  }
  if (problems.length > 0) throw new ProfileError(problems);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ProfileError([{ file, line: 1, col: 1, path: '', message: `YAML: ${(e as Error).message}` }]);
  }
  if (raw === null || raw === undefined) {
    throw new ProfileError([{ file, line: 1, col: 1, path: '', message: 'the file is empty; expected a profile with name, description, rules and expect' }]);
  }
  if (isCyclic(raw)) {
    throw new ProfileError([{ file, line: 1, col: 1, path: '', message: 'YAML: an alias refers to a node that contains it (a recursive structure); expected plain data' }]);
  }

  const locate = (l: Located, note?: (n: Node | undefined) => string): ProfileProblem => {
    const node = nodeAt(doc, l.path, l.atKey === true);
    return { file, ...at(node?.range?.[0]), path: formatPath(l.path), message: l.message + (note ? note(node) : '') };
  };

  // 1. Parameters: validate their declarations, then substitute ${name}.
  let values: Record<string, ParamValue> = {};
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const declared = ParamsSchema.optional().safeParse((raw as Record<string, unknown>)['params']);
    if (!declared.success) {
      const found: Located[] = [];
      flatten(declared.error.issues, ['params'], found);
      throw new ProfileError(found.map((l) => locate(l)));
    }
    const resolved = resolveParams(declared.data, overrides);
    for (const p of resolved.problems) problems.push({ file, line: 0, col: 0, path: '', message: p.message });
    values = resolved.values;
  }
  const sub = substitute(raw, values);
  for (const p of sub.problems) problems.push(locate({ path: p.path, message: p.message }));
  if (problems.length > 0) throw new ProfileError(problems);

  // 2. The profile itself. A value that came from a parameter says so.
  const parsed = ProfileSchema.safeParse(sub.value);
  if (parsed.success) return parsed.data;
  const found: Located[] = [];
  flatten(parsed.error.issues, [], found);
  const fromParam = (n: Node | undefined): string => {
    if (!isScalar(n) || typeof n.value !== 'string') return '';
    const m = PARAM_REF.exec(n.value);
    return m && Object.hasOwn(values, m[1]!) ? ` (from parameter ${m[1]} = ${show(values[m[1]!])})` : '';
  };
  const seen = new Set<string>();
  for (const l of found) {
    const p = locate(l, fromParam);
    const key = formatProblem(p);
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(p);
    }
  }
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  throw new ProfileError(problems);
}
