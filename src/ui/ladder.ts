// Lays out a connection's ladder diagram as plain text lines for a given
// width: client · tcpmitm · server columns, one arrow per segment with what
// tcpmitm did drawn on it, and each endpoint's new state on its own side.
// Pure (no colour: each line carries a tone the component may colour).

import type { LadderEntry, SegmentEntry, SkipEntry, StateEntry } from './model.js';
import { humanBytes } from './layout.js';
import type { Endpoint } from '../tcp/state.js';
import type { Role } from '../tcp/role.js';

export type LadderTone = 'pass' | 'drop' | 'delay' | 'forged' | 'coalesce' | 'hold' | 'duplicate' | 'replay' | 'retransmission' | 'state';

export interface LadderLine {
  readonly text: string;
  readonly tone: LadderTone;
}

export interface LadderGeometry {
  readonly width: number;
  /** Width of the leading time column (0 when too narrow for it). */
  readonly timeW: number;
  /** Width of each state-label column, lifeline excluded. */
  readonly sideW: number;
  /** Cells between the two lifelines. */
  readonly arrowW: number;
  /** Cell (within the arrow) of tcpmitm's column. */
  readonly mid: number;
}

/** Widest state name is 10 ("FIN-WAIT-1", "CLOSE-WAIT") plus a space next to the lifeline. */
const SIDE_W = 11;
const MIN_ARROW = 24;

export function ladderGeometry(width: number): LadderGeometry {
  const w = Math.max(width, 2 * SIDE_W + 2 + MIN_ARROW);
  // Relative times only when there is room: at 80 columns the arrow labels need it more.
  const timeW = w >= 100 ? 9 : 0;
  const arrowW = w - timeW - 2 * SIDE_W - 2;
  return { width: w, timeW, sideW: SIDE_W, arrowW, mid: Math.floor(arrowW / 2) };
}

/**
 * "client", "tcpmitm", "server" over their columns; over the time column,
 * its base (seconds since the run's start, as in the event pane); after
 * "server", "seq absolute" when the numbers are tcpdump -S's.
 */
export function ladderHeader(g: LadderGeometry, absolute = false): string {
  const cells = blank(g.arrowW, ' ');
  const mitm = 'tcpmitm';
  put(cells, Math.max(0, g.mid - Math.floor(mitm.length / 2)), mitm);
  if (absolute) put(cells, 1, 'seq absolute');
  return (
    (g.timeW > 0 ? 'run+s'.padStart(g.timeW - 1) + ' ' : '') +
    'client'.padStart(g.sideW + 1 - 1) +
    ' ' +
    cells.join('') +
    ' ' +
    'server'
  );
}

/** What tcpmitm did to a segment, as the ladder marks it (the SVG picture in src/ladder uses the same marks). */
export interface Mark {
  readonly glyph: string;
  /** Terminal cells the glyph takes (⚡ is an emoji: two). */
  readonly w: 1 | 2;
  readonly text: string;
  /** The arrow stops at tcpmitm instead of reaching the receiver. */
  readonly stops: boolean;
  readonly tone: LadderTone;
}

const DROP = '✕';
const DELAY = '⏱';
const FORGED = '⚡';
const COALESCE = '⊕';
const HOLD = '⏸';
const DUP = '⧉';
const REPLAY = '↻';

export function markOf(e: SegmentEntry): Mark | undefined {
  const d = e.detail;
  switch (e.verdict) {
    case 'pass':
      // Passed, but it waited behind a delayed segment before it left (engine: 'queued behind N delayed segment(s)').
      return d?.startsWith('queued behind') === true ? { glyph: DELAY, w: 1, text: d, stops: false, tone: 'delay' } : undefined;
    case 'drop':
      return { glyph: DROP, w: 1, text: d ?? 'dropped', stops: true, tone: 'drop' };
    case 'delay':
      return { glyph: DELAY, w: 1, text: d ?? 'delayed', stops: false, tone: 'delay' };
    case 'forged':
      return { glyph: FORGED, w: 2, text: d ?? 'forged', stops: false, tone: 'forged' };
    case 'coalesce':
      return { glyph: COALESCE, w: 1, text: d ?? 'coalesced', stops: true, tone: 'coalesce' };
    case 'duplicate':
      return { glyph: DUP, w: 1, text: d ?? 'duplicated', stops: false, tone: 'duplicate' };
    case 'replay':
      return { glyph: REPLAY, w: 1, text: d ?? 'replayed', stops: false, tone: 'replay' };
    case 'hold':
      if (e.held === 'waiting') return { glyph: HOLD, w: 1, text: d ?? 'held, waiting', stops: true, tone: 'hold' };
      if (e.outcome === 'coalesce') return { glyph: COALESCE, w: 1, text: d ?? 'coalesced', stops: true, tone: 'coalesce' };
      if (e.held === 'dropped') return { glyph: DROP, w: 1, text: d ?? 'dropped while held', stops: true, tone: 'drop' };
      return { glyph: HOLD, w: 1, text: d ?? 'held, released', stops: false, tone: 'pass' };
  }
}

