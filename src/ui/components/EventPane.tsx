// The notable events (state changes, actions, expectations, the peers'
// application events, warnings), newest at the bottom, scrollable with [ and ].
// A fixed-height pane rather than ink's <Static>: Static output scrolls away
// above a full-screen dashboard.

import { Box, Text } from 'ink';
import type { EventLine } from '../model.js';
import { ladderWindow } from '../ladder.js';
import { rule } from '../layout.js';
import { eventColor } from '../theme.js';
import type { EventKind } from '../filters.js';

export interface EventPaneProps {
  /** The events kept, oldest first. */
  readonly events: readonly EventLine[];
  /** Absolute index of `events[0]` (UiModel.eventsBase). */
  readonly base: number;
  /** Absolute index of the first line shown after scrolling back; undefined follows the newest. */
  readonly top: number | undefined;
  /** Event lines available (title excluded). */
  readonly height: number;
  /** Terminal width. */
  readonly width: number;
  /** Event-clock time of the `start` event, so times read as seconds since start. */
  readonly originT: number;
  /** Colour on (NO_COLOR unset). */
  readonly color: boolean;
  /** The kinds shown (`events` is already narrowed to them): named in the title unless all. */
  readonly kind: EventKind;
}

export default function EventPane(p: EventPaneProps) {
  const win = ladderWindow(p.base, p.events.length, p.height, p.top);
  const shown = p.events.slice(win.start - p.base, win.end - p.base);
  const where = win.following ? '' : ` ⇡${win.start + 1}-${win.end}/${p.base + p.events.length} (] newer)`;
  return (
    <Box flexDirection="column" height={p.height + 1}>
      <Text wrap="truncate" bold>{rule(`events${p.kind === 'all' ? '' : ` (${p.kind} only)`}${where} · s since the run started`, p.width)}</Text>
      {shown.map((e, i) => (
        <Text key={win.start + i} wrap="truncate" color={eventColor(e.tone, p.color)}>
          {`${((e.t - p.originT) / 1000).toFixed(3).padStart(8)} ${e.text}${e.repeat > 1 ? ` ×${e.repeat}` : ''}`}
        </Text>
      ))}
    </Box>
  );
}
