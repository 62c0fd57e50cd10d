// The bottom line: the keys of the current mode, a prompt (drop direction,
// FIN delay), or the last message a key produced.

import { Text } from 'ink';
import type { UiMode } from '../keys.js';
import { DEFAULT_FIN_DELAY_MS } from '../keys.js';
import { tint } from '../theme.js';
import { keyBar } from '../key-bar.js';

export interface HelpBarProps {
  /** Current key mode. */
  readonly mode: UiMode;
  /** Digits typed at the FIN-delay prompt. */
  readonly finBuffer: string;
  /** Text typed at the connection-filter prompt. */
  readonly filterBuffer: string;
  /** Last message from a key ("no connection selected"), shown until the next key. */
  readonly message: string | undefined;
  /** Colour on (NO_COLOR unset). */
  readonly color: boolean;
  /** tcpmitm is in the path (not tap): the keys that act on segments are offered. */
  readonly inline: boolean;
  /** Terminal width: where the wide key bar fits, the keys get their words. */
  readonly width: number;
  /** The help overlay's page (0-based) and page count. */
  readonly helpPage: number;
  readonly helpPages: number;
}

export default function HelpBar(p: HelpBarProps) {
  let text: string;
  switch (p.mode) {
    case 'drop-dir':
      text = 'drop the next segment from:  c client→server   s server→client   Esc cancel';
      break;
    case 'fin-ms':
      text = `delay the next FIN by: ${p.finBuffer === '' ? `[${DEFAULT_FIN_DELAY_MS}]` : p.finBuffer}▏ms   Enter apply  Esc cancel`;
      break;
    case 'profile':
      text = '↑↓ choose a profile   Enter apply (new segments)   Esc cancel';
      break;
    case 'help':
      text =
        p.helpPages > 1
          ? `help page ${p.helpPage + 1} of ${p.helpPages}: ${p.helpPage + 1 < p.helpPages ? 'Space next page' : 'Space closes'}  PgUp back  any other key closes`
          : 'any key closes help';
      break;
    case 'filter': {
      // The examples give way first (the help's / line has them): Enter and Esc must show at 80 columns.
      const keys = `connections matching: ${p.filterBuffer}▏  Enter apply (empty: all)  Esc cancel`;
      const examples = '  e.g. #3  8080  ESTAB  client=FIN-WAIT-2';
      text = [...keys].length + examples.length < p.width ? keys + examples : keys;
      break;
    }
    case 'normal':
      text = p.message ?? keyBar(p.inline, p.width).text;
      break;
  }
  const prompt = p.mode === 'drop-dir' || p.mode === 'fin-ms' || p.mode === 'filter';
  return (
    <Text wrap="truncate" inverse={prompt} color={p.message && p.mode === 'normal' ? tint('cyan', p.color) : undefined}>
      {text}
    </Text>
  );
}