/**
 * The two ISNs (absolute) that turn a connection's relative numbers back into
 * the wire's (tcpdump -S). A side whose SYN was never seen has none: its
 * numbers are absolute already (the engine had no base for them either).
 */
export type IsnBase = Readonly<Record<Endpoint, number | undefined>>;

/** What to draw beyond the arrows themselves. */
export interface LadderView {
  /** The event-clock time shown as 0.000: the run's start, as in the event pane. */
  readonly originT: number;
  /** Absolute sequence numbers (tcpdump -S) from these ISNs; absent: relative ones. */
  readonly isn?: IsnBase;
  /** Each segment's TCP options after its numbers, as tcpdump writes them ("options [mss 1460,…]"). */
  readonly options?: boolean;
}

/** Roles the flags alone do not tell, written after the numbers (the SVG picture shows the same ones). */
const TAGGED_ROLES: ReadonlySet<Role> = new Set<Role>(['retransmission', 'last-ack', 'ack-of-fin', 'keepalive', 'window-probe']);

/** "retransmission #2", "last-ack", or '' for a role the flags already say. */
export function roleTag(e: Pick<SegmentEntry, 'role' | 'resent'>): string {
  if (!TAGGED_ROLES.has(e.role)) return '';
  return e.role === 'retransmission' ? `RETRANSMISSION #${e.resent}` : e.role;
}

/** "FA seq=101 ack=201 len=0"; no ack without the ACK flag (a SYN's ack field means nothing). */
export function segmentLabel(e: Pick<SegmentEntry, 'flags' | 'seq' | 'ack' | 'len' | 'from'>, isn?: IsnBase): string {
  return `${e.flags} ${segmentNumbers(e, isn)}`;
}

/** "seq=101 ack=201 len=0": the numbers of `segmentLabel`, without the flags; with `isn`, absolute. */
export function segmentNumbers(e: Pick<SegmentEntry, 'flags' | 'seq' | 'ack' | 'len' | 'from'>, isn?: IsnBase): string {
  const seqBase = isn?.[e.from];
  const ackBase = isn?.[e.from === 'client' ? 'server' : 'client'];
  const seq = seqBase === undefined ? e.seq : (e.seq + seqBase) >>> 0;
  const ack = ackBase === undefined ? e.ack : (e.ack + ackBase) >>> 0;
  return `seq=${seq}${e.flags.includes('A') ? ` ack=${ack}` : ''} len=${e.len}`;
}

const RELATIVE_FROM_0: LadderView = { originT: 0 };

/** One line per entry. */
export function ladderLines(entries: readonly LadderEntry[], g: LadderGeometry, view: LadderView = RELATIVE_FROM_0): LadderLine[] {
  const out: LadderLine[] = new Array<LadderLine>(entries.length);
  for (let i = 0; i < entries.length; i++) out[i] = ladderLine(entries[i]!, g, view);
  return out;
}

export function ladderLine(e: LadderEntry, g: LadderGeometry, view: LadderView = RELATIVE_FROM_0): LadderLine {
  switch (e.kind) {
    case 'seg':
      return segmentLine(e, g, view);
    case 'state':
      return stateLine(e, g, view.originT);
    case 'skip':
      return skipLine(e, g, view.originT);
  }
}

/** "⋯ 12,345 segments c→s (18M bytes) not drawn ⋯" along the lifelines, in the pass tone. */
function skipLine(e: SkipEntry, g: LadderGeometry, originT: number): LadderLine {
  const cells = blank(g.arrowW, ' ');
  cells[g.mid] = '┊';
  const text = fit(`⋯ ${e.count.toLocaleString('en-US')} segments ${e.dir === 'c2s' ? 'c→s' : 's→c'} (${humanBytes(e.bytes)} bytes) not drawn ⋯`, g.arrowW - 2);
  put(cells, Math.max(1, Math.floor((g.arrowW - text.length) / 2)), text);
  return { text: frame(g, e.t, originT, '', cells.join(''), ''), tone: 'pass' };
}

function frame(g: LadderGeometry, t: number, originT: number, left: string, arrow: string, right: string): string {
  const time = g.timeW > 0 ? `${((t - originT) / 1000).toFixed(3)} `.padStart(g.timeW) : '';
  return (time + left.padStart(g.sideW - 1) + ' │' + arrow + '│ ' + right).trimEnd();
}

function stateLine(e: StateEntry, g: LadderGeometry, originT: number): LadderLine {
  const cells = blank(g.arrowW, ' ');
  cells[g.mid] = '┊';
  if (e.cause) {
    const room = Math.max(0, g.mid - 2);
    const text = fit(`(${e.cause})`, room);
    if (e.endpoint === 'client') put(cells, 1, text);
    else put(cells, g.arrowW - 1 - text.length, text);
  }
  const left = e.endpoint === 'client' ? e.to : '';
  const right = e.endpoint === 'server' ? e.to : '';
  return { text: frame(g, e.t, originT, left, cells.join(''), right), tone: 'state' };
}

