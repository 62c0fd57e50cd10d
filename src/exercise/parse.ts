// Turns an exercise file's text into a validated Exercise, or an E_EXERCISE
// error listing every problem as "file:line:col: path: message" (the profile
// loader's machinery, yaml-source.ts). Beyond the schema: one correct choice
// per question, an order's answer made of its items, evidence names that
// exist and measure what a number asks, placeholders that name something.
// Pure: text and file name in.

import { SourceError, parseYamlSource, schemaProblems, type Located, type SourceProblem } from '../rules/yaml-source.js';
import { ExerciseSchema, LANGS, NUMERIC_EVIDENCE, type Evidence, type Exercise, type Text } from './schema.js';
import type { Path } from '../rules/params.js';
import { variantProblems } from './variant.js';

/** An exercise that cannot be used: exit 2, nothing runs. */
export class ExerciseError extends SourceError {
  constructor(problems: readonly SourceProblem[]) {
    super('E_EXERCISE', problems, 'the exercise', 'see docs/exercises.md, or check a file with: tcpmitm exercise check FILE');
    this.name = 'ExerciseError';
  }
}

/** Placeholders every reveal may use besides the exercise's own evidence. */
export const BUILTIN_PLACEHOLDERS = ['answer', 'yours', 'measured', 'checks'] as const;

/** `{{name}}` in a reveal: the evidence (or built-in) of that name. */
export const PLACEHOLDER = /\{\{\s*([a-z0-9][a-z0-9-]*)\s*\}\}/g;

/** The kind of a piece of evidence: its one key. */
export function evidenceKind(e: Evidence): string {
  return Object.keys(e)[0]!;
}

/** The {{names}} of a reveal text that name neither evidence nor a built-in. */
function placeholderProblems(t: Text, path: Path, evidence: Readonly<Record<string, unknown>>): Located[] {
  const out: Located[] = [];
  for (const lang of LANGS) {
    const s = t[lang];
    if (s === undefined) continue;
    for (const m of s.matchAll(PLACEHOLDER)) {
      const n = m[1]!;
      if (!Object.hasOwn(evidence, n) && !(BUILTIN_PLACEHOLDERS as readonly string[]).includes(n)) {
        const known = [...Object.keys(evidence), ...BUILTIN_PLACEHOLDERS].map((k) => `{{${k}}}`).join(', ');
        out.push({ path: [...path, lang], message: `'{{${n}}}' names no evidence; expected one of ${known}` });
      }
    }
  }
  return out;
}

/** The cross-field problems of a schema-valid exercise, as paths into the document. */
export function exerciseProblems(x: Exercise): Located[] {
  const out: Located[] = [];
  const evidence = x.evidence ?? {};
  const seenIds = new Map<string, number>();
  const placeholders = (t: Text, path: Path): void => {
    out.push(...placeholderProblems(t, path, evidence));
  };

  x.predictions.forEach((p, i) => {
    const at: Path = ['predictions', i];
    const before = seenIds.get(p.id);
    if (before !== undefined) out.push({ path: [...at, 'id'], message: `'${p.id}' again (predictions[${before}] has it); expected each prediction id once` });
    else seenIds.set(p.id, i);
    placeholders(p.reveal, [...at, 'reveal']);
    if (p.kind === 'choice') {
      const correct = p.choices.filter((c) => c.correct === true).length;
      if (correct !== 1) out.push({ path: [...at, 'choices'], message: `${correct} choices marked correct: true; expected exactly one` });
      const ids = new Set<string>();
      p.choices.forEach((c, k) => {
        if (ids.has(c.id)) out.push({ path: [...at, 'choices', k, 'id'], message: `'${c.id}' again; expected each choice id once per question` });
        ids.add(c.id);
      });
    } else if (p.kind === 'order') {
      if (new Set(p.items).size !== p.items.length) out.push({ path: [...at, 'items'], message: 'an item appears twice; expected distinct items' });
      const sorted = (a: readonly string[]): string => [...a].sort().join('\u0000');
      if (sorted(p.answer) !== sorted(p.items)) {
        out.push({ path: [...at, 'answer'], message: `[${p.answer.join(', ')}] is not an order of the items; expected each of ${p.items.join(', ')} exactly once` });
      }
    } else if (typeof p.answer !== 'number') {
      const name = p.answer.evidence;
      const e = evidence[name];
      const numeric = Object.entries(evidence).filter(([, v]) => NUMERIC_EVIDENCE[evidenceKind(v)] !== undefined).map(([k]) => k);
      if (e === undefined) {
        out.push({ path: [...at, 'answer', 'evidence'], message: `'${name}' names no evidence; expected ${numeric.length ? `one of ${numeric.join(', ')}` : 'a name declared under evidence (entered, dwell, count or gap)'}` });
      } else {
        const unit = NUMERIC_EVIDENCE[evidenceKind(e)];
        if (unit === undefined) out.push({ path: [...at, 'answer', 'evidence'], message: `'${name}' is ${evidenceKind(e)} evidence, which measures nothing; expected entered, dwell, count or gap evidence` });
        else if (unit !== p.unit) out.push({ path: [...at, 'unit'], message: `'${p.unit}', but evidence '${name}' (${evidenceKind(e)}) is measured in ${unit}; expected unit: ${unit}` });
      }
    }
  });
  if (typeof x.lab.profile === 'object' && x.lab.profile.params !== undefined) {
    out.push({ path: ['lab', 'profile', 'params'], message: 'a profile written in an exercise takes no params; expected fixed values (or a profile file, or a built-in profile with lab.set)', atKey: true });
  }
  for (const end of ['client', 'server'] as const) {
    if (x.lab.commands?.[end] !== undefined && x.lab[end] !== undefined) {
      out.push({ path: ['lab', end], message: `the built-in ${end}'s flags beside lab.commands.${end}; expected one of them: the command replaces the built-in ${end}`, atKey: true });
    }
  }
  out.push(...variantProblems(x));
  // A variant's explanations may quote its own evidence besides the exercise's.
  (x.tryNext ?? []).forEach((t, i) => {
    const known = { ...evidence, ...(t.evidence ?? {}) };
    for (const [id, o] of Object.entries(t.predictions ?? {})) {
      if (o.reveal !== undefined) out.push(...placeholderProblems(o.reveal, ['tryNext', i, 'predictions', id, 'reveal'], known));
    }
  });
  if (typeof x.lab.profile === 'object' && x.lab.set !== undefined) {
    out.push({ path: ['lab', 'set'], message: 'parameters for a profile written here; expected lab.set only with a built-in profile', atKey: true });
  }
  return out;
}

/** Parses and validates one exercise. `file` is only used in messages. */
export function parseExercise(text: string, file: string): Exercise {
  const fail = (problems: SourceProblem[]): never => {
    throw new ExerciseError(problems);
  };
  const src = parseYamlSource(text, file, fail, { kind: 'an exercise', empty: 'an exercise with id, title, story, lab and predictions' });
  const parsed = ExerciseSchema.safeParse(src.raw);
  if (!parsed.success) return fail(schemaProblems(parsed.error.issues, src));
  const more = exerciseProblems(parsed.data);
  if (more.length > 0) fail(more.map((l) => src.locate(l)).sort((a, b) => a.line - b.line || a.col - b.col));
  return parsed.data;
}
