// The connections table: one row per connection with both endpoints' inferred
// states and the kernel's beside them ("≠" where the probe reported a
// disagreement), selectable with ↑/↓.

import { Box, Text } from 'ink';
import type { ConnRow } from '../model.js';
import {
  COLUMN_WIDTH,
  fitLeft,
  fitRight,
  humanBytes,
  humanDuration,
  kernelCell,
  listWindow,
  rule,
  tableColumns,
  type TableColumn,
} from '../layout.js';
import { tint } from '../theme.js';

export interface ConnectionsTableProps {
  /** All connections, in order of appearance. */
  readonly conns: readonly ConnRow[];
  /** Connection number of the selected row. */
  readonly selected: number | undefined;
  /** Rows available (the list scrolls to keep the selection in view). */
  readonly height: number;
  /** Terminal width. */
  readonly width: number;
  /** Current time on the event clock, for ages. */
  readonly nowT: number;
  /** Colour on (NO_COLOR unset). */
  readonly color: boolean;
  /** The filter that narrowed `conns` ('' none), and how many there are in all. */
  readonly filter: string;
  readonly total: number;
}

const TITLE: Record<TableColumn, string> = {
  sel: '',
  conn: '#',
  client: 'client address',
  server: 'server address',
  cstate: 'client',
  ckernel: ' kernel',
  sstate: 'server',
  skernel: ' kernel',
  bytes: '  c→s     s→c',
  age: '   age',
};

function cell(col: TableColumn, r: ConnRow, selected: boolean, nowT: number): string {
  const w = COLUMN_WIDTH[col];
  switch (col) {
    case 'sel':
      return selected ? '▶ ' : '  ';
    case 'conn':
      return `${r.conn}`.padStart(w - 1) + ' ';
    case 'client':
      return fitLeft(r.client, w - 1) + ' ';
    case 'server':
      return fitLeft(r.server, w - 1) + ' ';
    case 'cstate':
      return fitRight(r.inferred.client ?? '?', w - 1) + ' ';
    case 'sstate':
      // A refused connection has no server side at all (no listener): say so rather than '?'.
      return fitRight(r.inferred.server ?? (r.refused ? 'refused' : '?'), w - 1) + ' ';
    case 'ckernel':
      return fitRight(kernelCell(r.kernel.client, r.disagree.client), w - 1) + ' ';
    case 'skernel':
      return fitRight(kernelCell(r.kernel.server, r.disagree.server), w - 1) + ' ';
    case 'bytes':
      return humanBytes(r.bytes.c2s).padStart(6) + '  ' + humanBytes(r.bytes.s2c).padStart(6) + '  ';
    case 'age':
      return humanDuration(nowT - r.firstT).padStart(w);
  }
}

export default function ConnectionsTable(p: ConnectionsTableProps) {
  const cols = tableColumns(p.width);
  const idx = p.conns.findIndex((r) => r.conn === p.selected);
  const top = listWindow(p.conns.length, p.height, idx);
  const rows = p.conns.slice(top, top + p.height);
  const header = cols.map((c) => (c === 'age' ? TITLE[c] : TITLE[c].padEnd(COLUMN_WIDTH[c]))).join('');
  const more = p.conns.length > p.height ? ` ${top + 1}-${top + rows.length} of ${p.conns.length}` : '';
  return (
    <Box flexDirection="column">
      <Text wrap="truncate" bold>{rule(p.filter === '' ? `connections (${p.conns.length})${more}` : `connections matching "${p.filter}" (${p.conns.length} of ${p.total})${more}`, p.width)}</Text>
      <Text wrap="truncate" dimColor>{header}</Text>
      {rows.length === 0 ? <Text dimColor>{p.filter === '' ? '  no connections yet' : '  none matches (/ then Enter on an empty line: all)'}</Text> : null}
      {rows.map((r) => {
        const sel = r.conn === p.selected;
        return (
          <Text key={r.conn} wrap="truncate" inverse={sel}>
            {cols.map((c) => {
              const text = cell(c, r, sel, p.nowT);
              const bad = (c === 'ckernel' && r.disagree.client) || (c === 'skernel' && r.disagree.server);
              return bad ? (
                <Text key={c} bold color={tint('red', p.color)}>
                  {text}
                </Text>
              ) : (
                text
              );
            })}
          </Text>
        );
      })}
    </Box>
  );
}