function segmentLine(e: SegmentEntry, g: LadderGeometry, view: LadderView): LadderLine {
  const originT = view.originT;
  const M = g.arrowW;
  const ltr = e.dir === 'c2s';
  const cells = blank(M, ' ');
  cells[g.mid] = '┊';
  // Work in logical positions along the direction of travel (0 = sender's
  // lifeline), then map to columns; text is written left to right either way.
  const lmid = ltr ? g.mid : M - 1 - g.mid;
  const phys = (p: number, n: number): number => (ltr ? p : M - p - n);
  const line = (from: number, to: number): void => {
    for (let p = from; p < to; p++) cells[phys(p, 1)] = '─';
  };
  const text = (p: number, s: string): void => {
    if (s.length > 0) put(cells, phys(p, s.length), s);
  };
  const glyph = (p: number, m: Mark): void => {
    const c = phys(p, m.w);
    cells[c] = m.glyph;
    if (m.w === 2) cells[c + 1] = '';
  };
  const head = ltr ? '▶' : '◀';
  const mark = markOf(e);
  // The role after the numbers, unless the mark's words already name it
  // ("dropped last-ack from client"), or they would not fit beside it: what
  // tcpmitm did comes first.
  const bare = ` ${segmentLabel(e, view.isn)}${view.options === true && e.options !== undefined ? ` [${e.options}]` : ''} `;
  let tag = mark !== undefined && mark.text.includes(e.role) ? '' : roleTag(e);
  if (tag !== '' && mark !== undefined && bare.length + tag.length + 1 + mark.w + mark.text.length + 3 > M) tag = '';
  const label = tag === '' ? bare : `${bare}${tag} `;
  // A retransmission is drawn in its own tone unless tcpmitm did something to it.
  const plainTone: LadderTone = e.role === 'retransmission' ? 'retransmission' : 'pass';

  if (e.verdict === 'forged' && mark) {
    // Forged by tcpmitm: the arrow starts at its column, not at the endpoint
    // it pretends to be.
    const room = M - 1 - (lmid + mark.w) - 1;
    const lab = fit(label, room);
    line(lmid + mark.w, M - 1);
    cells[phys(M - 1, 1)] = head;
    glyph(lmid, mark);
    text(lmid + mark.w, lab);
    const note = fit(` ${mark.text} `, lmid - 1);
    text(lmid - note.length, note);
    return { text: frame(g, e.t, originT, sideLabel(e, 'client'), cells.join(''), sideLabel(e, 'server')), tone: mark.tone };
  }

  // Keep at least 3 cells after the mark for the head or a short note.
  const maxMark = M - 3 - (mark?.w ?? 1);
  const lab = fit(label, Math.max(0, maxMark - 1));
  const labEnd = 1 + lab.length;
  const at = Math.min(Math.max(lmid, labEnd + 1), maxMark);
  if (mark === undefined || !mark.stops) {
    line(0, M - 1);
    cells[phys(M - 1, 1)] = head;
  } else {
    line(0, at);
  }
  text(1, lab);
  if (mark) {
    glyph(at, mark);
    const after = at + mark.w;
    const room = (mark.stops ? M : M - 1) - after - (mark.stops ? 0 : 1);
    text(after, fit(` ${markWords(mark.text, e.from, room - 2)} `, room));
  } else if (e.detail) {
    const after = Math.max(lmid + 1, labEnd + 1);
    text(after, fit(` ${e.detail} `, M - 2 - after));
  }
  return {
    text: frame(g, e.t, originT, sideLabel(e, 'client'), cells.join(''), sideLabel(e, 'server')),
    tone: mark === undefined || mark.tone === 'pass' ? plainTone : mark.tone,
  };
}

/**
 * A mark's words in at most `room` cells where they can be said shorter than
 * cut: "from client" goes (the arrow says who sent it), and "queued behind 3
 * delayed segments" becomes "queued behind 3" (the ⏱ beside it says delayed).
 */
export function markWords(text: string, from: 'client' | 'server', room: number): string {
  if (text.length <= room) return text;
  const short = text.replace(` from ${from}`, '');
  if (short.length <= room) return short;
  return short.replace(/^(queued behind \d+) delayed segments?/, '$1');
}

function sideLabel(e: SegmentEntry, side: 'client' | 'server'): string {
  return (side === 'client' ? e.clientState : e.serverState) ?? '';
}

function blank(n: number, c: string): string[] {
  return new Array<string>(n).fill(c);
}

function put(cells: string[], start: number, s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = start + i;
    if (c >= 0 && c < cells.length) cells[c] = s[i]!;
  }
}

function fit(s: string, n: number): string {
  if (n <= 0) return '';
  return s.length <= n ? s : `${s.slice(0, Math.max(0, n - 1))}…`;
}

/**
 * Which entries are visible: following the newest (`top` undefined) or
 * pinned at absolute index `top` after the user scrolled back. Absolute
 * indexes survive the model trimming old entries (`base`).
 */
export function ladderWindow(
  base: number,
  count: number,
  height: number,
  top: number | undefined,
): { start: number; end: number; following: boolean } {
  const end = base + count;
  const h = Math.max(1, height);
  if (top === undefined || top + h >= end) return { start: Math.max(base, end - h), end, following: true };
  const start = Math.max(base, top);
  return { start, end: Math.min(end, start + h), following: false };
}
