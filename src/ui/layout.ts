// Pure screen arithmetic for the dashboard: how many rows each pane gets at a
// terminal size, which table columns fit a width, and the number formats the
// panes share. Kept out of the components so it can be tested without ink.

import type { TcpState } from '../tcp/state.js';

export interface ScreenLayout {
  /** Connection rows shown (the table scrolls to keep the selection visible). */
  readonly tableRows: number;
  /** Ladder lines shown below its title and column header. */
  readonly ladderRows: number;
  /** Event lines shown below the pane's title. */
  readonly eventRows: number;
}

/** Fixed lines: header 2, table title + column header 2, ladder title + header 2, events title 1, help bar 1. */
const FIXED = 8;

/**
 * Splits `rows` among the panes. One row is left unused: ink clears the whole
 * screen each frame once its output reaches the terminal's height, which
 * flickers.
 */
export function screenLayout(rows: number, connCount: number): ScreenLayout {
  const usable = Math.max(rows, 16) - 1 - FIXED;
  const tableCap = Math.max(2, Math.floor(rows / 8));
  const tableRows = Math.min(Math.max(connCount, 1), tableCap);
  const eventRows = Math.max(3, Math.min(10, Math.floor(rows / 6)));
  const ladderRows = Math.max(3, usable - tableRows - eventRows);
  return { tableRows, ladderRows, eventRows };
}

/** Lines an overlay (help, the profile picker) has in place of the ladder and event panes, its title included. */
export function overlayRows(l: ScreenLayout): number {
  return l.ladderRows + 2 + l.eventRows + 1;
}

/** First visible row of a list of `count` so that `selected` (an index) stays inside a window of `height`. */
export function listWindow(count: number, height: number, selected: number): number {
  if (count <= height) return 0;
  const s = Math.min(Math.max(selected, 0), count - 1);
  return Math.min(Math.max(0, s - height + 1), count - height);
}

export type TableColumn = 'sel' | 'conn' | 'client' | 'cstate' | 'ckernel' | 'sstate' | 'skernel' | 'age' | 'bytes' | 'server';

export const COLUMN_WIDTH: Record<TableColumn, number> = {
  sel: 2,
  conn: 4,
  client: 18,
  cstate: 11,
  ckernel: 12,
  sstate: 11,
  skernel: 12,
  age: 6,
  bytes: 16,
  server: 18,
};

/** Columns in display order; at 80 columns the byte counts and the server address (also in the ladder title) give way. */
export function tableColumns(width: number): TableColumn[] {
  const order: TableColumn[] = ['sel', 'conn', 'client', 'server', 'cstate', 'ckernel', 'sstate', 'skernel', 'bytes', 'age'];
  const essential: TableColumn[] = ['sel', 'conn', 'client', 'cstate', 'ckernel', 'sstate', 'skernel', 'age'];
  const chosen = new Set<TableColumn>(essential);
  let used = essential.reduce((n, c) => n + COLUMN_WIDTH[c], 0);
  for (const extra of ['bytes', 'server'] as const) {
    if (used + COLUMN_WIDTH[extra] <= width) {
      chosen.add(extra);
      used += COLUMN_WIDTH[extra];
    }
  }
  return order.filter((c) => chosen.has(c));
}

/** The kernel cell: "≠" marks a disagreement reported by the probe, "-" an unknown kernel state. */
export function kernelCell(kernel: TcpState | undefined, disagree: boolean): string {
  if (kernel === undefined) return ' -';
  return `${disagree ? '≠' : ' '}${kernel}`;
}

export function fitLeft(s: string, n: number): string {
  // Addresses lose their head, not the port: the port tells connections apart.
  return s.length <= n ? s.padEnd(n) : `…${s.slice(s.length - n + 1)}`;
}

export function fitRight(s: string, n: number): string {
  return s.length <= n ? s.padEnd(n) : `${s.slice(0, n - 1)}…`;
}

export function humanBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)}`;
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
  if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)}M`;
  return `${(n / 1e9).toFixed(1)}G`;
}

export function humanDuration(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}`;
}

/** "00:01:23.4" for the header's time since the run started (tenths: the first frame reads 00:00:00.0, not a bare zero). */
export function clock(ms: number): string {
  const d = Math.floor(Math.max(0, ms) / 100);
  const s = Math.floor(d / 10);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}:${p(Math.floor(s / 60) % 60)}:${p(s % 60)}.${d % 10}`;
}

/** A pane title drawn as a rule exactly `width` cells wide: "── title ─────". */
export function rule(title: string, width: number): string {
  const head = title === '' ? '──' : `── ${title} `;
  if (head.length >= width) return `${head.slice(0, Math.max(0, width - 1))}…`;
  return head + '─'.repeat(width - head.length);
}
