// Wraps text to a width in terminal cells, for panes that scroll by line: a
// line the terminal wrapped by itself would throw the count off. East Asian
// wide characters (CJK, full-width punctuation) take two cells. Pure.

/** Cells a code point takes: 2 for the wide ranges of Unicode's East Asian Width (W, F), else 1. */
export function cellsOf(cp: number): number {
  return (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
    ? 2
    : 1;
}

export function cellWidth(s: string): number {
  let n = 0;
  for (const ch of s) n += cellsOf(ch.codePointAt(0)!);
  return n;
}

/**
 * Each line of `text` cut into lines of at most `width` cells: at the last
 * space that fits, or anywhere for text without spaces (Chinese). A cut line's
 * continuations keep the indentation of the line they came from.
 */
export function wrapCells(text: string, width: number): string[] {
  const w = Math.max(width, 8);
  return text.split('\n').flatMap((line) => wrapLine(line, w));
}

function wrapLine(line: string, w: number): string[] {
  const indent = ' '.repeat(Math.min(/^ */.exec(line)![0].length, Math.floor(w / 2)));
  const out: string[] = [];
  let chars = [...line];
  let prefix = '';
  for (;;) {
    const avail = w - prefix.length;
    if (cellWidth(chars.join('')) <= avail) {
      out.push(prefix + chars.join(''));
      return out;
    }
    let cells = 0;
    let cut = 0;
    let space = -1;
    // The first line's own indentation is not a place to cut.
    const from = prefix === '' ? indent.length : 0;
    for (let i = 0; i < chars.length; i++) {
      const c = cellsOf(chars[i]!.codePointAt(0)!);
      if (cells + c > avail) break;
      cells += c;
      cut = i + 1;
      if (chars[i] === ' ' && i > from) space = i;
    }
    const at = space > 0 ? space : Math.max(cut, 1);
    out.push(prefix + chars.slice(0, at).join('').trimEnd());
    chars = chars.slice(at);
    while (chars[0] === ' ') chars.shift();
    if (chars.length === 0) return out;
    prefix = indent;
  }
}
