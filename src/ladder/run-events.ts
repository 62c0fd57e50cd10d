// A `--json` run log (JSON lines, docs/events.md) parsed into events, with the
// checks that tell a tcpmitm run from any other file: every line a JSON object
// with a `type` and a numeric `t`, the drawn events (connection, segment,
// state, action) in the shape they are written, and a `start` event. Unknown
// event types are kept (a newer tcpmitm may write more). Pure.

import type { TcpmitmEvent } from '../engine/events.js';

export type ParsedRun =
  | { readonly ok: true; readonly events: TcpmitmEvent[]; readonly cutShort: number | undefined }
  | { readonly ok: false; readonly line: number | undefined; readonly message: string };

type Check = (o: Record<string, unknown>) => string | undefined;

const num = (k: string): Check => (o) => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? undefined : `"${k}" is not a number`);
const str = (k: string): Check => (o) => (typeof o[k] === 'string' ? undefined : `"${k}" is not a string`);
const oneOf = (k: string, vs: readonly string[]): Check => (o) => (vs.includes(o[k] as string) ? undefined : `"${k}" is not one of ${vs.join(', ')}`);

const SHAPES: Readonly<Record<string, readonly Check[]>> = {
  start: [str('mode')],
  connection: [num('conn'), str('client'), str('server')],
  segment: [num('conn'), oneOf('dir', ['c2s', 's2c']), oneOf('from', ['client', 'server']), str('flags'), num('seq'), num('ack'), num('len'), str('role'), str('verdict')],
  state: [num('conn'), oneOf('endpoint', ['client', 'server']), str('from'), str('to'), oneOf('source', ['inferred', 'kernel'])],
  action: [num('conn'), str('action'), str('detail')],
};

export function parseRunJsonl(text: string): ParsedRun {
  const lines = text.split('\n');
  const events: TcpmitmEvent[] = [];
  let cutShort: number | undefined;
  let sawStart = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      // A log whose writer stopped mid-line (a full disk, a kill) ends without
      // a newline: its last line is cut short, the rest is whole (src/io/output-sink.ts).
      if (i === lines.length - 1 && events.length > 0) {
        cutShort = i + 1;
        continue;
      }
      return { ok: false, line: i + 1, message: `not JSON (${(err as Error).message})` };
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, line: i + 1, message: 'not a JSON object' };
    const o = v as Record<string, unknown>;
    if (typeof o['type'] !== 'string' || typeof o['t'] !== 'number' || !Number.isFinite(o['t'])) {
      return { ok: false, line: i + 1, message: 'not a tcpmitm event (an object with "type" and a numeric "t")' };
    }
    for (const check of SHAPES[o['type']] ?? []) {
      const bad = check(o);
      if (bad !== undefined) return { ok: false, line: i + 1, message: `not a tcpmitm ${o['type']} event: ${bad}` };
    }
    if (o['type'] === 'start') sawStart = true;
    events.push(o as unknown as TcpmitmEvent);
  }
  if (events.length === 0) return { ok: false, line: undefined, message: 'no events in it (empty)' };
  if (!sawStart) return { ok: false, line: undefined, message: 'not a tcpmitm run: it has no "start" event (write one with --json FILE)' };
  return { ok: true, events, cutShort };
}
