// The key reference (help.ts), drawn over the ladder and event panes by `?`,
// one page at a time when the panes are shorter than it.

import { Box, Text } from 'ink';
import { rule } from '../layout.js';

export interface HelpOverlayProps {
  /** Lines available, the title's included. */
  readonly height: number;
  /** Terminal width. */
  readonly width: number;
  /** The page's lines (help.ts helpPages), and which page of how many it is. */
  readonly lines: readonly string[];
  readonly page: number;
  readonly pages: number;
}

export default function HelpOverlay(p: HelpOverlayProps) {
  const title = p.pages > 1 ? `keys — page ${p.page + 1} of ${p.pages}${p.page + 1 < p.pages ? ', Space: the next' : ''}` : 'keys';
  return (
    <Box flexDirection="column" height={p.height}>
      <Text wrap="truncate" bold>{rule(title, p.width)}</Text>
      {p.lines.slice(0, Math.max(0, p.height - 1)).map((l, i) => (
        <Text key={i} wrap="truncate">
          {`  ${l}`}
        </Text>
      ))}
    </Box>
  );
}
