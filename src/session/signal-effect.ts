// What a signal does to a process that receives it (signal(7)): its default
// action, and whether this process catches or ignores it (the SigCgt and
// SigIgn masks of /proc/<pid>/status) — so that a signal rule holds its
// segment until a process is gone only when the signal really ends it. Pure
// but for readStatus, which reads /proc.

import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

type DefaultAction = 'term' | 'core' | 'stop' | 'ignore' | 'continue';

/** signal(7), "Standard signals": the default action of each. */
const DEFAULT_ACTION: Readonly<Record<string, DefaultAction>> = {
  HUP: 'term', INT: 'term', QUIT: 'core', ILL: 'core', TRAP: 'core', ABRT: 'core', BUS: 'core', FPE: 'core',
  KILL: 'term', USR1: 'term', SEGV: 'core', USR2: 'term', PIPE: 'term', ALRM: 'term', TERM: 'term', STKFLT: 'term',
  CHLD: 'ignore', CONT: 'continue', STOP: 'stop', TSTP: 'stop', TTIN: 'stop', TTOU: 'stop', URG: 'ignore',
  XCPU: 'core', XFSZ: 'core', VTALRM: 'term', PROF: 'term', WINCH: 'ignore', IO: 'term', PWR: 'term', SYS: 'core',
};

/** What a process does with a signal: its default action, or its own handler, or nothing. */
export type Disposition = 'default' | 'caught' | 'ignored';

/**
 * The disposition of signal `name` in a /proc/<pid>/status text: SigCgt and
 * SigIgn are hex masks, bit n-1 for signal n. KILL and STOP can be neither
 * caught nor ignored. Undefined when the text does not say.
 */
export function dispositionIn(status: string, name: string): Disposition | undefined {
  if (name === 'KILL' || name === 'STOP') return 'default';
  const n = constants.signals[`SIG${name}` as keyof typeof constants.signals];
  if (n === undefined) return undefined;
  const mask = (field: string): bigint | undefined => {
    const m = new RegExp(`^${field}:\\s*([0-9a-fA-F]+)$`, 'm').exec(status);
    return m ? BigInt(`0x${m[1]}`) : undefined;
  };
  const caught = mask('SigCgt');
  const ignored = mask('SigIgn');
  if (caught === undefined || ignored === undefined) return undefined;
  const bit = 1n << BigInt(n - 1);
  if (ignored & bit) return 'ignored';
  if (caught & bit) return 'caught';
  return 'default';
}

/**
 * What to wait for after sending `name` to a process with this disposition:
 * its exit (the default action ends it), its stop, or nothing (caught,
 * ignored, or harmless by default: CHLD, URG, WINCH, CONT).
 */
export function effectOf(name: string, disposition: Disposition | undefined): 'exit' | 'stop' | 'nothing' {
  const action = DEFAULT_ACTION[name];
  // Unknown disposition (the process is already gone, /proc unreadable): assume the default.
  if (disposition !== undefined && disposition !== 'default') return 'nothing';
  if (action === 'term' || action === 'core') return 'exit';
  if (action === 'stop') return 'stop';
  return 'nothing';
}

/** /proc/<pid>/status, or undefined once the process is gone. */
export function readStatus(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Whether /proc/<pid>/status says the process is stopped (State: T) — or gone. */
export function stoppedOrGone(pid: number): boolean {
  const s = readStatus(pid);
  return s === undefined || /^State:\s*[Tt]/m.test(s);
}
