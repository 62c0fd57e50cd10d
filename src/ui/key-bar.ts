// The key bar (the help bar's line in normal mode): each kind of run's keys,
// with a word each where the width allows. One list gives both the bar and
// the keys the help overlay must explain (help.ts; a test checks each). Pure.

/** One key of the bar: as it is written, its word in the narrow bar ('' none; null: not in it) and in the wide one. */
export interface BarKey {
  readonly key: string;
  readonly narrow: string | null;
  readonly wide: string;
}

const INLINE: readonly BarKey[] = [
  { key: '↑↓', narrow: 'conn', wide: 'conn' },
  { key: 'PgUp/Dn', narrow: '', wide: 'ladder' },
  { key: '[/]', narrow: '', wide: 'events' },
  { key: 'r/R/b', narrow: 'RST', wide: 'RST' },
  { key: 'd', narrow: 'drop', wide: 'drop' },
  { key: 'f', narrow: 'FIN-delay', wide: 'FIN-delay' },
  { key: 'h', narrow: 'hold', wide: 'hold' },
  { key: '␣/x/a', narrow: 'held', wide: 'held' },
  { key: 'S', narrow: 'seq', wide: 'abs/rel seq' },
  { key: 'o', narrow: null, wide: 'options' },
  { key: '/', narrow: null, wide: 'filter' },
  { key: 'e', narrow: null, wide: 'kinds' },
  { key: 'P', narrow: null, wide: 'pause' },
  { key: 'p', narrow: '', wide: 'profile' },
  { key: '?', narrow: '', wide: 'help' },
  { key: 'q', narrow: '', wide: 'quit' },
];

/** tap watches beside the path: no key that acts on segments. */
const TAP: readonly BarKey[] = [
  { key: '↑↓', narrow: 'conn', wide: 'conn' },
  { key: 'PgUp/Dn', narrow: '', wide: 'ladder' },
  { key: '[/]', narrow: 'events', wide: 'events' },
  { key: 'r/R/b', narrow: 'forge RST', wide: 'forge RST' },
  { key: 'S', narrow: 'abs/rel', wide: 'abs/rel seq' },
  { key: 'o', narrow: null, wide: 'opts' },
  { key: '/', narrow: null, wide: 'filter' },
  { key: 'e', narrow: null, wide: 'kinds' },
  { key: 'P', narrow: null, wide: 'pause' },
  { key: 'p', narrow: 'profile', wide: 'profile' },
  { key: '?', narrow: 'help', wide: 'help' },
  { key: 'q', narrow: 'quit', wide: 'quit' },
];

const TAP_NOTE = '  (tap watches: no drop, delay or hold)';

function barText(keys: readonly BarKey[], wide: boolean, inline: boolean): string {
  const words = keys.map((k) => {
    const w = wide ? k.wide : k.narrow;
    return w === '' || w === null ? k.key : `${k.key} ${w}`;
  });
  return words.join(' ') + (wide && !inline ? TAP_NOTE : '');
}

/**
 * The key bar at `width` columns and the keys it shows: the wide form where it
 * fits, else the narrow one (at most 79 cells: an 80-column terminal keeps its
 * last one free). `inline`: lab, attach, intercept; else tap.
 */
export function keyBar(inline: boolean, width: number): { readonly text: string; readonly keys: readonly BarKey[] } {
  const all = inline ? INLINE : TAP;
  const wide = barText(all, true, inline);
  if (width > [...wide].length) return { text: wide, keys: all };
  const keys = all.filter((k) => k.narrow !== null);
  return { text: barText(keys, false, inline), keys };
}
