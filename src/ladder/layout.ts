// Lays out a run's ladder rows (rows.ts) as shapes: per connection, a time
// axis (seconds since the run start), the client's kernel and inferred state
// columns, the client's lifeline, tcpmitm's column in the middle, the server's
// lifeline and its two state columns; one slanted arrow per segment with its
// tcpdump-style flags and numbers, tcpmitm's mark on it (the same marks as the
// terminal ladder, src/ui/ladder.ts), then a title and a legend. Pure.

import type { Role } from '../tcp/role.js';
import { tcpdumpFlags } from '../tcp/tcpdump-flags.js';
import { markOf, segmentNumbers, type LadderTone, type Mark } from '../ui/ladder.js';
import type { SegmentEntry, SkipEntry, StateEntry } from '../ui/model.js';
import { humanBytes } from '../ui/layout.js';
import type { ConnectionRows, KernelRow, LadderRow, RunRows } from './rows.js';
import { unionOf, type Shape, type TextShape } from './shapes.js';
import { fitText, textWidth } from './text-metrics.js';

export interface Picture {
  readonly title: string;
  readonly subtitle: string;
  readonly width: number;
  readonly height: number;
  readonly shapes: readonly Shape[];
}

export const FONT_FAMILY = "'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace";

const M = 20;
const TIME_W = 64;
const KERNEL_W = 130;
const STATE_W = 96;
const ARROW_W = 680;
const LABEL = 11;
const STATE_SIZE = 12;
/** Rows further apart than this get a gap that says how long nothing happened. */
const GAP_S = 0.3;

const INK = '#1f2328';
const MUTED = '#6e7781';
const KERNEL = '#57606a';
const LIFELINE = '#8c959f';

export const TONE_COLOUR: Readonly<Record<LadderTone, string>> = {
  pass: INK,
  drop: '#cf222e',
  delay: '#bc4c00',
  forged: '#8250df',
  coalesce: '#0a7480',
  hold: '#0969da',
  duplicate: '#1a7f37',
  replay: '#7d4e00',
  // The terminal colours an untouched retransmission; the picture writes its role beside it instead (arrowLabel).
  retransmission: INK,
  state: INK,
};

/**
 * The terminal's marks where fonts have them; ⏱ ⏸ ⧉ are in no DejaVu face
 * (the fonts a Debian browser, Inkscape or LaTeX finds first) and would
 * print as boxes, so the picture draws their look-alikes from DejaVu Sans Mono.
 */
const PICTURE_GLYPH: Readonly<Record<string, string>> = { '⏱': '◷', '⏸': '‖', '⧉': '⊞' };

export function pictureGlyph(g: string): string {
  return PICTURE_GLYPH[g] ?? g;
}

/** Roles the flags do not already say, written after the numbers (a retransmitted FIN must read as one). */
const SHOWN_ROLES: ReadonlySet<Role> = new Set<Role>(['retransmission', 'last-ack', 'ack-of-fin', 'keepalive', 'window-probe']);

interface Columns {
  readonly axisX: number;
  readonly clientKernelRight: number;
  readonly clientStateRight: number;
  readonly xc: number;
  readonly mid: number;
  readonly xs: number;
  readonly serverStateLeft: number;
  readonly serverKernelLeft: number;
  readonly width: number;
}

function columns(): Columns {
  const axisX = M + TIME_W;
  const clientKernelRight = axisX + 10 + KERNEL_W;
  const clientStateRight = clientKernelRight + 10 + STATE_W;
  const xc = clientStateRight + 10;
  const xs = xc + ARROW_W;
  const serverStateLeft = xs + 10;
  const serverKernelLeft = serverStateLeft + STATE_W + 10;
  return { axisX, clientKernelRight, clientStateRight, xc, mid: xc + ARROW_W / 2, xs, serverStateLeft, serverKernelLeft, width: serverKernelLeft + KERNEL_W + M };
}

