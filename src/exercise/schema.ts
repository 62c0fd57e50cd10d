// What an exercise file *is*: the zod definition every exercise is validated
// against (exercises/schema.json is generated from it), and the types derived
// from it. An exercise is a story, predictions asked before the run, the lab
// it runs (a profile with its peers), checks the run must confirm (profile
// expectations), named evidence read from the run's events, and per
// prediction a reveal that quotes that evidence. Cross-field rules (an
// evidence name that exists, a choice marked correct) are in parse.ts.

import * as z from 'zod';
import { ExpectSchema, FlagsSchema, ProfileSchema, RoleSchema, StateSchema, EndpointSchema, SysctlsSchema } from '../rules/schema.js';
import { intIn, listOf, notA, oneOfMsg, show, strict } from '../rules/schema-kit.js';

/** The languages every text of an exercise is written in. */
export const LANGS = ['en', 'zh'] as const;
export type Lang = (typeof LANGS)[number];

const nameRe = /^[a-z0-9][a-z0-9-]*$/;
const name = (what: string) =>
  z
    .string({ error: notA(`${what} (lower-case letters, digits and '-')`) })
    .regex(nameRe, { error: (iss) => `${show(iss.input)} is not ${what}; expected lower-case letters, digits and '-'` });

/** A text in English and Simplified Chinese; `zh` may be left out of a teacher's own exercise (English is shown). */
export const TextSchema = strict(
  {
    en: z.string({ error: notA('English text') }).min(1, { error: 'empty; expected English text' }),
    zh: z.string({ error: notA('Simplified Chinese text') }).min(1, { error: 'empty; expected Simplified Chinese text' }).optional(),
  },
  'a text in English and Chinese',
).describe('a text: {en: English, zh: 简体中文}; {{name}} inserts the evidence of that name (reveals only)');

const sourceSchema = z
  .enum(['kernel', 'inferred'], { error: oneOfMsg('source', ['kernel', 'inferred']) })
  .optional()
  .describe("whose view: the kernel probe's (default) or tcpmitm's inference");
const connSchema = intIn(1, Number.MAX_SAFE_INTEGER, 'a connection number from 1').optional().describe('which connection (default 1)');
const nthSchema = (what: string) => intIn(1, 1_000_000, `a position from 1 (the first ${what})`);

/** Which segments: every field optional, an absent one matches anything (as a rule's match). */
export const SegmentSelectorSchema = strict(
  {
    from: EndpointSchema.optional().describe('who sent it'),
    role: z
      .union([RoleSchema, listOf(RoleSchema, 'a list of roles').min(1, { error: 'an empty list; expected at least one role' })], {
        error: notA('a role, or a list of roles'),
      })
      .optional()
      .describe("the tracker's role, or a list of roles"),
    flags: FlagsSchema.optional(),
    verdict: z
      .enum(['pass', 'drop', 'delay', 'hold', 'coalesce', 'duplicate', 'forged', 'replay'], {
        error: oneOfMsg('verdict', ['pass', 'drop', 'delay', 'hold', 'coalesce', 'duplicate', 'forged', 'replay']),
      })
      .optional()
      .describe('what tcpmitm did with it'),
    conn: connSchema,
  },
  'a segment selector',
);

const stateOf = {
  endpoint: EndpointSchema,
  state: StateSchema,
  source: sourceSchema,
  conn: connSchema,
};

const EVIDENCE_KINDS = ['states', 'segments', 'entered', 'dwell', 'count', 'gap', 'gaps', 'app', 'exit', 'actions'] as const;

/** What tcpmitm did beyond a segment's verdict (an action event's kind). */
const ACTION_KINDS = ['drop', 'release', 'rst', 'coalesce', 'signal'] as const;
const ONE_KIND = `'%KEY%' beside another kind; expected exactly one kind of evidence per name`;

/**
 * One piece of evidence read from the run's events. Text kinds quote the run
 * (states with times, segment lines, app events); number kinds measure it
 * (`entered` in s, `dwell` and `gap` in ms, `count`), and a number
 * prediction's answer may be one of those.
 */
