// The picture as plain shapes with absolute coordinates (px): what the layout
// produces and the SVG writer serialises, and the bounds each one covers, so
// the viewBox can be made to contain every one of them. Pure.

import { textWidth } from './text-metrics.js';

export interface TextShape {
  readonly kind: 'text';
  readonly x: number;
  /** Baseline. */
  readonly y: number;
  readonly text: string;
  readonly size: number;
  readonly anchor: 'start' | 'middle' | 'end';
  readonly fill: string;
  readonly bold?: boolean;
  readonly italic?: boolean;
}

export interface LineShape {
  readonly kind: 'line';
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
  readonly stroke: string;
  readonly width: number;
  readonly dash?: string;
}

export interface PolygonShape {
  readonly kind: 'polygon';
  readonly points: readonly (readonly [number, number])[];
  readonly fill: string;
  readonly stroke?: string;
}

export interface RectShape {
  readonly kind: 'rect';
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly fill: string;
  readonly stroke?: string;
}

/** A named group: one segment, one state change… (`cls` and `data` become attributes, for tests and for styling by hand). */
export interface GroupShape {
  readonly kind: 'group';
  readonly cls: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly children: readonly Shape[];
}

export type Shape = TextShape | LineShape | PolygonShape | RectShape | GroupShape;

export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

/**
 * The box a shape covers. Text: its estimated advance (text-metrics.ts) from
 * the anchor, one em above the baseline and 0.3 em below (DejaVu's ascent is
 * 0.93 em, its descent 0.24 em; emoji fallbacks run a little taller).
 */
export function boundsOf(s: Shape): Box | undefined {
  switch (s.kind) {
    case 'text': {
      if (s.text === '') return undefined;
      const w = textWidth(s.text, s.size);
      const x0 = s.anchor === 'start' ? s.x : s.anchor === 'middle' ? s.x - w / 2 : s.x - w;
      return { x0, y0: s.y - s.size, x1: x0 + w, y1: s.y + 0.3 * s.size };
    }
    case 'line': {
      const h = s.width / 2;
      return { x0: Math.min(s.x1, s.x2) - h, y0: Math.min(s.y1, s.y2) - h, x1: Math.max(s.x1, s.x2) + h, y1: Math.max(s.y1, s.y2) + h };
    }
    case 'polygon': {
      const xs = s.points.map((p) => p[0]);
      const ys = s.points.map((p) => p[1]);
      return { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) };
    }
    case 'rect':
      return { x0: s.x, y0: s.y, x1: s.x + s.w, y1: s.y + s.h };
    case 'group':
      return unionOf(s.children);
  }
}

export function unionOf(shapes: readonly Shape[]): Box | undefined {
  let box: Box | undefined;
  for (const s of shapes) {
    const b = boundsOf(s);
    if (b === undefined) continue;
    box = box === undefined ? b : { x0: Math.min(box.x0, b.x0), y0: Math.min(box.y0, b.y0), x1: Math.max(box.x1, b.x1), y1: Math.max(box.y1, b.y1) };
  }
  return box;
}
