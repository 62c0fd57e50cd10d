// A small valid exercise and variants of it with one mistake each (errors.test.ts).

export const BASE = `id: mine
number: 7
scenario: 1
title: {en: Mine, zh: 我的}
story: {en: A story., zh: 一个故事。}
lab:
  profile: passthrough
evidence:
  cs: {states: {endpoint: client}}
  fw2: {dwell: {endpoint: client, state: FIN-WAIT-2}}
predictions:
  - id: who
    kind: choice
    question: {en: Who?, zh: 谁？}
    choices:
      - {id: client, correct: true, text: {en: the client}, comment: {en: yes}}
      - {id: server, text: {en: the server}, comment: {en: no}}
    reveal: {en: 'seen: {{cs}}'}
  - id: ms
    kind: number
    question: {en: How long?}
    unit: ms
    answer: {evidence: fw2}
    tolerance: 100
    reveal: {en: '{{measured}}'}
`;

/** [name, text]: BASE with one thing wrong. */
export const CASES: [string, string][] = [
  ['two correct choices', BASE.replace('{id: server, text', '{id: server, correct: true, text')],
  ['no correct choice', BASE.replace('{id: client, correct: true, text', '{id: client, text')],
  ['a placeholder naming nothing', BASE.replace("'seen: {{cs}}'", "'seen: {{sc}}'")],
  ['a number answer naming no evidence', BASE.replace('answer: {evidence: fw2}', 'answer: {evidence: fw3}')],
  ['a number answer from text evidence', BASE.replace('answer: {evidence: fw2}', 'answer: {evidence: cs}')],
  ['a unit that is not the evidence\'s', BASE.replace('unit: ms', 'unit: s')],
  ['an unknown kind of prediction', BASE.replace('kind: number', 'kind: essay')],
  ['an unknown field', BASE.replace('scenario: 1', 'scenario: 1\nscenery: 2')],
  ['an unknown kind of evidence', BASE.replace('cs: {states:', 'cs: {stats:')],
  ['a bad tolerance', BASE.replace('tolerance: 100', "tolerance: 'a bit'")],
  ['an order answer that is not an order of its items', BASE + `  - id: order
    kind: order
    question: {en: Order?}
    items: [A, B, C]
    answer: [A, B, B]
    reveal: {en: '{{cs}}'}
`],
  ['the same prediction id twice', BASE.replace('  - id: ms', '  - id: who')],
  ['a bad state in evidence', BASE.replace('state: FIN-WAIT-2', 'state: FIN_WAIT_2')],
  ['no English text', BASE.replace('title: {en: Mine, zh: 我的}', 'title: {zh: 我的}')],
  ['an inline profile with params', BASE.replace('  profile: passthrough', "  profile:\n    name: inline\n    description: d\n    params: {ms: {default: 1, description: x}}")],
];
