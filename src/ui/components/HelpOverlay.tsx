// Full key reference, drawn over the ladder and event panes by `?`.

import { Box, Text } from 'ink';
import { rule } from '../layout.js';

export interface HelpOverlayProps {
  /** Lines available. */
  readonly height: number;
  /** Terminal width. */
  readonly width: number;
}

export const HELP_LINES: readonly string[] = [
  '↑ / ↓       select a connection',
  'PgUp/PgDn   scroll its ladder (End: follow the newest again)',
  'r / R / b   forge a RST to the client / the server / both',
  'd then c/s  drop the next segment from the client / from the server',
  'f           delay the next FIN (type ms, Enter; default 500)',
  'h           hold mode: every segment waits at tcpmitm',
  'space / x   release / drop the oldest held segment',
  'a           release all held segments and leave hold mode',
  'p           pick another profile (applies to new segments)',
  '?           this help      q / Ctrl-C  quit (tears the lab down)',
  '',
  'ladder: ✕ dropped  ⏱ delayed  ⚡ forged  ⊕ coalesced  ⏸ held  ⧉ duplicated  ↻ replayed',
  'table:  ≠ the kernel disagrees with the inferred state',
];

export default function HelpOverlay(p: HelpOverlayProps) {
  return (
    <Box flexDirection="column" height={p.height}>
      <Text wrap="truncate" bold>{rule('keys', p.width)}</Text>
      {HELP_LINES.slice(0, Math.max(0, p.height - 1)).map((l, i) => (
        <Text key={i} wrap="truncate">
          {`  ${l}`}
        </Text>
      ))}
    </Box>
  );
}