export const EvidenceSchema = z
  .union(
    [
      strict({ states: strict({ endpoint: EndpointSchema, source: sourceSchema, conn: connSchema }, 'a state history') }, 'evidence', ONE_KIND),
      strict(
        { segments: strict({ ...SegmentSelectorSchema.shape, first: intIn(1, 1000, 'a count from 1 to 1000').optional().describe('at most this many lines') }, 'a segment selector') },
        'evidence',
        ONE_KIND,
      ),
      strict({ entered: strict(stateOf, 'a state') }, 'evidence', ONE_KIND),
      strict({ dwell: strict(stateOf, 'a state') }, 'evidence', ONE_KIND),
      strict({ count: SegmentSelectorSchema }, 'evidence', ONE_KIND),
      strict({ gap: strict({ ...SegmentSelectorSchema.shape, nth: nthSchema('gap') }, 'a segment selector with nth') }, 'evidence', ONE_KIND),
      strict({ gaps: SegmentSelectorSchema }, 'evidence', ONE_KIND),
      strict({ app: strict({ endpoint: EndpointSchema }, 'an endpoint') }, 'evidence', ONE_KIND),
      strict({ exit: strict({ endpoint: EndpointSchema }, 'an endpoint') }, 'evidence', ONE_KIND),
      strict(
        {
          actions: strict(
            {
              action: z
                .union([z.enum(ACTION_KINDS), listOf(z.enum(ACTION_KINDS), 'a list of actions').min(1)], { error: oneOfMsg('action', ACTION_KINDS) })
                .optional()
                .describe('which kind (or kinds) of action: drop, release, rst, coalesce, signal'),
              conn: connSchema,
            },
            'an action selector',
          ),
        },
        'evidence',
        ONE_KIND,
      ),
    ],
    {
      error: (iss) => {
        const v = iss.input;
        const expected = `a mapping with exactly one of ${EVIDENCE_KINDS.join(', ')} (e.g. {states: {endpoint: client}})`;
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          const keys = Object.keys(v);
          const unknown = keys.find((k) => !(EVIDENCE_KINDS as readonly string[]).includes(k));
          if (unknown !== undefined) return `unknown kind of evidence '${unknown}'; expected ${expected}`;
          if (keys.length !== 1) return `${keys.length === 0 ? 'an empty mapping' : `'${keys.join("' and '")}' together`} is not one kind of evidence; expected ${expected}`;
        }
        return notA(expected)(iss);
      },
    },
  )
  .describe(
    'what to read from the run: states (a history with times), segments (log lines), entered (s), dwell (ms), count, gap (ms between the nth and next match), gaps (every gap), app (application events), exit (how a program ended), actions (what tcpmitm did: signals sent, releases, forged RSTs, as log lines)',
  );

const idSchema = name('a prediction id');
const reveal = TextSchema.describe('the explanation shown after the run; {{name}} inserts evidence, {{answer}} the answer, {{yours}} the student’s');
const after = z
  .boolean({ error: notA('true or false') })
  .optional()
  .describe('asked after the run instead of before: a diagnosis from what the run showed (default false)');

export const ChoiceSchema = strict(
  {
    id: name('a choice id').describe('what an answers file writes for this choice'),
    text: TextSchema,
    comment: TextSchema.describe('why this choice is right or wrong (shown in the reveal to whoever chose it)'),
    correct: z.boolean({ error: notA('true or false') }).optional().describe('the right choice (exactly one per question)'),
  },
  'a choice',
);

export const ChoicePredictionSchema = strict(
  {
    id: idSchema,
    kind: z.literal('choice'),
    question: TextSchema,
    after,
    choices: listOf(ChoiceSchema, 'a list of choices').min(2, { error: 'fewer than two choices; expected at least two' }),
    reveal,
  },
  'a choice prediction',
);

export const OrderPredictionSchema = strict(
  {
    id: idSchema,
    kind: z.literal('order'),
    question: TextSchema,
    after,
    items: listOf(z.string({ error: notA('an item (text)') }).min(1), 'a list of items')
      .min(2, { error: 'fewer than two items; expected at least two to order' })
      .describe('shown in this order; the student puts them in order'),
    answer: listOf(z.string({ error: notA('an item (text)') }), 'the items in the right order').describe('the items in the right order'),
    reveal,
  },
  'an order prediction',
);

const tolerance = z
  .union(
    [
      z.number({ error: notA('a tolerance') }).min(0, { error: (iss) => `${show(iss.input)} is negative; expected a tolerance from 0` }),
      z.string().regex(/^\d+(?:\.\d+)?%$/, { error: (iss) => `${show(iss.input)} is not a percentage; expected e.g. '25%'` }),
    ],
    { error: (iss) => `${show(iss.input)} is not a tolerance; expected a number in the answer's unit, or a percentage such as '25%'` },
  )
  .describe("how far from the answer still counts as right: in the answer's unit, or a percentage of it ('25%')");

