// Turns one key press into engine commands and UI actions, as a pure function
// of the key and the UI's current mode (ink's parse-keypress.ts is the model:
// the hook only forwards, all decisions live here and are unit-tested).

import type { Direction } from '../engine/events.js';
import type { Endpoint, TcpState } from '../tcp/state.js';
import { nextEventKind, type EventKind } from './filters.js';
import type { ControlCommand } from '../engine/control.js';

/** The part of ink's `Key` we read; absent fields mean "not pressed", so tests can pass `{}`. */
export interface InkKey {
  readonly upArrow?: boolean;
  readonly downArrow?: boolean;
  readonly pageUp?: boolean;
  readonly pageDown?: boolean;
  readonly home?: boolean;
  readonly end?: boolean;
  readonly return?: boolean;
  readonly escape?: boolean;
  readonly ctrl?: boolean;
  readonly backspace?: boolean;
  readonly delete?: boolean;
}

/**
 * normal: the dashboard. drop-dir: `d` was pressed, waiting for c/s.
 * fin-ms: `f` was pressed, typing the delay. help: the overlay. profile: the picker.
 * filter: `/` was pressed, typing the connection filter.
 */
export type UiMode = 'normal' | 'drop-dir' | 'fin-ms' | 'help' | 'profile' | 'filter';

export interface KeyContext {
  readonly mode: UiMode;
  /** Connection number of the selected row, if any. */
  readonly selectedConn?: number;
  /** Its endpoints' states as inferred (a RST to a CLOSED end has nothing to reset). */
  readonly selectedStates?: Readonly<Record<Endpoint, TcpState | undefined>>;
  /**
   * tcpmitm is in the path (lab, attach, intercept) and decides each
   * segment's fate; false for tap, which watches beside it and can only
   * forge RSTs (default true).
   */
  readonly inline?: boolean;
  /** Hold mode as the UI last set it (the engine announces nothing for it). */
  readonly holdOn: boolean;
  /** Absolute sequence numbers shown (tcpdump -S). */
  readonly absolute?: boolean;
  /** TCP options shown on the ladder; whether the run reads them at all (--tcp-options). */
  readonly options?: boolean;
  readonly optionsRead?: boolean;
  /** Digits typed so far at the fin-ms prompt. */
  readonly finBuffer?: string;
  /** The connection filter in force, and what is typed at the filter prompt. */
  readonly connFilter?: string;
  readonly filterBuffer?: string;
  /** The event pane's kind. */
  readonly eventKind?: EventKind;
  /** The view is paused (the traffic never is). */
  readonly paused?: boolean;
  /** The profile picker's list and cursor. */
  readonly profiles?: readonly string[];
  readonly profileCursor?: number;
  /** The profile in force: the picker opens on it. */
  readonly currentProfile?: string;
  /** The help page shown, and how many pages the help has at this terminal's size (help.ts). */
  readonly helpPage?: number;
  readonly helpPages?: number;
  /** The run has ended: nothing reaches its connections any more, only the view's keys act. */
  readonly ended?: boolean;
  /** The id the next command given by hand gets (ControlCommand's `hand`; default 1). */
  readonly nextHand?: number;
}

export type UiAction =
  /** Move the connection selection by `delta` rows. */
  | { readonly type: 'select'; readonly delta: number }
  /** Scroll the ladder by `pages` pages (negative: back in time); `'end'` follows the newest again. */
  | { readonly type: 'scroll'; readonly pages: number | 'end' | 'start' }
  /** Scroll the event pane by `pages` pages (negative: older); scrolling past the newest follows again. */
  | { readonly type: 'scroll-events'; readonly pages: number }
  /** Enter another mode; `finBuffer` and `profileCursor` come with the modes that use them. */
  | { readonly type: 'mode'; readonly mode: UiMode }
  | { readonly type: 'fin-buffer'; readonly value: string }
  | { readonly type: 'profile-cursor'; readonly index: number }
  /** The help page shown (0: the first). */
  | { readonly type: 'help-page'; readonly page: number }
  /** The UI's record of hold mode. */
  | { readonly type: 'hold'; readonly on: boolean }
  /** Absolute (tcpdump -S) or relative sequence numbers on the ladder. */
  | { readonly type: 'absolute'; readonly on: boolean }
  /** Each segment's TCP options on the ladder, or not. */
  | { readonly type: 'options'; readonly on: boolean }
  /** The connection filter (filters.ts), '' for none; and what the prompt holds while typing it. */
  | { readonly type: 'conn-filter'; readonly value: string }
  | { readonly type: 'filter-buffer'; readonly value: string }
  /** The kinds of event the pane shows. */
  | { readonly type: 'event-kind'; readonly kind: EventKind }
  /** Pause or resume the view (the App's event hook holds it: use-event-model.ts). */
  | { readonly type: 'pause'; readonly on: boolean }
  /** The profile now in force, for the header. */
  | { readonly type: 'profile'; readonly name: string }
  /** A one-line message for the help bar ("select a connection first"). */
  | { readonly type: 'message'; readonly text: string }
  /** The message just set announces the command with id `hand`, still to take effect: it goes once the engine has done it. */
  | { readonly type: 'await'; readonly hand: number }
  /** q quits; Ctrl-C interrupts (the run then exits 130, as on a signal). */
  | { readonly type: 'quit'; readonly interrupt?: true };

