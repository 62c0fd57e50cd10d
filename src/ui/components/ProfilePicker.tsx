// The profile list opened by `p`, drawn over the ladder and event panes.

import { Box, Text } from 'ink';
import { listWindow, rule } from '../layout.js';

export interface ProfilePickerProps {
  /** Built-in profile names. */
  readonly profiles: readonly string[];
  /** Index under the cursor. */
  readonly cursor: number;
  /** The profile in force, marked with "•". */
  readonly current: string | undefined;
  /** Lines available. */
  readonly height: number;
  /** Terminal width. */
  readonly width: number;
}

export default function ProfilePicker(p: ProfilePickerProps) {
  const h = Math.max(1, p.height - 1);
  const top = listWindow(p.profiles.length, h, p.cursor);
  return (
    <Box flexDirection="column" height={p.height}>
      <Text wrap="truncate" bold>{rule('profiles', p.width)}</Text>
      {p.profiles.slice(top, top + h).map((name, i) => (
        <Text key={name} wrap="truncate" inverse={top + i === p.cursor}>
          {`${top + i === p.cursor ? '▶' : ' '} ${name === p.current ? '•' : ' '} ${name}`}
        </Text>
      ))}
    </Box>
  );
}
