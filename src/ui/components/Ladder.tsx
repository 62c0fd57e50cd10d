// The selected connection's ladder diagram: a window of the lines laid out by
// ladder.ts, following the newest unless the user scrolled back (PgUp).

import { Box, Text } from 'ink';
import type { ConnRow } from '../model.js';
import { ladderGeometry, ladderHeader, ladderLine, ladderWindow } from '../ladder.js';
import { humanBytes, rule } from '../layout.js';
import { ladderColor } from '../theme.js';
import { timersLines, type TimerSettings } from '../timers.js';

export interface LadderProps {
  /** The connection to draw; nothing selected draws an empty pane. */
  readonly row: ConnRow | undefined;
  /** Ladder lines available (title and column header excluded). */
  readonly height: number;
  /** Terminal width. */
  readonly width: number;
  /** Absolute index of the first visible entry after scrolling back; undefined follows the newest. */
  readonly top: number | undefined;
  /** Colour on (NO_COLOR unset). */
  readonly color: boolean;
  /** Event-clock time shown as 0.000: the run's start (the event pane's base too). */
  readonly originT: number;
  /** Absolute sequence numbers (tcpdump -S) instead of relative ones. */
  readonly absolute: boolean;
  /** Each segment's TCP options after its numbers. */
  readonly options: boolean;
  /** Event-clock time now, and the inference's timer settings: the timers line. */
  readonly nowT: number;
  readonly timers: TimerSettings | undefined;
}

export default function Ladder(p: LadderProps) {
  const g = ladderGeometry(p.width);
  const r = p.row;
  if (r === undefined) {
    return (
      <Box flexDirection="column" height={p.height + 2}>
        <Text wrap="truncate" bold>{rule('ladder', p.width)}</Text>
        <Text dimColor>  select a connection (↑/↓)</Text>
      </Box>
    );
  }
  // What the endpoints wait for, on the ladder's last lines when anything is pending (the ladder gives them the room; one line at least stays the ladder's).
  const timers = timersLines(r, p.nowT, p.timers, p.width - 2).slice(0, Math.max(0, p.height - 1));
  const win = ladderWindow(r.ladderBase, r.ladder.length, Math.max(1, p.height - timers.length), p.top);
  const lines = [];
  const view = { originT: p.originT, options: p.options, ...(p.absolute ? { isn: r.isn } : {}) };
  for (let i = win.start; i < win.end; i++) lines.push(ladderLine(r.ladder[i - r.ladderBase]!, g, view));
  const waiting = r.waiting.length > 0 ? `  ⏸ ${r.waiting.length} waiting` : '';
  // Scrolled back: which lines are shown, first in the title so 80 columns keep it.
  const where = win.following ? '' : ` ⇡${win.start + 1}-${win.end}/${r.ladderBase + r.ladder.length}`;
  const title = `#${r.conn}${where} ${r.client} ⇄ ${r.server}  c→s ${humanBytes(r.bytes.c2s)}B s→c ${humanBytes(r.bytes.s2c)}B${waiting}`;
  return (
    <Box flexDirection="column" height={p.height + 2}>
      <Text wrap="truncate" bold>{rule(title, p.width)}</Text>
      <Text wrap="truncate" dimColor>{ladderHeader(g, p.absolute)}</Text>
      {lines.map((l, i) => (
        <Text key={win.start + i} wrap="truncate" color={ladderColor(l.tone, p.color)}>
          {l.text}
        </Text>
      ))}
      {timers.map((l, i) => (
        <Text key={`timers${i}`} wrap="truncate" color={ladderColor('delay', p.color)}>
          {`  ${l}`}
        </Text>
      ))}
    </Box>
  );
}