const text = (x: number, y: number, s: string, size: number, anchor: TextShape['anchor'], fill: string, more: Partial<TextShape> = {}): TextShape => ({
  kind: 'text', x, y, text: s, size, anchor, fill, ...more,
});

/** The picture of `run`: one ladder per connection, stacked, under one title and over one legend. */
export function layoutRun(run: RunRows): Picture {
  const c = columns();
  const shapes: Shape[] = [];
  const title = `tcpmitm ladder${run.profile ? `: ${run.profile}` : ''}${run.mode ? ` (${run.mode}${run.lab ? ` ${run.lab}` : ''})` : ''}`;
  const subtitle = `${run.wall ? `run started ${run.wall}; ` : ''}times in seconds since the run start; seq/ack relative to each sender's ISN`;
  shapes.push(text(M, M + 16, fitText(title, c.width - 2 * M, 16), 16, 'start', INK, { bold: true }));
  shapes.push(text(M, M + 34, fitText(subtitle, c.width - 2 * M, 11), 11, 'start', MUTED));
  let y = M + 56;
  if (run.connections.length === 0) {
    shapes.push(text(M, y + 14, 'no connection in this run', 12, 'start', INK));
    y += 30;
  }
  for (const conn of run.connections) {
    const section = layoutConnection(conn, c, y);
    shapes.push(section.group);
    y = section.bottom + 24;
  }
  const legend = layoutLegend(c, y);
  shapes.push(legend.group);
  const box = unionOf(shapes) ?? { x0: 0, y0: 0, x1: c.width, y1: y };
  return { title, subtitle, width: Math.ceil(Math.max(c.width, box.x1 + M)), height: Math.ceil(Math.max(legend.bottom, box.y1) + M), shapes };
}

function layoutConnection(conn: ConnectionRows, c: Columns, top: number): { group: Shape; bottom: number } {
  const out: Shape[] = [];
  const head = `#${conn.conn}  ${conn.client} ⇄ ${conn.server}${conn.pickedUp ? '  (picked up mid-stream: earlier states unknown)' : ''}`;
  out.push(text(M, top + 14, fitText(head, c.width - 2 * M, 13), 13, 'start', INK, { bold: true }));
  const headY = top + 36;
  out.push(text(c.xc, headY, 'client', 12, 'middle', INK, { bold: true }));
  out.push(text(c.mid, headY, 'tcpmitm', 12, 'middle', MUTED, { bold: true }));
  out.push(text(c.xs, headY, 'server', 12, 'middle', INK, { bold: true }));
  const subY = headY + 14;
  out.push(text(c.axisX - 6, subY, 't (s)', 10, 'end', MUTED));
  out.push(text(c.clientKernelRight, subY, 'kernel', 10, 'end', KERNEL, { italic: true }));
  out.push(text(c.clientStateRight, subY, 'inferred', 10, 'end', MUTED));
  out.push(text(c.serverStateLeft, subY, 'inferred', 10, 'start', MUTED));
  out.push(text(c.serverKernelLeft, subY, 'kernel', 10, 'start', KERNEL, { italic: true }));

  const rowsTop = subY + 10;
  let y = rowsTop;
  const rows: Shape[] = [];
  let prevT: number | undefined;
  for (const row of conn.rows) {
    if (prevT !== undefined && row.t - prevT > GAP_S) {
      rows.push({ kind: 'group', cls: 'gap', data: { seconds: (row.t - prevT).toFixed(3) }, children: [text(c.mid, y + 13, `… ${(row.t - prevT).toFixed(3)} s later …`, 10, 'middle', MUTED, { italic: true })] });
      y += 20;
    }
    prevT = row.t;
    const drawn = layoutRow(row, c, y);
    rows.push(drawn.group);
    y += drawn.height;
  }
  if (conn.rows.length === 0) {
    rows.push(text(c.mid, y + 14, 'no segments', 11, 'middle', MUTED, { italic: true }));
    y += 22;
  }
  const bottom = y + 8;
  // Lifelines and axis under the rows (drawn first, so arrows and marks sit on them).
  out.push({ kind: 'line', x1: c.xc, y1: rowsTop - 4, x2: c.xc, y2: bottom, stroke: LIFELINE, width: 2 });
  out.push({ kind: 'line', x1: c.xs, y1: rowsTop - 4, x2: c.xs, y2: bottom, stroke: LIFELINE, width: 2 });
  out.push({ kind: 'line', x1: c.mid, y1: rowsTop - 4, x2: c.mid, y2: bottom, stroke: LIFELINE, width: 1, dash: '3 4' });
  out.push({ kind: 'line', x1: c.axisX, y1: rowsTop - 4, x2: c.axisX, y2: bottom, stroke: MUTED, width: 1 });
  out.push(...rows);
  return { group: { kind: 'group', cls: 'connection', data: { conn: String(conn.conn) }, children: out }, bottom };
}

