// The verdict's own memory: what it keeps during a run must not grow with the
// traffic when there is nothing to check, and its report counts every rule hit.

import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src/engine/event-bus.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { OutputFailures } from '../../../src/session/output-failures.js';
import type { ChosenProfile } from '../../../src/session/profile-choice.js';
import { Verdict, type RunAbilities } from '../../../src/session/verdict.js';

const abilities: RunAbilities = { mode: 'tap', kernel: 'tap has no kernel probe', app: { client: 'no', server: 'no' }, programs: { client: 'no', server: 'no' }, expectations: true };

function run(profile: ChosenProfile, events: number): { report: string; kept: number } {
  const bus = new EventBus(() => 0);
  const v = new Verdict({ bus, profile, abilities, report: false, outputs: new OutputFailures(() => {}), title: 'unit' });
  for (let i = 0; i < events; i++) {
    const conn = i + 1;
    bus.emit({ type: 'connection', t: i / 1e4, conn, client: `198.18.${i >> 8 & 255}.${i & 255}:1000`, server: '198.18.0.2:80', pickedUp: false });
    bus.emit({ type: 'state', t: i / 1e4, conn, endpoint: 'client', from: 'CLOSED', to: 'SYN-SENT', source: 'inferred', cause: 'observed SYN' } as TcpmitmEvent);
    bus.emit({ type: 'segment', t: i / 1e4, conn, dir: 'c2s', from: 'client', flags: 'S', seq: 0, ack: 0, len: 0, win: 1, role: 'syn', verdict: 'drop', rule: 1 } as TcpmitmEvent);
  }
  // Private: what it holds, and the report conclude() would print.
  const kept = (v as unknown as { recorded: unknown[] }).recorded.length;
  const report = (v as unknown as { report(results: [], checked: boolean): string }).report([], true);
  return { report, kept };
}

function keptAfterExit(profile: ChosenProfile): number {
  const bus = new EventBus(() => 0);
  const v = new Verdict({ bus, profile, abilities, report: false, outputs: new OutputFailures(() => {}), title: 'unit' });
  bus.emit({ type: 'exit', t: 1, endpoint: 'client', command: 'true', code: 0, by: 'itself' } as unknown as TcpmitmEvent);
  return (v as unknown as { recorded: unknown[] }).recorded.length;
}

const base = { file: 'unit.yaml', builtin: false, builtins: [] };

describe('verdict', () => {
  it('keeps no event when the profile has nothing to check, and counts every rule hit for its report', () => {
    const profile: ChosenProfile = { ...base, name: 'drop-syn', profile: { name: 'drop-syn', rules: [{ match: { role: 'syn' }, action: 'drop' }] } as ChosenProfile['profile'] };
    const r = run(profile, 250_000);
    expect(r.kept).toBe(0);
    // A program's exit is a check of its own, expectations or not.
    expect(keptAfterExit(profile)).toBe(1);
    // Beyond the 200 000 events a run with checks keeps: the count is whole.
    expect(r.report).toContain('drop ×250000');
  });

  it('keeps the events its checks read when the profile has expectations', () => {
    const expectations = { client: { states: ['SYN-SENT'] } };
    const profile: ChosenProfile = { ...base, name: 'x', profile: { name: 'x', rules: [], expect: expectations } as unknown as ChosenProfile['profile'], expect: expectations as unknown as ChosenProfile['expect'] };
    expect(run(profile, 10).kept).toBe(20);
  });
});
