// How wide a line of the picture's text is, without a font at hand: the
// picture uses a monospace family (DejaVu Sans Mono's advance is 0.602 em),
// so an upper bound per character is enough to lay it out and to size the
// viewBox. Symbols outside ASCII may come from a fallback font (✕ ⏱ ⚡ …):
// they are counted wider, so the estimate errs on the side of room.

/** Advance of one ASCII character, in em (DejaVu Sans Mono 0.602, Menlo/Consolas 0.6…0.55). */
const ASCII_EM = 0.62;
/** A letter or box-drawing symbol from a fallback font. */
const WIDE_EM = 1.0;
/** An emoji-presentation symbol (⚡ ⏱ ⏸): drawn from a colour emoji font when there is one. */
const EMOJI_EM = 1.3;

export function textWidth(s: string, fontSize: number): number {
  let em = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) em += ASCII_EM;
    else if (cp >= 0x2300 && cp <= 0x23ff) em += EMOJI_EM;
    else if (cp >= 0x2600 && cp <= 0x27bf) em += EMOJI_EM;
    else if (cp >= 0x1f000) em += EMOJI_EM;
    else em += WIDE_EM;
  }
  return em * fontSize;
}

/** `s` cut with "…" so that it is at most `maxWidth` wide at `fontSize` ("" when not even "…" fits). */
export function fitText(s: string, maxWidth: number, fontSize: number): string {
  if (textWidth(s, fontSize) <= maxWidth) return s;
  const chars = [...s];
  while (chars.length > 0) {
    chars.pop();
    const t = `${chars.join('').trimEnd()}…`;
    if (textWidth(t, fontSize) <= maxWidth) return t;
  }
  return '';
}
