// The help overlay's pages (help.ts) and the key bar (key-bar.ts): every key
// the bar offers is explained, and the help fits at 80×24, 120×40 and 160×50.

import { describe, expect, it } from 'vitest';
import stringWidth from 'string-width';
import { HELP_LINE_CELLS, helpLines, helpPages } from '../../../src/ui/help.js';
import { keyBar } from '../../../src/ui/key-bar.js';
import { overlayRows, screenLayout } from '../../../src/ui/layout.js';

const sizes = [
  { cols: 80, rows: 24 },
  { cols: 120, rows: 40 },
  { cols: 160, rows: 50 },
];

describe('help overlay', () => {
  for (const inline of [true, false]) {
    const kind = inline ? 'inline' : 'tap';
    it(`${kind}: every line fits 80 columns, and every key of the bar (narrow and wide) starts a line`, () => {
      const lines = helpLines(inline);
      for (const l of lines) expect(stringWidth(l), l).toBeLessThanOrEqual(HELP_LINE_CELLS);
      for (const width of [80, 200]) {
        for (const k of keyBar(inline, width).keys) expect(lines.some((l) => l.startsWith(`${k.key} `)), k.key).toBe(true);
      }
    });
    it(`${kind}: at 80×24, 120×40 and 160×50 (1 to 5 connections) each page fits and no line is lost`, () => {
      for (const { rows } of sizes) {
        for (let conns = 1; conns <= 5; conns++) {
          const room = overlayRows(screenLayout(rows, conns)) - 1;
          const pages = helpPages(inline, room);
          for (const p of pages) expect(p.length).toBeLessThanOrEqual(room);
          expect(pages.flat().filter((l) => l !== '')).toEqual(helpLines(inline).filter((l) => l !== ''));
          // One page where it all fits: at 120×40 and 160×50.
          if (rows >= 40) expect(pages).toHaveLength(1);
        }
      }
    });
  }
  it('pages: each section from a page of its own, a long one going on over the next', () => {
    const pages = helpPages(true, 10);
    expect(pages[0]![0]).toMatch(/^↑↓ /);
    expect(pages.find((p) => p[0]!.startsWith('times:'))).toBeDefined();
    expect(pages.every((p) => p.length <= 10 && p[0] !== '')).toBe(true);
  });
});

describe('key bar', () => {
  it('the narrow form fits 79 cells; the wide one shows at 160 columns, with a word for each key', () => {
    for (const inline of [true, false]) {
      expect(stringWidth(keyBar(inline, 80).text)).toBeLessThanOrEqual(79);
      const wide = keyBar(inline, 160);
      expect(wide.text.length).toBeGreaterThan(keyBar(inline, 80).text.length);
      for (const k of wide.keys) expect(wide.text).toContain(`${k.key} ${k.wide}`);
    }
    expect(keyBar(false, 160).text).toMatch(/\(tap watches: no drop, delay or hold\)$/);
    expect(keyBar(false, 160).keys.map((k) => k.key)).not.toContain('d');
  });
});
