import { describe, expect, it } from 'vitest';
import { interpretKey, type KeyContext } from '../../../src/ui/keys.js';
import { applyUiActions, effectiveSelection, initialUiState, type UiView } from '../../../src/ui/ui-state.js';

const normal: KeyContext = { mode: 'normal', selectedConn: 3, holdOn: false };

describe('interpretKey: normal mode', () => {
  it('r / R / b forge RSTs on the selected connection', () => {
    expect(interpretKey('r', {}, normal).commands).toEqual([{ kind: 'rst', conn: 3, to: 'client' }]);
    expect(interpretKey('R', { shift: true } as never, normal).commands).toEqual([{ kind: 'rst', conn: 3, to: 'server' }]);
    expect(interpretKey('b', {}, normal).commands).toEqual([{ kind: 'rst', conn: 3, to: 'both' }]);
  });
  it('refuses connection keys without a selection', () => {
    const ctx: KeyContext = { mode: 'normal', holdOn: false };
    for (const k of ['r', 'R', 'b', 'd', 'f']) {
      const res = interpretKey(k, {}, ctx);
      expect(res.commands).toEqual([]);
      expect(res.ui).toEqual([{ type: 'message', text: 'no connection selected' }]);
    }
  });
  it('arrows select, page keys scroll', () => {
    expect(interpretKey('', { upArrow: true }, normal).ui).toEqual([{ type: 'select', delta: -1 }]);
    expect(interpretKey('', { downArrow: true }, normal).ui).toEqual([{ type: 'select', delta: 1 }]);
    expect(interpretKey('', { pageUp: true }, normal).ui).toEqual([{ type: 'scroll', pages: -1 }]);
    expect(interpretKey('', { pageDown: true }, normal).ui).toEqual([{ type: 'scroll', pages: 1 }]);
    expect(interpretKey('', { end: true }, normal).ui).toEqual([{ type: 'scroll', pages: 'end' }]);
  });
  it('h toggles hold mode both ways', () => {
    expect(interpretKey('h', {}, normal).commands).toEqual([{ kind: 'hold-mode', on: true }]);
    expect(interpretKey('h', {}, { ...normal, holdOn: true }).commands).toEqual([{ kind: 'hold-mode', on: false }]);
  });
  it('space / x / a act on held segments; a leaves hold mode', () => {
    expect(interpretKey(' ', {}, normal).commands).toEqual([{ kind: 'release-first' }]);
    expect(interpretKey('x', {}, normal).commands).toEqual([{ kind: 'drop-first-held' }]);
    const a = interpretKey('a', {}, { ...normal, holdOn: true });
    expect(a.commands).toEqual([{ kind: 'release-all' }]);
    expect(a.ui).toContainEqual({ type: 'hold', on: false });
  });
  it('q quits and Ctrl-C interrupts, from any mode', () => {
    expect(interpretKey('q', {}, normal).ui).toEqual([{ type: 'quit' }]);
    for (const mode of ['normal', 'drop-dir', 'fin-ms', 'help', 'profile'] as const) {
      expect(interpretKey('c', { ctrl: true }, { ...normal, mode }).ui).toEqual([{ type: 'quit', interrupt: true }]);
    }
  });
  it('? opens help at its first page and any key closes it', () => {
    expect(interpretKey('?', {}, normal).ui).toEqual([{ type: 'help-page', page: 0 }, { type: 'mode', mode: 'help' }]);
    expect(interpretKey('r', {}, { ...normal, mode: 'help' })).toEqual({ commands: [], ui: [{ type: 'mode', mode: 'normal' }] });
    expect(interpretKey(' ', {}, { ...normal, mode: 'help' })).toEqual({ commands: [], ui: [{ type: 'mode', mode: 'normal' }] });
  });
  it('a help of several pages: Space, PgDn or ↓ turn to the next, PgUp or ↑ back, Space on the last closes it', () => {
    const h = (page: number): KeyContext => ({ ...normal, mode: 'help', helpPage: page, helpPages: 2 });
    expect(interpretKey(' ', {}, h(0)).ui).toEqual([{ type: 'help-page', page: 1 }]);
    expect(interpretKey('', { pageDown: true }, h(0)).ui).toEqual([{ type: 'help-page', page: 1 }]);
    expect(interpretKey('', { downArrow: true }, h(0)).ui).toEqual([{ type: 'help-page', page: 1 }]);
    expect(interpretKey('', { pageUp: true }, h(1)).ui).toEqual([{ type: 'help-page', page: 0 }]);
    expect(interpretKey('', { upArrow: true }, h(0)).ui).toEqual([{ type: 'help-page', page: 0 }]);
    expect(interpretKey(' ', {}, h(1)).ui).toEqual([{ type: 'mode', mode: 'normal' }]);
    expect(interpretKey('x', {}, h(0)).ui).toEqual([{ type: 'mode', mode: 'normal' }]);
    expect(interpretKey('q', {}, h(0)).ui).toEqual([{ type: 'quit' }]);
  });
  it('ignores other keys', () => {
    expect(interpretKey('z', {}, normal)).toEqual({ commands: [], ui: [] });
  });
});

