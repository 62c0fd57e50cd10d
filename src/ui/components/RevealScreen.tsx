// After an exercise's run, on a terminal: the run's ladder beside the reveal
// (side by side from 150 columns, else the ladder above it), each scrollable,
// until q. What the student predicted, the answer, and the evidence, next to
// the picture of the run they came from.

import { Box, Text, useApp, useInput } from 'ink';
import { useState } from 'react';
import type { RunLadder } from '../run-ladder.js';
import { rule } from '../layout.js';
import { ladderColor } from '../theme.js';

export interface RevealScreenProps {
  readonly ladder: RunLadder;
  /** The reveal, already wrapped to `revealWidth` cells. */
  readonly reveal: readonly string[];
  readonly title: string;
  readonly help: string;
  readonly width: number;
  readonly height: number;
  readonly color: boolean;
}

/** How the screen is cut: side by side when the terminal is wide enough for both, else the ladder above. */
export function revealLayout(cols: number, rows: number, ladderLines: number): { side: boolean; ladderWidth: number; revealWidth: number; ladderRows: number; revealRows: number } {
  const body = Math.max(rows - 2, 6);
  if (cols >= 150) {
    const ladderWidth = Math.min(110, Math.floor(cols * 0.55));
    return { side: true, ladderWidth, revealWidth: cols - ladderWidth - 1, ladderRows: body - 2, revealRows: body - 1 };
  }
  const ladderRows = Math.max(3, Math.min(ladderLines, Math.floor(body * 0.4)));
  return { side: false, ladderWidth: cols, revealWidth: cols, ladderRows, revealRows: Math.max(3, body - ladderRows - 3) };
}

export default function RevealScreen(p: RevealScreenProps) {
  const { exit } = useApp();
  const lay = revealLayout(p.width, p.height, p.ladder.lines.length);
  const [top, setTop] = useState({ reveal: 0, ladder: 0 });
  const [focus, setFocus] = useState<'reveal' | 'ladder'>('reveal');
  const max = { reveal: Math.max(0, p.reveal.length - lay.revealRows), ladder: Math.max(0, p.ladder.lines.length - lay.ladderRows) };
  useInput((input, key) => {
    if (input === 'q' || key.escape || (key.ctrl && input === 'c')) {
      exit();
      return;
    }
    if (key.tab) return setFocus((f) => (f === 'reveal' ? 'ladder' : 'reveal'));
    const page = focus === 'reveal' ? lay.revealRows : lay.ladderRows;
    const by = key.upArrow ? -1 : key.downArrow ? 1 : key.pageUp ? -page : key.pageDown || input === ' ' ? page : 0;
    const to = input === 'g' ? 0 : input === 'G' ? max[focus] : undefined;
    if (by === 0 && to === undefined) return;
    setTop((t) => ({ ...t, [focus]: Math.max(0, Math.min(max[focus], to ?? t[focus] + by)) }));
  });
  const ladderPane = (
    <Box flexDirection="column" width={lay.ladderWidth}>
      <Text wrap="truncate" bold={focus === 'ladder'}>{rule(p.ladder.title ?? 'ladder', lay.ladderWidth)}</Text>
      <Text wrap="truncate" dimColor>{p.ladder.header}</Text>
      {p.ladder.lines.slice(top.ladder, top.ladder + lay.ladderRows).map((l, i) => (
        <Text key={top.ladder + i} wrap="truncate" color={ladderColor(l.tone, p.color)}>
          {l.text}
        </Text>
      ))}
    </Box>
  );
  const revealPane = (
    <Box flexDirection="column" width={lay.revealWidth}>
      <Text wrap="truncate" bold={focus === 'reveal'}>
        {rule(`${p.title}${max.reveal > 0 ? ` ${top.reveal + 1}-${Math.min(p.reveal.length, top.reveal + lay.revealRows)}/${p.reveal.length}` : ''}`, lay.revealWidth)}
      </Text>
      {p.reveal.slice(top.reveal, top.reveal + lay.revealRows).map((l, i) => (
        <Text key={top.reveal + i} wrap="truncate">
          {l === '' ? ' ' : l}
        </Text>
      ))}
    </Box>
  );
  return (
    <Box flexDirection="column" width={p.width}>
      {lay.side ? (
        <Box flexDirection="row">
          {ladderPane}
          <Box width={1} />
          {revealPane}
        </Box>
      ) : (
        <>
          {ladderPane}
          {revealPane}
        </>
      )}
      <Text wrap="truncate" dimColor>{p.help}</Text>
    </Box>
  );
}
