// The bottom line: the keys of the current mode, a prompt (drop direction,
// FIN delay), or the last message a key produced.

import { Text } from 'ink';
import type { UiMode } from '../keys.js';
import { DEFAULT_FIN_DELAY_MS } from '../keys.js';
import { tint } from '../theme.js';

export interface HelpBarProps {
  /** Current key mode. */
  readonly mode: UiMode;
  /** Digits typed at the FIN-delay prompt. */
  readonly finBuffer: string;
  /** Last message from a key ("no connection selected"), shown until the next key. */
  readonly message: string | undefined;
  /** Colour on (NO_COLOR unset). */
  readonly color: boolean;
}

const NORMAL = '↑↓ conn PgUp/Dn scroll r/R/b RST d drop f FIN-delay h hold ␣/x/a held p ? q';

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
      text = 'any key closes help';
      break;
    case 'normal':
      text = p.message ?? NORMAL;
      break;
  }
  const prompt = p.mode === 'drop-dir' || p.mode === 'fin-ms';
  return (
    <Text wrap="truncate" inverse={prompt} color={p.message && p.mode === 'normal' ? tint('cyan', p.color) : undefined}>
      {text}
    </Text>
  );
}
