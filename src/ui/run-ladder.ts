// A finished run's ladder, laid out from its events: what the reveal screen
// draws beside the reveal. The same model and layout the live UI uses (the
// run's events applied in order), so it reads as the ladder the student just
// watched. Pure.

import type { TcpmitmEvent } from '../engine/events.js';
import { UiModel } from './model.js';
import { ladderGeometry, ladderHeader, ladderLines, type LadderLine } from './ladder.js';

export interface RunLadder {
  /** "#1 198.18.0.1:43210 ⇄ 198.18.0.2:8080", or undefined when the run had no connection. */
  readonly title: string | undefined;
  readonly header: string;
  readonly lines: readonly LadderLine[];
}

/** The ladder of connection `conn` (default the first) at `width` columns. */
export function runLadder(events: readonly TcpmitmEvent[], width: number, conn = 1): RunLadder {
  // Every entry kept: the run is over and short; the screen scrolls.
  const model = new UiModel({ maxLadder: 100_000 });
  // The UI model counts milliseconds (start.tsx converts the live stream the same way); run events carry seconds.
  for (const ev of events) model.apply({ ...ev, t: ev.t * 1000 });
  const g = ladderGeometry(width);
  const row = model.conn(conn);
  if (row === undefined) return { title: undefined, header: ladderHeader(g), lines: [] };
  return { title: `#${row.conn} ${row.client} ⇄ ${row.server}`, header: ladderHeader(g), lines: ladderLines(row.ladder, g, { originT: model.startT ?? row.firstT }) };
}