/** How a person ended the run from the UI: q, or Ctrl-C (an interrupt, exit 130). */
export type QuitHow = 'quit' | 'interrupt';

export interface KeyResult {
  readonly commands: ControlCommand[];
  readonly ui: UiAction[];
}

/** The delay `f` proposes when Enter is pressed on an empty prompt. */
export const DEFAULT_FIN_DELAY_MS = 500;
/** Longest accepted delay: above a minute the peers' own timers (RTO back-off, tcp_fin_timeout) decide instead. */
export const MAX_FIN_DELAY_MS = 60_000;

const NONE: KeyResult = { commands: [], ui: [] };

function ui(...actions: UiAction[]): KeyResult {
  return { commands: [], ui: actions };
}

/**
 * One input from ink as the keys it holds, in order. Keys typed faster than
 * the UI reads them (a busy machine, a paste, tmux's send-keys of several
 * keys) reach ink as one chunk; ink splits off escape sequences (arrows, PgUp)
 * but hands a run of plain characters over as one `input` ("dc", "750\r",
 * "\x7f\x7f8080"; an Esc never: ink hands it over alone). Each character becomes
 * the key ink would have reported for it alone (parse-keypress.ts): Enter,
 * Backspace/DEL, Ctrl-letter, or itself.
 */
export function splitKeys(input: string, key: InkKey): { input: string; key: InkKey }[] {
  const chars = [...input];
  if (chars.length <= 1) return [{ input, key }];
  return chars.map((ch) => {
    if (ch === '\r') return { input: '', key: { return: true } };
    if (ch === '\u007f') return { input: '', key: { delete: true } };
    if (ch === '\b') return { input: '', key: { backspace: true } };
    if (ch < ' ') return { input: String.fromCharCode(ch.charCodeAt(0) + 96), key: { ctrl: true } };
    return { input: ch, key: {} };
  });
}

export function interpretKey(input: string, key: InkKey, ctx: KeyContext): KeyResult {
  // Ctrl-C quits from every mode: ink is told not to exit on it, so the
  // caller can tear the lab down first.
  if (key.ctrl && input === 'c') return ui({ type: 'quit', interrupt: true });

  switch (ctx.mode) {
    case 'help':
      return help(input, key, ctx);
    case 'drop-dir':
      return dropDir(input, key, ctx);
    case 'fin-ms':
      return finMs(input, key, ctx);
    case 'profile':
      return profile(input, key, ctx);
    case 'filter':
      return filter(input, key, ctx);
    case 'normal':
      return normal(input, key, ctx);
  }
}

