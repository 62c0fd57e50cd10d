import { describe, expect, it } from 'vitest';
import { UiModel, type SegmentEntry } from '../../../src/ui/model.js';
import { ladderGeometry, ladderHeader, ladderLines, ladderWindow, markWords, segmentLabel } from '../../../src/ui/ladder.js';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { coalescedClose, fourWayClose, lastAckDropped } from './fixtures/closes.js';

function lines(evs: readonly TcpmitmEvent[], width: number, conn = 1): string[] {
  const m = new UiModel();
  for (const e of evs) m.apply(e);
  const row = m.conn(conn)!;
  return ladderLines(row.ladder, ladderGeometry(width), { originT: m.startT ?? 0 }).map((l) => l.text);
}

/** Terminal cells: ⚡ is the one wide glyph the ladder uses. */
function cells(s: string): number {
  return [...s].length + (s.match(/⚡/g)?.length ?? 0);
}

/** The arrow part between the two lifelines. */
function arrow(line: string): string {
  const a = line.indexOf('│');
  const b = line.lastIndexOf('│');
  return line.slice(a + 1, b);
}

describe('ladder of a normal four-way close (80 columns)', () => {
  const l = lines(fourWayClose, 80);
  it('draws the close as in the textbook, each state on its own side', () => {
    expect(l.slice(6)).toEqual([
      'FIN-WAIT-1 │─ FA seq=6 ack=6 len=0 ────────────────────────────────▶│ CLOSE-WAIT',
      'FIN-WAIT-2 │◀────────────────────── A seq=6 ack=7 len=0 ack-of-fin ─│',
      ' TIME-WAIT │◀──────────────────────────────── FA seq=6 ack=7 len=0 ─│ LAST-ACK',
      '           │─ A seq=7 ack=7 len=0 last-ack ────────────────────────▶│ CLOSED',
      '    CLOSED │ (timer 2MSL)               ┊                           │',
    ]);
  });
  it('starts with the handshake', () => {
    expect(l[0]).toBe('  SYN-SENT │─ S seq=0 len=0 ───────────────────────────────────────▶│ SYN-RECV');
    expect(l[2]!.endsWith('│ ESTAB')).toBe(true);
  });
  it('fits 80 columns and puts both lifelines in the same columns on every line', () => {
    for (const s of l) {
      expect(cells(s)).toBeLessThanOrEqual(80);
      expect(s.indexOf('│')).toBe(11);
      expect(s.lastIndexOf('│')).toBe(11 + 1 + ladderGeometry(80).arrowW);
    }
  });
  it("adds a time column when wide enough, counting from the run's start as the event pane does", () => {
    const wide = lines(fourWayClose, 120);
    // The connection's first event is at 1 ms: times are not from it but from the start event (0).
    expect(wide[0]!.startsWith('   0.001   SYN-SENT │')).toBe(true);
    expect(wide[6]!.startsWith('   0.100 FIN-WAIT-1 │')).toBe(true);
    expect(wide[10]!.startsWith('  60.102     CLOSED │')).toBe(true);
    for (const s of wide) expect(cells(s)).toBeLessThanOrEqual(120);
  });
  it('has a header naming the three columns', () => {
    const h = ladderHeader(ladderGeometry(80));
    expect(h.indexOf('client')).toBeLessThan(h.indexOf('tcpmitm'));
    expect(h.indexOf('tcpmitm')).toBeLessThan(h.indexOf('server'));
    expect(h).not.toContain('run+s');
    // Wide enough for times: their base is labelled; -S says so too.
    expect(ladderHeader(ladderGeometry(120)).startsWith('   run+s ')).toBe(true);
    expect(ladderHeader(ladderGeometry(80), true)).toContain('seq absolute');
  });
});

