// `tcpmitm ladder`'s generator: a recorded run's events in, an SVG (or the
// HTML page around it) out. Pure: the command reads the file and writes the result.

import type { TcpmitmEvent } from '../engine/events.js';
import { htmlOf } from './html.js';
import { layoutRun } from './layout.js';
import { runRows, type RunRows } from './rows.js';
import { svgOf } from './svg.js';

export type LadderFormat = 'svg' | 'html';

export interface LadderPictureOptions {
  /** Only this connection (default: every connection, one ladder each, stacked). */
  readonly conn?: number;
  readonly format?: LadderFormat;
}

export function ladderPicture(events: readonly TcpmitmEvent[], o: LadderPictureOptions = {}): string {
  return pictureOfRows(runRows(events, o.conn), o.format ?? 'svg');
}

export function pictureOfRows(rows: RunRows, format: LadderFormat): string {
  const picture = layoutRun(rows);
  const svg = svgOf(picture);
  return format === 'html' ? htmlOf(svg, picture.title) : svg;
}