function normal(input: string, key: InkKey, ctx: KeyContext): KeyResult {
  if (key.upArrow) return ui({ type: 'select', delta: -1 });
  if (key.downArrow) return ui({ type: 'select', delta: 1 });
  if (key.pageUp) return ui({ type: 'scroll', pages: -1 });
  if (key.pageDown) return ui({ type: 'scroll', pages: 1 });
  if (key.home) return ui({ type: 'scroll', pages: 'start' });
  if (key.end) return ui({ type: 'scroll', pages: 'end' });
  if (key.ctrl || key.escape) return NONE;

  const conn = ctx.selectedConn;
  const needConn = (f: (c: number) => KeyResult): KeyResult =>
    conn === undefined ? ui({ type: 'message', text: 'no connection selected' }) : f(conn);
  if (ctx.ended === true && ACTING.has(input)) {
    return ui({ type: 'message', text: 'the run has ended: nothing reaches its connections any more (q closes)' });
  }
  if (ctx.inline === false && INLINE_ONLY.has(input)) {
    return ui({ type: 'message', text: 'tap watches beside the path: it cannot drop, delay or hold segments, only forge RSTs (r/R/b); use tcpmitm lab or attach' });
  }

  switch (input) {
    case 'r':
      return needConn((c) => rst(c, 'client', ctx));
    case 'R':
      return needConn((c) => rst(c, 'server', ctx));
    case 'b':
      return needConn((c) => rst(c, 'both', ctx));
    case 'd':
      return needConn((c) => closedBoth(c, ctx, 'drop') ?? ui({ type: 'mode', mode: 'drop-dir' }));
    case 'f':
      return needConn((c) => closedBoth(c, ctx, 'delay') ?? ui({ type: 'fin-buffer', value: '' }, { type: 'mode', mode: 'fin-ms' }));
    case 'h': {
      const on = !ctx.holdOn;
      return {
        commands: [{ kind: 'hold-mode', on }],
        ui: [{ type: 'hold', on }, { type: 'message', text: on ? 'hold mode on: segments wait at tcpmitm' : 'hold mode off' }],
      };
    }
    case ' ':
      return { commands: [{ kind: 'release-first' }], ui: [] };
    case 'x':
      return { commands: [{ kind: 'drop-first-held' }], ui: [] };
    case 'a':
      return { commands: [{ kind: 'release-all' }], ui: [{ type: 'hold', on: false }] };
    case 'p': {
      const list = ctx.profiles ?? [];
      if (list.length === 0) return ui({ type: 'message', text: 'no profiles to pick from' });
      const at = ctx.currentProfile === undefined ? -1 : list.indexOf(ctx.currentProfile);
      return ui({ type: 'profile-cursor', index: Math.max(0, at) }, { type: 'mode', mode: 'profile' });
    }
    case '[':
      return ui({ type: 'scroll-events', pages: -1 });
    case ']':
      return ui({ type: 'scroll-events', pages: 1 });
    case 'o': {
      if (ctx.optionsRead !== true) return ui({ type: 'message', text: 'no segment carries its TCP options in this run: start it with --tcp-options' });
      const on = ctx.options !== true;
      return ui({ type: 'options', on }, { type: 'message', text: on ? 'TCP options on the ladder, as tcpdump prints them' : 'TCP options hidden' });
    }
    case '/':
      return ui({ type: 'filter-buffer', value: ctx.connFilter ?? '' }, { type: 'mode', mode: 'filter' });
    case 'e': {
      const kind = nextEventKind(ctx.eventKind ?? 'all');
      return ui({ type: 'event-kind', kind }, { type: 'message', text: kind === 'all' ? 'events: all kinds' : `events: ${kind} only (e for the next kind)` });
    }
    case 'P': {
      const on = ctx.paused !== true;
      return ui({ type: 'pause', on }, { type: 'message', text: on ? 'view paused: the traffic goes on, its events wait (P resumes)' : 'view resumed' });
    }
    case 'S': {
      const on = ctx.absolute !== true;
      return ui({ type: 'absolute', on }, { type: 'message', text: on ? 'absolute sequence numbers (as tcpdump -S)' : 'sequence numbers relative to each ISN' });
    }
    case '?':
      return ui({ type: 'help-page', page: 0 }, { type: 'mode', mode: 'help' });
    case 'q':
      return ui({ type: 'quit' });
    default:
      return NONE;
  }
}

/** Keys that act on segments in the path: tap has none of them. */
const INLINE_ONLY: ReadonlySet<string> = new Set(['d', 'f', 'h', ' ', 'x', 'a']);

/** Keys that act on the run (its segments, its profile, the flow of its events): once it has ended, none has anything to act on. */
const ACTING: ReadonlySet<string> = new Set([...INLINE_ONLY, 'r', 'R', 'b', 'p', 'P']);

/** d and f wait for a segment still to come: a connection closed on both ends sends none (its announcement would stay for ever). */
function closedBoth(conn: number, ctx: KeyContext, what: 'drop' | 'delay'): KeyResult | undefined {
  const st = ctx.selectedStates;
  if (st?.client !== 'CLOSED' || st.server !== 'CLOSED') return undefined;
  return ui({ type: 'message', text: `#${conn} is closed on both ends: no segment is left to ${what}` });
}

/** A forged RST to the ends that still have a connection to reset; a closed end gets a message, not a command. */
function rst(conn: number, to: Endpoint | 'both', ctx: KeyContext): KeyResult {
  const closed = (e: Endpoint): boolean => ctx.selectedStates?.[e] === 'CLOSED';
  const ends: Endpoint[] = to === 'both' ? ['client', 'server'] : [to];
  const open = ends.filter((e) => !closed(e));
  if (open.length === 0) {
    const who = to === 'both' ? `#${conn} is closed on both ends` : `the ${to} of #${conn} is CLOSED`;
    return ui({ type: 'message', text: `${who}: there is no connection left to reset` });
  }
  const target: Endpoint | 'both' = open.length === 2 ? 'both' : open[0]!;
  const skipped = ends.find(closed);
  return {
    commands: [{ kind: 'rst', conn, to: target }],
    ui: skipped === undefined ? [] : [{ type: 'message', text: `RST to the ${target} only: the ${skipped} of #${conn} is CLOSED` }],
  };
}

/**
 * `c` means the next segment *from the client* (c2s), `s` the next one from
 * the server (s2c): the segment is named by who sends it, as in the ladder
 * where its arrow starts on the sender's side.
 */
