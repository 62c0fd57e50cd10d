// The UI's own state (mode, selection, ladder scroll, hold mode, prompts) and
// the pure function applying the UiActions that keys.ts produces to it.

import type { UiAction, UiMode } from './keys.js';
import { ladderWindow } from './ladder.js';
import type { EventKind } from './filters.js';

export interface UiState {
  readonly mode: UiMode;
  /** Selected connection number. */
  readonly selected: number | undefined;
  /** True once the user moved the selection: until then it follows the newest connection. */
  readonly pinned: boolean;
  /** Absolute ladder index at the top after scrolling back; undefined follows the newest. */
  readonly ladderTop: number | undefined;
  /** Absolute index (UiModel.eventsBase-based) of the event pane's first line after scrolling back; undefined follows the newest. */
  readonly eventsTop: number | undefined;
  readonly holdOn: boolean;
  /** Sequence numbers as on the wire (tcpdump -S) rather than relative to each ISN. */
  readonly absolute: boolean;
  /** Each segment's TCP options on the ladder (when the run reads them). */
  readonly options: boolean;
  readonly finBuffer: string;
  /** The connection filter in force ('' none) and the prompt's text while typing one. */
  readonly connFilter: string;
  readonly filterBuffer: string;
  /** The kinds of event the pane shows. */
  readonly eventKind: EventKind;
  readonly profileCursor: number;
  /** The help overlay's page. */
  readonly helpPage: number;
  readonly profile: string | undefined;
  readonly message: string | undefined;
  /** The message announces the command given by hand with id `hand`, not done yet: it goes once the engine has done it. */
  readonly awaiting: { readonly hand: number; readonly message: string } | undefined;
  /** The last id given to a command by hand (ControlCommand's `hand`). */
  readonly lastHand: number;
  /** The run's end has been shown: what the help bar said before it is gone. */
  readonly endSeen: boolean;
  readonly quitting: boolean;
  /** The quit was Ctrl-C: the run ends as interrupted (exit 130). */
  readonly interrupted: boolean;
}

export function initialUiState(profile: string | undefined): UiState {
  return {
    mode: 'normal',
    selected: undefined,
    pinned: false,
    ladderTop: undefined,
    eventsTop: undefined,
    holdOn: false,
    absolute: false,
    options: false,
    finBuffer: '',
    connFilter: '',
    filterBuffer: '',
    eventKind: 'all',
    profileCursor: 0,
    helpPage: 0,
    profile,
    message: undefined,
    awaiting: undefined,
    lastHand: 0,
    endSeen: false,
    quitting: false,
    interrupted: false,
  };
}

/** What the reducer needs to know about the screen: connection order and the ladder in view. */
export interface UiView {
  readonly connIds: readonly number[];
  readonly ladderBase: number;
  readonly ladderCount: number;
  readonly ladderRows: number;
  /** The event pane: absolute index of its first line, lines kept, lines shown. */
  readonly eventsBase?: number;
  readonly eventsCount?: number;
  readonly eventRows?: number;
}

/** The selection shown: the user's pick, else the newest connection. */
export function effectiveSelection(s: UiState, connIds: readonly number[]): number | undefined {
  if (s.pinned && s.selected !== undefined && connIds.includes(s.selected)) return s.selected;
  return connIds[connIds.length - 1];
}

/** Once the awaited command is done, its announcement goes (another message shown since then stays). */
export function settleAwaiting(s: UiState, handDone: (hand: number) => boolean): UiState {
  const w = s.awaiting;
  if (w === undefined || !handDone(w.hand)) return s;
  return { ...s, awaiting: undefined, message: s.message === w.message ? undefined : s.message };
}

/**
 * The run has ended: a message from before (an announcement still awaited,
 * "view paused") no longer holds, and the help bar gives the end's footer
 * instead, until a key says something new.
 */
export function settleEnded(s: UiState): UiState {
  return s.endSeen ? s : { ...s, endSeen: true, message: undefined, awaiting: undefined };
}

export function applyUiActions(state: UiState, actions: readonly UiAction[], view: UiView): UiState {
  // A key clears the previous message; a new one may replace it below.
  let s: UiState = state.message === undefined ? state : { ...state, message: undefined };
  for (const a of actions) {
    switch (a.type) {
      case 'select': {
        const ids = view.connIds;
        if (ids.length === 0) break;
        const cur = effectiveSelection(s, ids);
        const i = cur === undefined ? ids.length - 1 : ids.indexOf(cur);
        const next = ids[Math.min(ids.length - 1, Math.max(0, i + a.delta))];
        if (next !== cur) s = { ...s, selected: next, pinned: true, ladderTop: undefined };
        else s = { ...s, selected: next, pinned: true };
        break;
      }
      case 'scroll': {
        const h = Math.max(1, view.ladderRows);
        if (a.pages === 'end') {
          s = { ...s, ladderTop: undefined };
        } else if (a.pages === 'start') {
          s = { ...s, ladderTop: view.ladderBase };
        } else {
          const win = ladderWindow(view.ladderBase, view.ladderCount, h, s.ladderTop);
          const top = Math.max(view.ladderBase, win.start + a.pages * h);
          // Scrolling down past the newest line resumes following.
          s = { ...s, ladderTop: top + h >= view.ladderBase + view.ladderCount ? undefined : top };
        }
        break;
      }
      case 'scroll-events': {
        const h = Math.max(1, view.eventRows ?? 1);
        const base = view.eventsBase ?? 0;
        const count = view.eventsCount ?? 0;
        const win = ladderWindow(base, count, h, s.eventsTop);
        const top = Math.max(base, win.start + a.pages * h);
        s = { ...s, eventsTop: top + h >= base + count ? undefined : top };
        break;
      }
      case 'mode':
        s = { ...s, mode: a.mode };
        break;
      case 'fin-buffer':
        s = { ...s, finBuffer: a.value };
        break;
      case 'profile-cursor':
        s = { ...s, profileCursor: a.index };
        break;
      case 'help-page':
        s = { ...s, helpPage: a.page };
        break;
      case 'hold':
        s = { ...s, holdOn: a.on };
        break;
      case 'absolute':
        s = { ...s, absolute: a.on };
        break;
      case 'options':
        s = { ...s, options: a.on };
        break;
      case 'conn-filter':
        // The selection follows the newest matching connection again.
        s = { ...s, connFilter: a.value, pinned: false, ladderTop: undefined };
        break;
      case 'filter-buffer':
        s = { ...s, filterBuffer: a.value };
        break;
      case 'event-kind':
        s = { ...s, eventKind: a.kind, eventsTop: undefined };
        break;
      case 'pause':
        // Held by the App's event hook (use-event-model.ts), which may also resume by itself.
        break;
      case 'profile':
        s = { ...s, profile: a.name };
        break;
      case 'message':
        s = { ...s, message: a.text };
        break;
      case 'await':
        s = { ...s, lastHand: Math.max(s.lastHand, a.hand), awaiting: s.message === undefined ? undefined : { hand: a.hand, message: s.message } };
        break;
      case 'quit':
        s = { ...s, quitting: true, interrupted: s.interrupted || a.interrupt === true, message: 'quitting: tearing down…' };
        break;
    }
  }
  return s;
}
