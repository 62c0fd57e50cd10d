// The newest notable events (state changes, actions, expectations, the
// peers' application events, warnings). A fixed-height pane rather than
// ink's <Static>: Static output scrolls away above a full-screen dashboard.

import { Box, Text } from 'ink';
import type { EventLine } from '../model.js';
import { rule } from '../layout.js';
import { eventColor } from '../theme.js';

export interface EventPaneProps {
  /** Newest events, oldest first; only the last `height` are shown. */
  readonly events: readonly EventLine[];
  /** Event lines available (title excluded). */
  readonly height: number;
  /** Terminal width. */
  readonly width: number;
  /** Event-clock time of the `start` event, so times read as seconds since start. */
  readonly originT: number;
  /** Colour on (NO_COLOR unset). */
  readonly color: boolean;
}

export default function EventPane(p: EventPaneProps) {
  const shown = p.events.slice(Math.max(0, p.events.length - p.height));
  return (
    <Box flexDirection="column" height={p.height + 1}>
      <Text wrap="truncate" bold>{rule('events', p.width)}</Text>
      {shown.map((e, i) => (
        <Text key={i} wrap="truncate" color={eventColor(e.tone, p.color)}>
          {`${((e.t - p.originT) / 1000).toFixed(3).padStart(8)} ${e.text}`}
        </Text>
      ))}
    </Box>
  );
}
