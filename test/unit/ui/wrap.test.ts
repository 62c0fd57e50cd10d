import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellWidth, wrapCells } from '../../../src/ui/wrap.js';

describe('wrapping text to terminal cells', () => {
  it('cuts at the last space that fits and keeps the indentation', () => {
    expect(wrapCells('   one two three four five', 14)).toEqual(['   one two', '   three four', '   five']);
    expect(wrapCells('short\n\n  x', 20)).toEqual(['short', '', '  x']);
  });

  it('counts a Chinese character as two cells and cuts Chinese anywhere', () => {
    expect(cellWidth('正确。abc')).toBe(9);
    expect(wrapCells('客户端内核进入了时间等待', 10)).toEqual(['客户端内核', '进入了时间', '等待']);
  });

  it('never makes a line wider than the width, and loses no character but spaces', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'bb ', ' ', '中', 'TIME-WAIT ', '\n', '    '), { maxLength: 60 }).map((p) => p.join('')), fc.integer({ min: 8, max: 40 }), (text, w) => {
        const lines = wrapCells(text, w);
        for (const l of lines) expect(cellWidth(l)).toBeLessThanOrEqual(w);
        expect(lines.join('').replace(/\s/g, '')).toBe(text.replace(/\s/g, ''));
      }),
    );
  });
});
