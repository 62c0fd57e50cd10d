// The names nearest to a mistyped one, for "did you mean …?" in errors, as
// commander suggests for options and commands. Compared case-blind with '_'
// read as '-' (TIME_WAIT → TIME-WAIT, estab → ESTAB), by optimal string
// alignment distance: an insertion, a deletion, a change or a swap of two
// neighbouring characters is one edit.

/** At most this many edits, and no more than a third of the longer name (so 'ab' never suggests 'xy'). */
const MAX_EDITS = 2;

function normal(s: string): string {
  return s.toLowerCase().replaceAll('_', '-');
}

/** Optimal string alignment distance (restricted Damerau–Levenshtein). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

/** The names nearest to `input` (all those at the smallest distance), or none close enough. */
export function nearest(input: string, names: readonly string[]): string[] {
  const want = normal(input);
  let best = Infinity;
  let out: string[] = [];
  for (const name of names) {
    const d = editDistance(want, normal(name));
    const longer = Math.max(want.length, name.length);
    if (d > MAX_EDITS || d * 3 > longer) continue;
    if (d < best) {
      best = d;
      out = [name];
    } else if (d === best && !out.includes(name)) out.push(name);
  }
  return out;
}

/** " (did you mean 'TIME-WAIT'?)", " (did you mean 'a' or 'b'?)", or '' when nothing is near. */
export function didYouMean(input: string, names: readonly string[]): string {
  const near = nearest(input, names);
  if (near.length === 0) return '';
  return ` (did you mean ${near.map((n) => `'${n}'`).join(' or ')}?)`;
}