export const NumberPredictionSchema = strict(
  {
    id: idSchema,
    kind: z.literal('number'),
    question: TextSchema,
    after,
    unit: z.enum(['ms', 's', 'segments'], { error: oneOfMsg('unit', ['ms', 's', 'segments']) }).describe("the answer's unit"),
    answer: z
      .union([z.number(), strict({ evidence: name('an evidence name') }, 'an evidence reference')], {
        error: (iss) => `${show(iss.input)} is not an answer; expected a number, or {evidence: NAME} to measure it on the run`,
      })
      .describe('the answer: a fixed number, or {evidence: NAME}: measured on this run (an entered, dwell, count or gap evidence)'),
    tolerance,
    reveal,
  },
  'a number prediction',
);

const PREDICTION_KINDS = ['choice', 'order', 'number'] as const;

export const PredictionSchema = z
  .discriminatedUnion('kind', [ChoicePredictionSchema, OrderPredictionSchema, NumberPredictionSchema], {
    error: (iss) => {
      const v = iss.input as Record<string, unknown> | undefined;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        return `${v['kind'] === undefined ? 'no kind' : `kind ${show(v['kind'])} is not a kind of prediction`}; expected kind: ${PREDICTION_KINDS.join(', ')}`;
      }
      return notA(`a prediction (a mapping with id, kind: ${PREDICTION_KINDS.join('|')}, question, …)`)(iss);
    },
  })
  .describe('a question asked before the run (or after it, with after: true): choice (multiple choice), order (put items in order) or number (with a tolerance)');

export const ExerciseLabSchema = strict(
  {
    profile: z
      .union([name('a built-in profile name'), ProfileSchema], {
        error: (iss) => `${show(iss.input)} is not a profile; expected a built-in profile name, or a profile written here (a mapping with name, description, rules)`,
      })
      .describe('a built-in profile (name), or a profile written out here (without params)'),
    set: z
      .record(z.string(), z.union([z.number(), z.string(), z.boolean()], { error: notA('a number, a string or true/false') }), {
        error: notA('a mapping of profile parameters'),
      })
      .optional()
      .describe("the built-in profile's parameters for this exercise (--set on the command line overrides them)"),
    server: listOf(z.string({ error: notA('an argument') }), 'a list of arguments').optional().describe("the built-in server's flags instead of the profile's lab.server"),
    client: listOf(z.string({ error: notA('an argument') }), 'a list of arguments').optional().describe("the built-in client's flags instead of the profile's lab.client"),
    commands: strict(
      {
        client: z.string({ error: notA('a shell command') }).min(1).optional().describe('run as `sh -c` in the client namespace instead of the built-in client'),
        server: z.string({ error: notA('a shell command') }).min(1).optional().describe('run as `sh -c` in the server namespace instead of the built-in server (it must listen on 8080)'),
      },
      'commands',
    )
      .optional()
      .describe("programs of the exercise's own instead of the built-in peers, as --client/--server (the server's address and port are in $TCPMITM_SERVER_ADDR and $TCPMITM_SERVER_PORT)"),
    duration: z
      .number({ error: notA('seconds from 0.1 to 600') })
      .min(0.1, { error: (iss) => `${show(iss.input)} is too small; expected seconds from 0.1 to 600` })
      .max(600, { error: (iss) => `${show(iss.input)} is too large; expected seconds from 0.1 to 600` })
      .optional()
      .describe("cap on the run, seconds (default: the profile's, else until everything is closed)"),
    hidden: z
      .boolean({ error: notA('true or false') })
      .optional()
      .describe("keep the fault hidden until the reveal: the run's log and UI show segments as they were sent, without tcpmitm's actions, and no profile name (a \"what is wrong here?\" exercise)"),
    sysctls: SysctlsSchema.optional().describe("the end namespaces' sysctls, over the profile's lab.sysctls (net.* only): pinned so the run is the same on every machine"),
  },
  'the lab to run',
);

/** A choice's texts under a variant: what it says, and why it is right or wrong there. */
export const ChoiceOverrideSchema = strict(
  {
    text: TextSchema.optional().describe("the choice's text under this variant"),
    comment: TextSchema.optional().describe('why this choice is right or wrong under this variant'),
  },
  "a choice's texts",
);

/**
 * What a variant changes in one prediction: its right answer (a choice id, the
 * items in order, or a number or {evidence: NAME}), a number's tolerance, the
 * texts of some choices, and the explanation. The question stays the same, so
 * an answers file written for the exercise answers its variants too.
 */
