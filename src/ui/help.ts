// The help overlay's text (`?`) and its pages: the keys first, then what the
// marks on the screen mean. Each line fits an 80-column terminal; when the
// panes under the table have fewer lines than the help, it is paged (Space
// for the next page, as in less), a section starting on its own page. Pure.

/** Widest help line (in cells): its 2-cell indent and the last column an 80-column terminal keeps free. */
export const HELP_LINE_CELLS = 77;

/** The keys: each line starts with the key as the key bar writes it. */
function keyLines(inline: boolean): string[] {
  return [
    '↑↓       select a connection',
    'PgUp/Dn  scroll its ladder (Home: its start, End: follow the newest again)',
    '[/]      scroll the events back / forward (past the newest: follow again)',
    'r/R/b    forge a RST to the client / the server / both',
    ...(inline
      ? [
          'd        then c or s: drop the next segment from the client / the server',
          'f        delay the next FIN: type the ms, Enter (empty: 500)',
          'h        hold mode: every segment waits at tcpmitm',
          '␣/x/a    release / drop the oldest held segment; a: release all, hold off',
        ]
      : []),
    'S        sequence numbers relative to each ISN / absolute (tcpdump -S)',
    'o        TCP options on the ladder (the run needs --tcp-options)',
    '/        filter connections: #3  8080  ESTAB  client=FIN-WAIT-2  address',
    'e        events shown: all / states / actions / app output / checks',
    'P        pause the view, not the traffic (its events wait; P applies them)',
    'p        pick another profile (it applies to new segments)',
    '?        this help',
    'q        quit, cleaning up (Ctrl-C too)',
  ];
}

/** What the screen's marks mean. */
function legendLines(inline: boolean): string[] {
  return [
    'times: seconds since the run started, on the ladder and in the events',
    'ladder: ✕ dropped  ⏱ delayed  ⚡ forged  ⊕ coalesced',
    '        ⏸ held  ⧉ duplicated  ↻ replayed',
    '        RETRANSMISSION #n: the n-th copy re-sent; last-ack, ack-of-fin,',
    '        keepalive, window-probe: the role the tracker gave the segment',
    ...(inline ? ['header: held N (M waiting): segments held so far, M still at tcpmitm'] : []),
    'table:  ≠ the kernel disagrees with the inferred state',
  ];
}

/** The help of a run; tap's leaves out what only an inline tcpmitm can do. */
export function helpLines(inline: boolean): readonly string[] {
  return [...keyLines(inline), '', ...legendLines(inline)];
}

/**
 * The help cut into pages of at most `rows` lines: one page when it all fits,
 * else each section from a page of its own (a section longer than a page
 * goes on over the next).
 */
export function helpPages(inline: boolean, rows: number): readonly (readonly string[])[] {
  const n = Math.max(1, rows);
  const all = helpLines(inline);
  if (all.length <= n) return [all];
  const pages: string[][] = [];
  for (const section of [keyLines(inline), legendLines(inline)]) {
    for (let i = 0; i < section.length; i += n) pages.push(section.slice(i, i + n));
  }
  return pages;
}
