// What every YAML file tcpmitm reads (profiles, exercises, answers) shares:
// parsing with positions, the guards against what would make the parser slow
// or loop (deep flow nesting, quadratic duplicate-key checks, recursive
// aliases), zod issues turned into "file:line:col: path: message" problems,
// and the error that lists them. Pure: text and file name in.

import { LineCounter, isMap, isScalar, isSeq, parseDocument, visit, type Document, type Node } from 'yaml';
import type * as z from 'zod';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { nearFieldFor } from './schema-kit.js';
import { formatPath, type Path } from './params.js';

export interface SourceProblem {
  readonly file: string;
  /** 1-based; 0 when the problem is not in the file (a bad --set). */
  readonly line: number;
  readonly col: number;
  /** "rules[0].action.delay.ms", or "" for the document itself. */
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: SourceProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return `${where}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** How many problems a message lists; the rest are counted (a 1 MiB file can hold tens of thousands). */
const LISTED_PROBLEMS = 50;

function listProblems(problems: readonly SourceProblem[]): string {
  const shown = problems.slice(0, LISTED_PROBLEMS).map(formatProblem);
  if (problems.length > LISTED_PROBLEMS) shown.push(`… and ${problems.length - LISTED_PROBLEMS} more`);
  return shown.join('\n  ');
}

/** A file that cannot be used: exit 2, one line per problem, in file order. */
export class SourceError extends TcpmitmError {
  constructor(
    code: string,
    readonly problems: readonly SourceProblem[],
    /** "the profile", "the exercise": names the document when the problems name no file. */
    what: string,
    hint: string,
  ) {
    super(
      code,
      problems.length === 1
        ? formatProblem(problems[0]!)
        : `${problems.length} problems in ${problems[0]?.file ?? what}:\n  ${listProblems(problems)}`,
      ExitCode.Usage,
      hint,
    );
    this.name = 'SourceError';
  }
}

/** A problem found by a schema: where (a path into the document) and what. */
export interface Located {
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
export function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: Path, out: Located[]): void {
  for (const iss of issues) {
    const path = [...prefix, ...(iss.path as (string | number)[])];
    if (iss.code === 'invalid_union') {
      const branches = iss.errors.filter((b) => b.length > 0 && b.every((i) => i.path.length > 0));
      const best = branches.sort((a, b) => depth(b) - depth(a))[0];
      if (best) flattenIssues(best, path, out);
      else out.push({ path, message: iss.message });
    } else if (iss.code === 'unrecognized_keys') {
      for (const k of iss.keys) out.push({ path: [...path, k], message: nearFieldFor(iss.message.replace('%KEY%', k), k), atKey: true });
    } else if (iss.code === 'invalid_key') {
      out.push({ path, message: iss.issues[0]?.message ?? iss.message, atKey: true });
    } else if (iss.code === 'invalid_element') {
      flattenIssues(iss.issues, path, out);
    } else {
      out.push({ path, message: iss.message });
    }
  }
}

function depth(b: readonly z.core.$ZodIssue[]): number {
  return Math.max(...b.map((i) => i.path.length));
}

/** The YAML node at `path` (or the key naming its last step), else the nearest ancestor. */
export function nodeAt(doc: Document, path: Path, atKey: boolean): Node | undefined {
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

/** A parsed YAML file: its plain value and how to place a problem in it. */
export interface YamlSource {
  readonly file: string;
  readonly doc: Document;
  /** The document as plain data (never null: an empty file is a problem). */
  readonly raw: unknown;
  /** A problem at a path, placed at its node's line and column; `note` may add words about that node. */
  locate(l: Located, note?: (n: Node | undefined) => string): SourceProblem;
}

/**
 * Parses YAML (or JSON) text, or throws `fail(problems)`: syntax errors,
 * repeated keys, too deep a nesting, recursive aliases, an empty file
 * (`what.empty` says what was expected instead; `what.kind` names the file's kind).
 */
export function parseYamlSource(
  text: string,
  file: string,
  fail: (problems: SourceProblem[]) => never,
  what: { readonly kind: string; readonly empty: string },
): YamlSource {
  const lc = new LineCounter();
  const at = (offset: number | undefined): { line: number; col: number } =>
    offset === undefined ? { line: 1, col: 1 } : lc.linePos(offset);
  const deep = flowTooDeep(text);
  if (deep !== undefined) {
    // Not parsed, so the line counter knows no lines: count them up to there.
    const before = text.slice(0, deep);
    const line = before.split('\n').length;
    fail([{ file, line, col: deep - before.lastIndexOf('\n'), path: '', message: `YAML: nested more than ${MAX_FLOW_DEPTH} levels deep; expected ${what.kind}'s few levels of [ ] and { }` }]);
  }
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false });

  const problems: SourceProblem[] = [];
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      problems.push({ file, ...at(e.pos[0]), path: '', message: `YAML syntax: ${msg}` });
    }
    fail(problems);
  }
  for (const d of duplicateKeys(doc)) {
    problems.push({ file, ...at(d.offset), path: '', message: `YAML syntax: Map keys must be unique ('${d.key}' again)` });
  }
  if (problems.length > 0) fail(problems);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    fail([{ file, line: 1, col: 1, path: '', message: `YAML: ${(e as Error).message}` }]);
  }
  if (raw === null || raw === undefined) fail([{ file, line: 1, col: 1, path: '', message: `the file is empty; expected ${what.empty}` }]);
  if (isCyclic(raw)) {
    fail([{ file, line: 1, col: 1, path: '', message: 'YAML: an alias refers to a node that contains it (a recursive structure); expected plain data' }]);
  }
  return {
    file,
    doc,
    raw,
    locate(l, note) {
      const node = nodeAt(doc, l.path, l.atKey === true);
      return { file, ...at(node?.range?.[0]), path: formatPath(l.path), message: l.message + (note ? note(node) : '') };
    },
  };
}

/**
 * The problems of `value` (the source's document, or a value derived from it
 * with the same paths) against `schema`, each placed in the source, without
 * repeats, in file order; `at` prefixes every path (validating a part of the document).
 */
export function schemaProblems(
  issues: readonly z.core.$ZodIssue[],
  src: YamlSource,
  opts: { readonly at?: Path; readonly note?: (n: Node | undefined) => string } = {},
): SourceProblem[] {
  const found: Located[] = [];
  flattenIssues(issues, opts.at ?? [], found);
  const seen = new Set<string>();
  const problems: SourceProblem[] = [];
  for (const l of found) {
    const p = src.locate(l, opts.note);
    const key = formatProblem(p);
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(p);
    }
  }
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}