export const PredictionOverrideSchema = strict(
  {
    answer: z
      .union(
        [
          z.string().min(1),
          listOf(z.string({ error: notA('an item (text)') }), 'the items in the right order'),
          z.number(),
          strict({ evidence: name('an evidence name') }, 'an evidence reference'),
        ],
        { error: (iss) => `${show(iss.input)} is not an answer; expected a choice id, a list of items in order, a number, or {evidence: NAME}` },
      )
      .optional()
      .describe('the right answer under this variant: a choice id (choice), the items in order (order), a number or {evidence: NAME} (number)'),
    tolerance: tolerance.optional().describe("a number prediction's tolerance under this variant"),
    choices: z
      .record(name('a choice id'), ChoiceOverrideSchema, { error: notA('a mapping of choice ids') })
      .optional()
      .describe('per choice id, its text and comment under this variant (choice predictions)'),
    reveal: reveal.optional().describe('the explanation under this variant (default: the exercise’s)'),
  },
  'what the variant changes in a prediction',
);

export const TryNextSchema = strict(
  {
    exercise: name('an exercise id').optional().describe('another exercise to run (default: this one)'),
    set: z
      .record(z.string(), z.union([z.number(), z.string(), z.boolean()]), { error: notA('a mapping of profile parameters') })
      .optional()
      .describe('parameters to run with: tcpmitm exercise run ID --set k=v'),
    sysctls: SysctlsSchema.optional().describe('sysctls to run with: tcpmitm exercise run ID --sysctl [end:]name=value'),
    text: TextSchema,
    checks: ExpectSchema.optional().describe("what a run of this variant must show, instead of the exercise's checks (a variant of this exercise only)"),
    evidence: z
      .record(name('an evidence name'), EvidenceSchema, { error: notA('a mapping of evidence names') })
      .optional()
      .describe("more evidence for this variant's reveals, over the exercise's (a variant of this exercise only)"),
    predictions: z
      .record(name('a prediction id'), PredictionOverrideSchema, { error: notA('a mapping of prediction ids') })
      .optional()
      .describe('per prediction id, what differs under this variant: its right answer, texts, explanation (a variant of this exercise only; run it with --try N)'),
  },
  'a variant to try next',
);

export const ExerciseSchema = strict(
  {
    $schema: z.string().optional(),
    id: name('an exercise id'),
    number: intIn(1, 999, 'a catalogue number from 1 to 999').describe('its place in the list; `tcpmitm exercise run N`'),
    scenario: intIn(1, 99, 'a scenario number from the catalogue (DESIGN.md)').describe('the scenario of the catalogue it teaches'),
    title: TextSchema,
    story: TextSchema.describe('what the programs do and what tcpmitm will do to which segment'),
    lab: ExerciseLabSchema,
    checks: ExpectSchema.optional().describe("what the run must show, as a profile's expect (default: the profile's own); a check not confirmed is exit 3"),
    evidence: z
      .record(name('an evidence name'), EvidenceSchema, { error: notA('a mapping of evidence names') })
      .optional()
      .describe('named evidence read from the run, quoted in reveals as {{name}}'),
    predictions: listOf(PredictionSchema, 'a list of predictions').min(1, { error: 'an empty list; expected at least one prediction' }),
    hints: listOf(TextSchema, 'a list of hints').optional(),
    tryNext: listOf(TryNextSchema, 'a list of variants').optional().describe('variants to run next'),
  },
  'an exercise',
).meta({ title: 'tcpmitm lab exercise' });

export type Exercise = z.infer<typeof ExerciseSchema>;
export type Text = z.infer<typeof TextSchema>;
export type Prediction = z.infer<typeof PredictionSchema>;
export type ChoicePrediction = z.infer<typeof ChoicePredictionSchema>;
export type OrderPrediction = z.infer<typeof OrderPredictionSchema>;
export type NumberPrediction = z.infer<typeof NumberPredictionSchema>;
export type Evidence = z.infer<typeof EvidenceSchema>;
export type SegmentSelector = z.infer<typeof SegmentSelectorSchema>;
export type ExerciseLab = z.infer<typeof ExerciseLabSchema>;
export type TryNext = z.infer<typeof TryNextSchema>;
export type PredictionOverride = z.infer<typeof PredictionOverrideSchema>;

/** The kinds of evidence that measure a number (and their unit), for number predictions. */
export const NUMERIC_EVIDENCE: Readonly<Record<string, 'ms' | 's' | 'segments'>> = { entered: 's', dwell: 'ms', gap: 'ms', count: 'segments' };

/** The text in `lang`, English when it has none in that language. */
export function inLang(t: Text, lang: Lang): string {
  return lang === 'zh' ? (t.zh ?? t.en) : t.en;
}