describe('interpretKey: what a key cannot act on', () => {
  it('once the run has ended, the keys that act on it only say so; the view\'s keys still work', () => {
    const ended: KeyContext = { ...normal, ended: true };
    for (const k of ['r', 'R', 'b', 'd', 'f', 'h', ' ', 'x', 'a', 'p', 'P']) {
      expect(interpretKey(k, {}, ended), k).toEqual({ commands: [], ui: [{ type: 'message', text: 'the run has ended: nothing reaches its connections any more (q closes)' }] });
    }
    expect(interpretKey('S', {}, ended).ui[0]).toEqual({ type: 'absolute', on: true });
    expect(interpretKey('', { upArrow: true }, ended).ui).toEqual([{ type: 'select', delta: -1 }]);
    expect(interpretKey('q', {}, ended).ui).toEqual([{ type: 'quit' }]);
  });
  it('d and f on a connection closed on both ends say no segment is left, rather than announce one for ever', () => {
    const closed: KeyContext = { ...normal, selectedStates: { client: 'CLOSED', server: 'CLOSED' } };
    expect(interpretKey('d', {}, closed)).toEqual({ commands: [], ui: [{ type: 'message', text: '#3 is closed on both ends: no segment is left to drop' }] });
    expect(interpretKey('f', {}, closed)).toEqual({ commands: [], ui: [{ type: 'message', text: '#3 is closed on both ends: no segment is left to delay' }] });
    const half: KeyContext = { ...normal, selectedStates: { client: 'TIME-WAIT', server: 'CLOSED' } };
    expect(interpretKey('d', {}, half).ui).toEqual([{ type: 'mode', mode: 'drop-dir' }]);
  });
});

describe('interpretKey: d then c/s', () => {
  const dd: KeyContext = { ...normal, mode: 'drop-dir' };
  it('d asks for the direction', () => {
    expect(interpretKey('d', {}, normal)).toEqual({ commands: [], ui: [{ type: 'mode', mode: 'drop-dir' }] });
  });
  it('c drops the next segment from the client (c2s), s from the server (s2c)', () => {
    expect(interpretKey('c', {}, dd).commands).toEqual([{ kind: 'drop-next', conn: 3, dir: 'c2s', hand: 1 }]);
    expect(interpretKey('s', {}, { ...dd, nextHand: 7 }).commands).toEqual([{ kind: 'drop-next', conn: 3, dir: 's2c', hand: 7 }]);
    expect(interpretKey('s', {}, dd).ui[0]).toEqual({ type: 'mode', mode: 'normal' });
  });
  it('Esc cancels; other keys re-prompt', () => {
    expect(interpretKey('', { escape: true }, dd)).toEqual({ commands: [], ui: [{ type: 'mode', mode: 'normal' }] });
    const other = interpretKey('z', {}, dd);
    expect(other.commands).toEqual([]);
    expect(other.ui[0]!.type).toBe('message');
  });
});