describe('ladder of a dropped last ACK with FIN retransmissions', () => {
  const l = lines(lastAckDropped, 80);
  const close = l.slice(9);
  it('stops each dropped ACK at tcpmitm with ✕ and the reason', () => {
    const dropped = close.filter((s) => s.includes('✕'));
    expect(dropped).toHaveLength(2);
    for (const s of dropped) {
      expect(s).toContain('A seq=7 ack=7 len=0');
      // At 80 columns "from client" gives way (the arrow says who sent it): the words are not cut.
      expect(s).toMatch(/✕ dropped last-ack +│/);
      expect(s).not.toContain('▶');
      const a = arrow(s);
      expect(a.indexOf('✕')).toBeGreaterThanOrEqual(ladderGeometry(80).mid);
    }
  });
  it('shows the server FIN twice more, then the ACK that closes the server', () => {
    expect(close.map((s) => arrow(s).trim().replace(/─+/g, '─'))).toEqual([
      '─ A seq=7 ack=7 len=0 ─✕ dropped last-ack',
      '◀─ FA seq=6 ack=7 len=0 RETRANSMISSION #1 ─',
      '─ A seq=7 ack=7 len=0 ─✕ dropped last-ack',
      '◀─ FA seq=6 ack=7 len=0 RETRANSMISSION #2 ─',
      '─ A seq=7 ack=7 len=0 last-ack ─▶',
    ]);
    expect(close[4]!.endsWith('│ CLOSED')).toBe(true);
    // Where they fit, the words stay whole.
    expect(lines(lastAckDropped, 160).filter((s) => s.includes('✕ dropped last-ack from client '))).toHaveLength(2);
    // The server is LAST-ACK until then: no CLOSED on any earlier line.
    expect(close.slice(0, 4).some((s) => s.includes('CLOSED'))).toBe(false);
  });
});

describe('a mark\'s words where they do not fit', () => {
  it('lose "from client", then "delayed segments", before being cut', () => {
    expect(markWords('dropped last-ack from client', 'client', 40)).toBe('dropped last-ack from client');
    expect(markWords('dropped last-ack from client', 'client', 20)).toBe('dropped last-ack');
    expect(markWords('dropped last-ack from client', 'server', 20)).toBe('dropped last-ack from client');
    expect(markWords('queued behind 3 delayed segments', 'server', 20)).toBe('queued behind 3');
    expect(markWords('queued behind 1 delayed segment', 'server', 40)).toBe('queued behind 1 delayed segment');
  });
});

describe('ladder of a coalesced (three-way) close', () => {
  const l = lines(coalescedClose, 80);
  it('absorbs the server ACK at tcpmitm with ⊕ and skips FIN-WAIT-2', () => {
    const i = l.findIndex((s) => s.includes('⊕'));
    expect(i).toBeGreaterThan(0);
    expect(l[i]).toContain('A seq=6 ack=7 len=0');
    expect(l[i]).toContain('⊕');
    expect(l[i]).toContain('ACK merged into the FIN');
    expect(arrow(l[i]!).startsWith(' ')).toBe(true); // never reaches the client
    expect(l[i - 1]!.startsWith('FIN-WAIT-1 │─ FA seq=6 ack=6')).toBe(true);
    expect(l[i + 1]).toBe(' TIME-WAIT │◀──────────────────────────────── FA seq=6 ack=7 len=0 ─│ LAST-ACK');
    expect(l.some((s) => s.includes('FIN-WAIT-2'))).toBe(false);
  });
});