function layoutRow(row: LadderRow, c: Columns, y: number): { group: Shape; height: number } {
  switch (row.kind) {
    case 'kernel':
      return kernelRow(row, c, y);
    case 'seg':
      return segmentRow(row.entry as SegmentEntry, row.t, c, y);
    case 'state':
      return stateRow(row.entry as StateEntry, row.t, c, y);
    case 'skip':
      return skipRow(row.entry as SkipEntry, row.t, c, y);
  }
}

function timeLabel(c: Columns, t: number, y: number, kernel = false): Shape[] {
  return [
    { kind: 'line', x1: c.axisX - 3, y1: y - 4, x2: c.axisX + 3, y2: y - 4, stroke: MUTED, width: 1 },
    text(c.axisX - 6, y, t.toFixed(3), 10, 'end', kernel ? KERNEL : MUTED, kernel ? { italic: true } : {}),
  ];
}

/** The words beside a mark: the verdict with its detail, and the rule that decided. */
export function markNote(e: SegmentEntry, mark: Mark): string {
  let s = mark.text;
  if ((e.verdict === 'delay' || mark.tone === 'delay') && !/^(delayed|queued)/i.test(s)) s = `delayed ${s}`;
  return e.rule !== undefined ? `${s} (rule ${e.rule})` : s;
}

/** "[F.] seq=101 ack=201 len=0", and the role when the flags do not say it. */
export function arrowLabel(e: SegmentEntry): string {
  return `${tcpdumpFlags(e.flags)} ${segmentNumbers(e)}${SHOWN_ROLES.has(e.role) ? ` ${e.role}` : ''}`;
}

const SEG_H = 32;

