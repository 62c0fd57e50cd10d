import { describe, expect, it } from 'vitest';
import { junitXml, xmlText } from '../../../src/session/junit.js';
import { unanswerable, wireOnlyAbilities, type RunAbilities } from '../../../src/session/verdict.js';
import { ExpectSchema } from '../../../src/rules/schema.js';

describe('junitXml', () => {
  const suite = {
    name: 'tcpmitm lab ab12cd: profile drop-last-ack',
    timestamp: '2026-12-01T20:10:52',
    timeS: 6.5,
    properties: [['mode', 'lab']] as const,
    cases: [
      { classname: 'tcpmitm.drop-last-ack', name: 'run', status: 'met' as const },
      { classname: 'tcpmitm.drop-last-ack', name: 'client exit', status: 'failed' as const, expected: 'exit 0', observed: 'sh -c "exit 7": exit 7 at 0.4s' },
      { classname: 'tcpmitm.drop-last-ack', name: 'client app', status: 'not-checked' as const, expected: 'ECONNRESET', observed: 'not checked: --client is a custom command' },
    ],
    systemOut: 'profile drop-last-ack: 1 of 1 checks failed',
  };

  it('one testsuite, a testcase per check: failures with expected/observed, skipped with the reason, counts that agree', () => {
    const x = junitXml(suite);
    expect(x).toBe(
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<testsuites name="tcpmitm" tests="3" failures="1" errors="0" skipped="1" time="6.500">',
        '  <testsuite name="tcpmitm lab ab12cd: profile drop-last-ack" tests="3" failures="1" errors="0" skipped="1" time="6.500" timestamp="2026-12-01T20:10:52">',
        '    <properties>',
        '      <property name="mode" value="lab"/>',
        '    </properties>',
        '    <testcase classname="tcpmitm.drop-last-ack" name="run" time="0"/>',
        '    <testcase classname="tcpmitm.drop-last-ack" name="client exit" time="0">',
        '      <failure type="expectation" message="expected exit 0, observed sh -c &quot;exit 7&quot;: exit 7 at 0.4s">expected: exit 0',
        'observed: sh -c "exit 7": exit 7 at 0.4s</failure>',
        '    </testcase>',
        '    <testcase classname="tcpmitm.drop-last-ack" name="client app" time="0">',
        '      <skipped message="not checked: --client is a custom command"/>',
        '    </testcase>',
        '    <system-out>profile drop-last-ack: 1 of 1 checks failed</system-out>',
        '  </testsuite>',
        '</testsuites>',
        '',
      ].join('\n'),
    );
  });

  it('an interrupted run is an error case', () => {
    const x = junitXml({ ...suite, cases: [{ classname: 'c', name: 'run', status: 'error', message: 'interrupted (Ctrl-C) (exit 130)' }] });
    expect(x).toContain('errors="1"');
    expect(x).toContain('<error type="run" message="interrupted (Ctrl-C) (exit 130)">interrupted (Ctrl-C) (exit 130)</error>');
  });

  it("escapes markup, keeps newlines in attributes, and drops bytes XML cannot carry (a program's output may hold anything)", () => {
    expect(xmlText('a < b && c > "d"')).toBe('a &lt; b &amp;&amp; c &gt; "d"');
    expect(xmlText('bell\u0007 esc\u001B[31m nul\u0000')).toBe('bell\uFFFD esc\uFFFD[31m nul\uFFFD');
    const x = junitXml({ ...suite, cases: [{ classname: 'c', name: 'n', status: 'not-checked', observed: 'line 1\nline "2"\t<3>' }] });
    expect(x).toContain('<skipped message="line 1&#10;line &quot;2&quot;&#9;&lt;3&gt;"/>');
  });
});

describe('unanswerable expectations', () => {
  const lab = (over: Partial<RunAbilities>): RunAbilities => ({
    mode: 'lab',
    kernel: true,
    app: { client: true, server: true },
    programs: { client: true, server: true },
    expectations: true,
    ...over,
  });

  it('names each check the run can never make, and nothing else', () => {
    const x = ExpectSchema.parse({
      client: { states: ['ESTAB'], source: 'kernel', app: ['ECONNRESET'], exit: 7 },
      server: { states: ['ESTAB'], app: ['eof'] },
    });
    expect(unanswerable(x, lab({}))).toEqual([]);
    expect(unanswerable(x, lab({ kernel: 'the kernel probe is off', app: { client: '--client is a custom command', server: true } }))).toEqual([
      'client states from the kernel (source: kernel), but the kernel probe is off',
      "client app events (ECONNRESET), but --client is a custom command: only tcpmitm's built-in peers report them",
    ]);
    // source: both is answerable without a probe: its kernel half is reported not checked.
    expect(unanswerable(ExpectSchema.parse({ client: { states: ['ESTAB'] } }), wireOnlyAbilities('attach', 'no probe', true))).toEqual([]);
    expect(unanswerable(x, wireOnlyAbilities('tap', 'tap has no kernel probe', true))).toEqual([
      'client states from the kernel (source: kernel), but tap has no kernel probe',
      "client app events (ECONNRESET), but tap runs no programs of its own: only tcpmitm's built-in peers report them",
      "how the client's program ends (exit: 7), but tap runs no programs of its own",
      "server app events (eof), but tap runs no programs of its own: only tcpmitm's built-in peers report them",
    ]);
  });
});
