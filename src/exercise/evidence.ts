// Reads an exercise's named evidence from a run's events: state histories
// with their times, the segment lines as the text log prints them, how long a
// state lasted, the gaps between matching segments (a FIN and its
// retransmissions), counts, application events. Pure: events in, text and
// numbers out, so every reveal quotes what this run did.

import type { ActionEvent, ExitEvent, SegmentEvent, StateEvent, TcpmitmEvent } from '../engine/events.js';
import { describeExit } from '../rules/expect.js';
import { TextLogFormatter } from '../io/text-log.js';
import { parseFlagLetters } from '../packet/build.js';
import { parseFlags } from '../rules/match.js';
import type { Messages } from './messages.js';
import type { Evidence, SegmentSelector } from './schema.js';

/** What one piece of evidence says about this run. */
export interface EvidenceReading {
  /** As quoted in a reveal (one or more lines). */
  readonly text: string;
  /** What it measures, when it is a number kind and the run showed it. */
  readonly value?: number;
  /** The run showed what the evidence looks for. */
  readonly seen: boolean;
}

function segmentMatcher(sel: SegmentSelector): (e: SegmentEvent) => boolean {
  const flags = sel.flags !== undefined ? parseFlags(sel.flags) : undefined;
  const roles = sel.role === undefined ? undefined : Array.isArray(sel.role) ? sel.role : [sel.role];
  const conn = sel.conn ?? 1;
  return (e) => {
    if (e.conn !== conn) return false;
    if (sel.from !== undefined && e.from !== sel.from) return false;
    if (roles !== undefined && !roles.includes(e.role)) return false;
    if (sel.verdict !== undefined && e.verdict !== sel.verdict) return false;
    if (flags !== undefined) {
      const f = parseFlagLetters(e.flags);
      if ((f & flags.set) !== flags.set || (f & flags.clear) !== 0) return false;
    }
    return true;
  };
}

function segmentsOf(events: readonly TcpmitmEvent[], sel: SegmentSelector): SegmentEvent[] {
  const match = segmentMatcher(sel);
  return events.filter((e): e is SegmentEvent => e.type === 'segment' && match(e));
}

function statesOf(events: readonly TcpmitmEvent[], endpoint: string, source: string, conn: number): StateEvent[] {
  return events.filter((e): e is StateEvent => e.type === 'state' && e.endpoint === endpoint && e.source === source && e.conn === conn);
}

const ms = (s: number): number => Math.round(s * 1000);
const at = (t: number): string => `${t.toFixed(3)}s`;

/** Gaps (ms) between consecutive times. */
function gapsOf(ts: readonly number[]): number[] {
  return ts.slice(1).map((t, i) => ms(t - ts[i]!));
}

/** The reading of one piece of evidence on these events (in the run's order). */
export function readEvidence(ev: Evidence, events: readonly TcpmitmEvent[], m: Messages): EvidenceReading {
  const none: EvidenceReading = { text: m.notSeen, seen: false };
  if ('states' in ev) {
    const s = ev.states;
    const seen = statesOf(events, s.endpoint, s.source ?? 'kernel', s.conn ?? 1);
    if (seen.length === 0) return none;
    return { text: [seen[0]!.from, ...seen.map((e) => `${e.to}@${at(e.t)}`)].join(' → '), seen: true };
  }
  if ('segments' in ev) {
    const { first, ...sel } = ev.segments;
    const segs = segmentsOf(events, sel);
    if (segs.length === 0) return none;
    const log = new TextLogFormatter({ segments: true });
    const shown = segs.slice(0, first ?? segs.length).map((e) => log.format(e)!);
    if (first !== undefined && segs.length > first) shown.push(`… (${segs.length - first} more)`);
    return { text: shown.join('\n'), seen: true };
  }
  if ('entered' in ev || 'dwell' in ev) {
    const s = 'entered' in ev ? ev.entered : ev.dwell;
    const own = statesOf(events, s.endpoint, s.source ?? 'kernel', s.conn ?? 1);
    const k = own.findIndex((e) => e.to === s.state);
    if (k < 0) return none;
    const entered = own[k]!;
    if ('entered' in ev) return { text: at(entered.t), value: entered.t, seen: true };
    const next = own[k + 1];
    if (next === undefined) {
      // Still in it: how long it lasted is not known, only a lower bound (until the run's last event).
      const last = Math.max(...events.map((e) => e.t));
      return { text: m.stillIn(s.state, ms(last - entered.t)), seen: true };
    }
    const d = ms(next.t - entered.t);
    return { text: `${d} ms (${s.state}@${at(entered.t)} → ${next.to}@${at(next.t)})`, value: d, seen: true };
  }
  if ('count' in ev) {
    const n = segmentsOf(events, ev.count).length;
    return { text: String(n), value: n, seen: true };
  }
  if ('gap' in ev) {
    const { nth, ...sel } = ev.gap;
    const ts = segmentsOf(events, sel).map((e) => e.t);
    const g = gapsOf(ts)[nth - 1];
    if (g === undefined) return none;
    return { text: `${g} ms (${at(ts[nth - 1]!)} → ${at(ts[nth]!)})`, value: g, seen: true };
  }
  if ('gaps' in ev) {
    const g = gapsOf(segmentsOf(events, ev.gaps).map((e) => e.t));
    if (g.length === 0) return none;
    return { text: `${g.join(', ')} ms`, seen: true };
  }
  if ('exit' in ev) {
    // The last exit of that end's program, as the text log prints it.
    const exit = events.filter((e): e is ExitEvent => e.type === 'exit' && e.endpoint === ev.exit.endpoint).at(-1);
    if (exit === undefined) return none;
    return { text: `${describeExit(exit, { at: false })} at ${at(exit.t)} (${exit.command})`, seen: true };
  }
  if ('actions' in ev) {
    const kinds = ev.actions.action === undefined ? undefined : ([] as string[]).concat(ev.actions.action);
    const conn = ev.actions.conn;
    const acts = events.filter((e): e is ActionEvent => e.type === 'action' && (kinds === undefined || kinds.includes(e.action)) && (conn === undefined || e.conn === conn));
    if (acts.length === 0) return none;
    const log = new TextLogFormatter({ segments: true });
    return { text: acts.map((e) => log.format(e)!).join('\n'), seen: true };
  }
  const app = events.filter((e) => e.type === 'app' && e.endpoint === ev.app.endpoint);
  if (app.length === 0) return none;
  return { text: app.map((e) => (e.type === 'app' ? `${e.event}@${at(e.t)}` : '')).join(' → '), seen: true };
}