function segmentRow(e: SegmentEntry, t: number, c: Columns, y: number): { group: Shape; height: number } {
  const mark = markOf(e);
  const tone: LadderTone = mark?.tone ?? 'pass';
  const colour = TONE_COLOUR[tone];
  const ltr = e.dir === 'c2s';
  const forged = e.verdict === 'forged';
  const sender = ltr ? c.xc : c.xs;
  const receiver = ltr ? c.xs : c.xc;
  const y0 = y + 18;
  const y1 = y + 28;
  const yAt = (x: number): number => y0 + ((y1 - y0) * Math.abs(x - sender)) / ARROW_W;
  const from = forged ? c.mid : sender;
  const stops = mark?.stops === true;
  const to = stops ? c.mid + (ltr ? -9 : 9) : receiver;
  const out: Shape[] = [...timeLabel(c, t, y0 + 4)];
  out.push({ kind: 'line', x1: from, y1: yAt(from), x2: to, y2: yAt(to), stroke: colour, width: 1.6, ...(e.verdict === 'forged' ? { dash: '6 3' } : {}) });
  if (!stops) out.push(arrowHead(from, yAt(from), to, yAt(to), colour));
  const half = ARROW_W / 2 - 22;
  const sendSide = (s: string, fill: string, more: Partial<TextShape> = {}): TextShape =>
    text(ltr ? c.xc + 10 : c.xs - 10, y + 13, fitText(s, half, LABEL), LABEL, ltr ? 'start' : 'end', fill, more);
  const recvSide = (s: string, fill: string, more: Partial<TextShape> = {}): TextShape =>
    text(ltr ? c.mid + 14 : c.mid - 14, y + 13, fitText(s, half, LABEL), LABEL, ltr ? 'start' : 'end', fill, more);
  const label = arrowLabel(e);
  if (forged && mark) {
    // Forged by tcpmitm: the arrow starts in its column; its words go on the sender's half.
    out.push(recvSide(label, colour));
    out.push(sendSide(markNote(e, mark), colour, { italic: true }));
  } else {
    out.push(sendSide(label, colour));
    if (mark) out.push(recvSide(markNote(e, mark), colour, { italic: true }));
    else if (e.detail) out.push(recvSide(e.detail, MUTED, { italic: true }));
  }
  if (mark) {
    const ym = yAt(c.mid);
    out.push({ kind: 'rect', x: c.mid - 9, y: ym - 9, w: 18, h: 18, fill: '#ffffff' });
    out.push(text(c.mid, ym + 5, pictureGlyph(mark.glyph), 14, 'middle', colour, { bold: true }));
  }
  // Each side's new state beside the arrow's end on that side, as in the textbook pictures.
  if (e.clientState) out.push(text(c.clientStateRight, yAt(c.xc) + 4, e.clientState, STATE_SIZE, 'end', INK, { bold: true }));
  if (e.serverState) out.push(text(c.serverStateLeft, yAt(c.xs) + 4, e.serverState, STATE_SIZE, 'start', INK, { bold: true }));
  return {
    group: {
      kind: 'group',
      cls: `segment ${tone}`,
      data: { t: t.toFixed(3), dir: e.dir, flags: tcpdumpFlags(e.flags), verdict: e.held === 'dropped' ? 'drop' : e.verdict },
      children: out,
    },
    height: SEG_H,
  };
}

function arrowHead(x1: number, y1: number, x2: number, y2: number, fill: string): Shape {
  const len = Math.hypot(x2 - x1, y2 - y1) || 1;
  const ux = (x2 - x1) / len;
  const uy = (y2 - y1) / len;
  const back = 9;
  const side = 4;
  const bx = x2 - ux * back;
  const by = y2 - uy * back;
  return { kind: 'polygon', points: [[x2, y2], [bx - uy * side, by + ux * side], [bx + uy * side, by - ux * side]], fill };
}

function stateRow(e: StateEntry, t: number, c: Columns, y: number): { group: Shape; height: number } {
  const ym = y + 14;
  const client = e.endpoint === 'client';
  const out: Shape[] = [...timeLabel(c, t, ym + 4)];
  out.push({ kind: 'rect', x: (client ? c.xc : c.xs) - 4, y: ym - 4, w: 8, h: 8, fill: INK });
  out.push(text(client ? c.clientStateRight : c.serverStateLeft, ym + 4, e.to, STATE_SIZE, client ? 'end' : 'start', INK, { bold: true }));
  if (e.cause) {
    out.push(text(client ? c.xc + 10 : c.xs - 10, ym + 4, fitText(`(${e.cause})`, ARROW_W / 2 - 22, 10), 10, client ? 'start' : 'end', MUTED, { italic: true }));
  }
  return { group: { kind: 'group', cls: 'state inferred', data: { t: t.toFixed(3), endpoint: e.endpoint, state: e.to }, children: out }, height: 24 };
}