describe('marks for what tcpmitm did', () => {
  const g = ladderGeometry(80);
  const base: SegmentEntry = {
    kind: 'seg', t: 0, dir: 'c2s', from: 'client', flags: 'FA', seq: 6, ack: 6, len: 0, role: 'fin',
    verdict: 'pass', detail: undefined, held: undefined, outcome: undefined, clientState: undefined, serverState: undefined,
  };
  const one = (e: Partial<SegmentEntry>): string => ladderLines([{ ...base, ...e }], g)[0]!.text;

  it('delay: the arrow goes through with ⏱ and the time', () => {
    const s = one({ verdict: 'delay', detail: '200 ms' });
    expect(s).toContain('⏱ 200 ms');
    expect(s).toContain('▶│');
  });
  it('forged RST to the server starts at tcpmitm, not at the client', () => {
    const s = one({ verdict: 'forged', flags: 'R', seq: 7, detail: 'to server' });
    const a = arrow(s);
    expect(a.indexOf('⚡')).toBe(g.mid);
    expect(a.slice(0, g.mid)).not.toContain('─');
    expect(s).toContain('to server');
    expect(s).toContain('R seq=7 len=0');
    expect(cells(s)).toBeLessThanOrEqual(80);
    expect(s.endsWith('▶│')).toBe(true);
  });
  it('forged RST to the client points left from tcpmitm', () => {
    const s = one({ verdict: 'forged', dir: 's2c', from: 'server', flags: 'R', seq: 6, detail: 'to client' });
    const a = arrow(s);
    expect(a.startsWith('◀')).toBe(true);
    expect([...a].slice(g.mid + 2).join('')).not.toContain('─');
  });
  it('held: waits at tcpmitm, then shows how it left', () => {
    expect(one({ verdict: 'hold', held: 'waiting' })).toContain('⏸ held, waiting');
    expect(one({ verdict: 'hold', held: 'waiting' })).not.toContain('▶');
    expect(one({ verdict: 'hold', held: 'released' })).toContain('▶│');
    expect(one({ verdict: 'hold', held: 'dropped' })).toContain('✕ dropped while held');
    expect(one({ verdict: 'hold', held: 'dropped', outcome: 'coalesce' })).toContain('⊕ coalesced');
  });
  it('duplicate: ⧉ on a full arrow', () => {
    expect(one({ verdict: 'duplicate' })).toMatch(/⧉ duplicated.*▶│$/);
  });
  it('replay: ↻ on a full arrow, with where the copy came from', () => {
    expect(one({ verdict: 'replay', detail: 'of #1, captured 598 ms ago, original seq=1988588025' })).toMatch(/↻ of #1, captured.*▶│$/);
  });
  it('labels omit ack without the ACK flag', () => {
    expect(segmentLabel({ flags: 'S', seq: 0, ack: 0, len: 0 })).toBe('S seq=0 len=0');
    expect(segmentLabel({ flags: 'PA', seq: 1, ack: 1, len: 1448 })).toBe('PA seq=1 ack=1 len=1448');
  });
  it('long absolute numbers push the mark right but stay within the width', () => {
    const s = one({ verdict: 'drop', flags: 'PA', seq: 3735928559, ack: 1234567890, len: 1448 });
    expect(s).toContain('PA seq=3735928559 ack=1234567890 len=1448');
    expect(s).toContain('✕');
    expect(cells(s)).toBeLessThanOrEqual(80);
  });
});

describe('ladderWindow', () => {
  it('follows the newest lines', () => {
    expect(ladderWindow(0, 50, 10, undefined)).toEqual({ start: 40, end: 50, following: true });
    expect(ladderWindow(0, 5, 10, undefined)).toEqual({ start: 0, end: 5, following: true });
  });
  it('stays where the user scrolled while lines arrive', () => {
    expect(ladderWindow(0, 50, 10, 20)).toEqual({ start: 20, end: 30, following: false });
    expect(ladderWindow(0, 80, 10, 20)).toEqual({ start: 20, end: 30, following: false });
  });
  it('clamps to entries still kept after trimming', () => {
    expect(ladderWindow(100, 50, 10, 20)).toEqual({ start: 100, end: 110, following: false });
  });
});

describe('segments that waited at tcpmitm without a rule of their own', () => {
  it('one queued behind a delayed segment is marked as waiting, with the words the engine gave it', () => {
    const evs: TcpmitmEvent[] = [
      { type: 'connection', t: 0, conn: 1, client: '198.18.0.1:43210', server: '198.18.0.2:8080', pickedUp: false },
      { type: 'segment', t: 10, conn: 1, dir: 's2c', from: 'server', flags: 'FA', seq: 1, ack: 6, len: 0, win: 500, role: 'fin-ack', verdict: 'delay', rule: 1, detail: '1500 ms' },
      { type: 'segment', t: 20, conn: 1, dir: 's2c', from: 'server', flags: 'R', seq: 2, ack: 0, len: 0, win: 0, role: 'rst', verdict: 'pass', detail: 'queued behind 1 delayed segment(s)' },
    ];
    const [delayed, queued] = lines(evs, 100);
    // Right to left (server → client), the note before the mark as for any delay.
    expect(delayed).toContain('1500 ms ⏱');
    expect(queued).toContain('⏱');
    expect(queued).toContain('queued behind');
  });
});
