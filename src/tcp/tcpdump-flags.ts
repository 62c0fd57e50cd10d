// TCP flags spelled as tcpdump prints them: "[S]", "[S.]", "[F.]", "[R]",
// "[P.]". tcpdump (print-tcp.c, tcp_flag_values) writes the set flags in the
// order F S R P . U E W, with "." for ACK, and "[none]" when no flag is set.

/** tcpdump's order; our letters (src/tcp/segment.ts flagLetters) to its characters. */
const TCPDUMP_ORDER: readonly (readonly [letter: string, shown: string])[] = [
  ['F', 'F'],
  ['S', 'S'],
  ['R', 'R'],
  ['P', 'P'],
  ['A', '.'],
  ['U', 'U'],
  ['E', 'E'],
  ['C', 'W'],
  // The AE (ex-NS) bit: tcpdump has no letter for it; spelled as our own.
  ['N', 'N'],
];

/** "SA" → "[S.]", "FA" → "[F.]", "PA" → "[P.]", "" → "[none]" (letters as in segment events). */
export function tcpdumpFlags(letters: string): string {
  let s = '';
  for (const [letter, shown] of TCPDUMP_ORDER) if (letters.includes(letter)) s += shown;
  return `[${s === '' ? 'none' : s}]`;
}