function kernelRow(k: KernelRow, c: Columns, y: number): { group: Shape; height: number } {
  const ym = y + 12;
  const client = k.endpoint === 'client';
  const x = client ? c.xc : c.xs;
  const out: Shape[] = [...timeLabel(c, k.t, ym + 4, true)];
  out.push({ kind: 'polygon', points: [[x, ym - 5], [x + 5, ym], [x, ym + 5], [x - 5, ym]], fill: '#ffffff', stroke: KERNEL });
  out.push(text(client ? c.clientKernelRight : c.serverKernelLeft, ym + 4, `kernel: ${k.to}`, LABEL, client ? 'end' : 'start', KERNEL, { italic: true }));
  return { group: { kind: 'group', cls: 'state kernel', data: { t: k.t.toFixed(6), endpoint: k.endpoint, state: k.to }, children: out }, height: 20 };
}

function skipRow(e: SkipEntry, t: number, c: Columns, y: number): { group: Shape; height: number } {
  const s = `⋯ ${e.count.toLocaleString('en-US')} segments ${e.dir === 'c2s' ? 'c→s' : 's→c'} (${humanBytes(e.bytes)} bytes) not drawn ⋯`;
  return {
    group: { kind: 'group', cls: 'skip', children: [...timeLabel(c, t, y + 16), text(c.mid, y + 16, fitText(s, ARROW_W - 20, 10), 10, 'middle', MUTED, { italic: true })] },
    height: 22,
  };
}

interface LegendItem {
  readonly sample: (x: number, y: number) => Shape[];
  readonly sampleW: number;
  readonly words: string;
}

function glyphItem(glyph: string, tone: LadderTone, words: string): LegendItem {
  return { sample: (x, y) => [text(x + 8, y + 5, glyph, 14, 'middle', TONE_COLOUR[tone], { bold: true })], sampleW: 18, words };
}

const LEGEND: readonly LegendItem[] = [
  {
    sample: (x, y) => [{ kind: 'line', x1: x, y1: y - 2, x2: x + 30, y2: y + 2, stroke: INK, width: 1.6 }, arrowHead(x, y - 2, x + 34, y + 2, INK)],
    sampleW: 36,
    words: 'a segment: tcpdump flags ([S] SYN, [S.] SYN+ACK, [F.] FIN+ACK, [R] RST, [P.] PSH+ACK, [.] ACK), seq/ack/len',
  },
  glyphItem('✕', 'drop', 'dropped by tcpmitm (the arrow stops)'),
  glyphItem(pictureGlyph('⏱'), 'delay', 'delayed (by the ms given)'),
  glyphItem('⚡', 'forged', 'forged by tcpmitm (dashed, from its column)'),
  glyphItem(pictureGlyph('⏸'), 'hold', 'held by tcpmitm'),
  glyphItem('⊕', 'coalesce', 'coalesced'),
  glyphItem(pictureGlyph('⧉'), 'duplicate', 'duplicated'),
  glyphItem('↻', 'replay', 'replayed'),
  { sample: (x, y) => [text(x, y + 4, 'ESTAB', STATE_SIZE, 'start', INK, { bold: true })], sampleW: textWidth('ESTAB', STATE_SIZE), words: "state inferred by tcpmitm from the wire" },
  {
    sample: (x, y) => [text(x, y + 4, 'kernel: ESTAB', LABEL, 'start', KERNEL, { italic: true })],
    sampleW: textWidth('kernel: ESTAB', LABEL),
    words: "state the kernel reported (sock:inet_sock_set_state)",
  },
];

function layoutLegend(c: Columns, top: number): { group: Shape; bottom: number } {
  const out: Shape[] = [text(M, top + 14, 'Legend', 12, 'start', INK, { bold: true })];
  const right = c.width - M;
  let x = M;
  let y = top + 34;
  for (const item of LEGEND) {
    const words = fitText(item.words, right - M - item.sampleW - 8, 10);
    const w = item.sampleW + 8 + textWidth(words, 10);
    if (x > M && x + w > right) {
      x = M;
      y += 22;
    }
    out.push(...item.sample(x, y));
    out.push(text(x + item.sampleW + 8, y + 4, words, 10, 'start', MUTED));
    x += w + 24;
  }
  return { group: { kind: 'group', cls: 'legend', children: out }, bottom: y + 12 };
}