function dropDir(input: string, key: InkKey, ctx: KeyContext): KeyResult {
  const back = { type: 'mode', mode: 'normal' } as const;
  let dir: Direction | undefined;
  if (input === 'c') dir = 'c2s';
  else if (input === 's') dir = 's2c';
  if (dir !== undefined && ctx.selectedConn !== undefined) {
    const hand = ctx.nextHand ?? 1;
    return {
      commands: [{ kind: 'drop-next', conn: ctx.selectedConn, dir, hand }],
      ui: [back, { type: 'message', text: `dropping the next segment from the ${dir === 'c2s' ? 'client' : 'server'}…` }, { type: 'await', hand }],
    };
  }
  if (key.escape || input === 'q' || dir !== undefined) return ui(back);
  return ui({ type: 'message', text: 'drop the next segment from: c = client, s = server, Esc = cancel' });
}

function finMs(input: string, key: InkKey, ctx: KeyContext): KeyResult {
  const buf = ctx.finBuffer ?? '';
  const back = { type: 'mode', mode: 'normal' } as const;
  if (key.escape) return ui(back);
  if (key.return) {
    const ms = buf === '' ? DEFAULT_FIN_DELAY_MS : Number.parseInt(buf, 10);
    if (ctx.selectedConn === undefined) return ui(back, { type: 'message', text: 'no connection selected' });
    if (!(ms > 0) || ms > MAX_FIN_DELAY_MS) {
      return ui({ type: 'message', text: `delay must be 1–${MAX_FIN_DELAY_MS} ms, got ${buf}` });
    }
    const hand = ctx.nextHand ?? 1;
    return {
      commands: [{ kind: 'delay-next-fin', conn: ctx.selectedConn, ms, hand }],
      ui: [back, { type: 'message', text: `delaying the next FIN by ${ms} ms…` }, { type: 'await', hand }],
    };
  }
  // ink reports the Backspace key as `delete` on most terminals (it sends DEL, 0x7f).
  if (key.backspace || key.delete) return ui({ type: 'fin-buffer', value: buf.slice(0, -1) });
  if (/^[0-9]+$/.test(input) && buf.length + input.length <= 6) {
    return ui({ type: 'fin-buffer', value: (buf + input).replace(/^0+(?=\d)/, '') });
  }
  return NONE;
}

/** Typing the connection filter: Enter applies it (empty: none), Esc leaves it as it was. */
function filter(input: string, key: InkKey, ctx: KeyContext): KeyResult {
  const buf = ctx.filterBuffer ?? '';
  const back = { type: 'mode', mode: 'normal' } as const;
  if (key.escape) return ui(back);
  if (key.return) {
    const value = buf.trim();
    return ui(back, { type: 'conn-filter', value }, { type: 'message', text: value === '' ? 'all connections' : `connections matching: ${value}` });
  }
  if (key.backspace || key.delete) return ui({ type: 'filter-buffer', value: buf.slice(0, -1) });
  if (key.ctrl || input < ' ' || buf.length + input.length > 60) return NONE;
  return ui({ type: 'filter-buffer', value: buf + input });
}

/** Space (or PgDn, ↓) turns to the next page, as in less, and closes the help after the last; PgUp/↑ go back; q quits; any other key closes it. */
function help(input: string, key: InkKey, ctx: KeyContext): KeyResult {
  const page = ctx.helpPage ?? 0;
  const pages = ctx.helpPages ?? 1;
  if (input === 'q') return ui({ type: 'quit' });
  if (input === ' ' || key.pageDown || key.downArrow) {
    return page + 1 < pages ? ui({ type: 'help-page', page: page + 1 }) : ui({ type: 'mode', mode: 'normal' });
  }
  if (key.pageUp || key.upArrow) return ui({ type: 'help-page', page: Math.max(0, page - 1) });
  return ui({ type: 'mode', mode: 'normal' });
}

function profile(input: string, key: InkKey, ctx: KeyContext): KeyResult {
  const list = ctx.profiles ?? [];
  const cur = Math.min(Math.max(ctx.profileCursor ?? 0, 0), Math.max(list.length - 1, 0));
  const back = { type: 'mode', mode: 'normal' } as const;
  if (key.escape || input === 'q') return ui(back);
  if (key.upArrow) return ui({ type: 'profile-cursor', index: Math.max(0, cur - 1) });
  if (key.downArrow) return ui({ type: 'profile-cursor', index: Math.min(list.length - 1, cur + 1) });
  if (key.return) {
    const name = list[cur];
    if (name === undefined) return ui(back);
    return {
      commands: [{ kind: 'set-profile', name }],
      ui: [back, { type: 'profile', name }, { type: 'message', text: `profile ${name} applies to new segments` }],
    };
  }
  return NONE;
}
