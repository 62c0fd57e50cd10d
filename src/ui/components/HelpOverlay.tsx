// Full key reference, drawn over the ladder and event panes by `?`.

import { Box, Text } from 'ink';
import { rule } from '../layout.js';

export interface HelpOverlayProps {
  /** Lines available. */
  readonly height: number;
  /** Terminal width. */
  readonly width: number;
  /** tcpmitm is in the path (not tap): the keys that act on segments are listed. */
  readonly inline: boolean;
}

/** The help of a run; tap's leaves out what only an inline tcpmitm can do. */
export function helpLines(inline: boolean): readonly string[] {
  return [
    '↑ / ↓       select a connection',
    'PgUp/PgDn   scroll its ladder (End: follow the newest again)',
    '[ / ]       scroll the events back / forward (past the newest: follow again)',
    'r / R / b   forge a RST to the client / the server / both',
    ...(inline
      ? [
          'd then c/s  drop the next segment from the client / from the server',
          'f           delay the next FIN (type ms, Enter; default 500)',
          'h           hold mode: every segment waits at tcpmitm',
          'space / x   release / drop the oldest held segment',
          'a           release all held segments and leave hold mode',
        ]
      : []),
    'S           sequence numbers relative to each ISN / absolute (tcpdump -S)',
    'o           TCP options on the ladder (the run needs --tcp-options)',
    '/           filter connections: #3  8080 (a port)  ESTAB  client=FIN-WAIT-2  addr',
    'e           events: all / states / actions / app output / checks',
    'P           pause the view (not the traffic: its events wait; P again applies them)',
    'p           pick another profile (applies to new segments)',
    '?           this help      q / Ctrl-C  quit (tears the lab down)',
    '',
    'times: seconds since the run started, on the ladder and in the events alike',
    'ladder: ✕ dropped  ⏱ delayed  ⚡ forged  ⊕ coalesced  ⏸ held  ⧉ duplicated  ↻ replayed',
    '        RETRANSMISSION #n: the n-th copy re-sent; last-ack, ack-of-fin, keepalive,',
    '        window-probe: the role the tracker gave the segment',
    ...(inline ? ['header: held N (M waiting): segments held so far, M of them still at tcpmitm'] : []),
    'table:  ≠ the kernel disagrees with the inferred state',
  ];
}

export default function HelpOverlay(p: HelpOverlayProps) {
  return (
    <Box flexDirection="column" height={p.height}>
      <Text wrap="truncate" bold>{rule('keys', p.width)}</Text>
      {helpLines(p.inline).slice(0, Math.max(0, p.height - 1)).map((l, i) => (
        <Text key={i} wrap="truncate">
          {`  ${l}`}
        </Text>
      ))}
    </Box>
  );
}