describe('interpretKey: f and the delay prompt', () => {
  const fm = (buf: string): KeyContext => ({ ...normal, mode: 'fin-ms', finBuffer: buf });
  it('f opens an empty prompt', () => {
    expect(interpretKey('f', {}, normal).ui).toEqual([{ type: 'fin-buffer', value: '' }, { type: 'mode', mode: 'fin-ms' }]);
  });
  it('digits accumulate, backspace erases, letters are ignored', () => {
    expect(interpretKey('7', {}, fm('')).ui).toEqual([{ type: 'fin-buffer', value: '7' }]);
    expect(interpretKey('5', {}, fm('7')).ui).toEqual([{ type: 'fin-buffer', value: '75' }]);
    expect(interpretKey('', { delete: true }, fm('75')).ui).toEqual([{ type: 'fin-buffer', value: '7' }]);
    expect(interpretKey('', { backspace: true }, fm('7')).ui).toEqual([{ type: 'fin-buffer', value: '' }]);
    expect(interpretKey('k', {}, fm('7'))).toEqual({ commands: [], ui: [] });
    expect(interpretKey('0', {}, fm('')).ui).toEqual([{ type: 'fin-buffer', value: '0' }]);
    expect(interpretKey('5', {}, fm('0')).ui).toEqual([{ type: 'fin-buffer', value: '5' }]);
  });
  it('Enter applies the typed delay, or 500 ms when empty', () => {
    expect(interpretKey('', { return: true }, fm('750')).commands).toEqual([{ kind: 'delay-next-fin', conn: 3, ms: 750, hand: 1 }]);
    expect(interpretKey('', { return: true }, { ...fm(''), nextHand: 2 }).commands).toEqual([{ kind: 'delay-next-fin', conn: 3, ms: 500, hand: 2 }]);
  });
  it('rejects 0 and more than a minute, staying at the prompt', () => {
    for (const b of ['0', '60001']) {
      const res = interpretKey('', { return: true }, fm(b));
      expect(res.commands).toEqual([]);
      expect(res.ui.some((a) => a.type === 'mode')).toBe(false);
    }
  });
});

describe('interpretKey: profile picker', () => {
  const profiles = ['passthrough', 'drop-last-ack', 'coalesce'];
  it('opens on the current profile', () => {
    expect(interpretKey('p', {}, { ...normal, profiles, currentProfile: 'coalesce' }).ui).toEqual([
      { type: 'profile-cursor', index: 2 },
      { type: 'mode', mode: 'profile' },
    ]);
  });
  it('moves within bounds and Enter sends set-profile', () => {
    const ctx: KeyContext = { ...normal, mode: 'profile', profiles, profileCursor: 0 };
    expect(interpretKey('', { upArrow: true }, ctx).ui).toEqual([{ type: 'profile-cursor', index: 0 }]);
    expect(interpretKey('', { downArrow: true }, ctx).ui).toEqual([{ type: 'profile-cursor', index: 1 }]);
    const res = interpretKey('', { return: true }, { ...ctx, profileCursor: 1 });
    expect(res.commands).toEqual([{ kind: 'set-profile', name: 'drop-last-ack' }]);
    expect(res.ui).toContainEqual({ type: 'profile', name: 'drop-last-ack' });
  });
  it('says so when there is nothing to pick', () => {
    expect(interpretKey('p', {}, normal).ui[0]!.type).toBe('message');
  });
});

describe('applyUiActions', () => {
  const view: UiView = { connIds: [1, 2, 5], ladderBase: 0, ladderCount: 100, ladderRows: 10 };
  it('follows the newest connection until the user selects', () => {
    const s = initialUiState(undefined);
    expect(effectiveSelection(s, [1, 2, 5])).toBe(5);
    const up = applyUiActions(s, [{ type: 'select', delta: -1 }], view);
    expect(effectiveSelection(up, [1, 2, 5, 7])).toBe(2);
    const top = applyUiActions(up, [{ type: 'select', delta: -5 }], view);
    expect(effectiveSelection(top, [1, 2, 5])).toBe(1);
  });
  it('PgUp pins the ladder, PgDn back to the bottom follows again', () => {
    let s = applyUiActions(initialUiState(undefined), [{ type: 'scroll', pages: -1 }], view);
    expect(s.ladderTop).toBe(80);
    s = applyUiActions(s, [{ type: 'scroll', pages: -1 }], view);
    expect(s.ladderTop).toBe(70);
    s = applyUiActions(s, [{ type: 'scroll', pages: 1 }], view);
    expect(s.ladderTop).toBe(80);
    s = applyUiActions(s, [{ type: 'scroll', pages: 1 }], view);
    expect(s.ladderTop).toBeUndefined();
    s = applyUiActions(s, [{ type: 'scroll', pages: -20 }], view);
    expect(s.ladderTop).toBe(0);
  });
  it('selecting another connection resets the ladder scroll', () => {
    let s = applyUiActions(initialUiState(undefined), [{ type: 'scroll', pages: -1 }], view);
    s = applyUiActions(s, [{ type: 'select', delta: -1 }], view);
    expect(s.ladderTop).toBeUndefined();
  });
  it('a key clears the previous message', () => {
    const s = applyUiActions(initialUiState(undefined), [{ type: 'message', text: 'x' }], view);
    expect(applyUiActions(s, [{ type: 'select', delta: 1 }], view).message).toBeUndefined();
  });
});
