// The run's verdict as JUnit XML (`--junit FILE`), the format CI systems
// read: one testsuite per run, one testcase per check (a profile expectation,
// a program's exit) and one for the run itself. Pure: a description in, text out.
//
// Shape (the common JUnit schema that Jenkins, GitLab, GitHub reporters and
// junitparser read): <testsuites><testsuite name tests failures errors
// skipped time timestamp><properties/><testcase classname name time>
// [<failure message type>text</failure> | <error …/> | <skipped message/>]
// </testcase>…<system-out/></testsuite></testsuites>.

import type { CheckStatus } from '../engine/events.js';

export interface JunitCase {
  /** Groups cases in a report: "tcpmitm.<profile>". */
  readonly classname: string;
  readonly name: string;
  /** `error`: the run itself did not complete (interrupted, a runtime failure). */
  readonly status: CheckStatus | 'error';
  readonly expected?: string;
  readonly observed?: string;
  /** For an error: what went wrong. */
  readonly message?: string;
}

export interface JunitSuite {
  readonly name: string;
  /** ISO 8601 start of the run. */
  readonly timestamp: string;
  /** Length of the run, seconds. */
  readonly timeS: number;
  readonly properties: readonly (readonly [string, string])[];
  readonly cases: readonly JunitCase[];
  /** The end-of-run report, for people reading the CI log. */
  readonly systemOut?: string;
}

/** XML 1.0 text: escapes markup and drops characters XML cannot carry (control bytes from a program's output). */
export function xmlText(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

function attr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

function caseXml(c: JunitCase): string {
  const open = `    <testcase classname="${attr(c.classname)}" name="${attr(c.name)}" time="0"`;
  const detail = `expected: ${c.expected ?? ''}\nobserved: ${c.observed ?? ''}`;
  switch (c.status) {
    case 'met':
      return `${open}/>`;
    case 'failed':
      return `${open}>\n      <failure type="expectation" message="${attr(`expected ${c.expected ?? ''}, observed ${c.observed ?? ''}`)}">${xmlText(detail)}</failure>\n    </testcase>`;
    case 'not-checked':
      return `${open}>\n      <skipped message="${attr(c.observed ?? 'not checked')}"/>\n    </testcase>`;
    case 'error':
      return `${open}>\n      <error type="run" message="${attr(c.message ?? 'the run did not complete')}">${xmlText(c.message ?? '')}</error>\n    </testcase>`;
  }
}

export function junitXml(s: JunitSuite): string {
  const n = (st: JunitCase['status']): number => s.cases.filter((c) => c.status === st).length;
  const counts = `tests="${s.cases.length}" failures="${n('failed')}" errors="${n('error')}" skipped="${n('not-checked')}" time="${s.timeS.toFixed(3)}"`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tcpmitm" ${counts}>`,
    `  <testsuite name="${attr(s.name)}" ${counts} timestamp="${attr(s.timestamp)}">`,
  ];
  if (s.properties.length > 0) {
    lines.push('    <properties>');
    for (const [k, v] of s.properties) lines.push(`      <property name="${attr(k)}" value="${attr(v)}"/>`);
    lines.push('    </properties>');
  }
  for (const c of s.cases) lines.push(caseXml(c));
  if (s.systemOut !== undefined) lines.push(`    <system-out>${xmlText(s.systemOut)}</system-out>`);
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
