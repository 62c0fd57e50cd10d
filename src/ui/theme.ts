// Colours of the dashboard, and the one switch that turns them all off:
// NO_COLOR (https://no-color.org) when set to anything non-empty.

import type { LadderTone } from './ladder.js';
import type { EventTone } from './model.js';

export function colorWanted(env: NodeJS.ProcessEnv): boolean {
  const v = env['NO_COLOR'];
  return v === undefined || v === '';
}

const LADDER: Record<LadderTone, string | undefined> = {
  pass: undefined,
  drop: 'red',
  delay: 'yellow',
  forged: 'magenta',
  coalesce: 'cyan',
  hold: 'yellow',
  duplicate: 'blue',
  replay: 'blue',
  retransmission: 'yellowBright',
  state: 'green',
};

const EVENT: Record<EventTone, string | undefined> = {
  info: undefined,
  state: 'green',
  kernel: 'gray',
  action: 'yellow',
  ok: 'green',
  fail: 'red',
  warn: 'yellow',
  app: 'cyan',
};

export function ladderColor(tone: LadderTone, color: boolean): string | undefined {
  return color ? LADDER[tone] : undefined;
}

export function eventColor(tone: EventTone, color: boolean): string | undefined {
  return color ? EVENT[tone] : undefined;
}

/** `c` when colour is on, else undefined (ink then emits no colour codes). */
export function tint(c: string, color: boolean): string | undefined {
  return color ? c : undefined;
}
