import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TcpmitmEvent } from '../../../src/engine/events.js';
import { ladderPicture } from '../../../src/ladder/picture.js';
import { layoutRun } from '../../../src/ladder/layout.js';
import { runRows } from '../../../src/ladder/rows.js';
import { boundsOf, type Shape } from '../../../src/ladder/shapes.js';
import { escapeXml } from '../../../src/ladder/xml.js';
import { tcpdumpFlags } from '../../../src/tcp/tcpdump-flags.js';
import { xmlProblems } from './xml-check.js';

const start: TcpmitmEvent = { type: 'start', t: 0.2, mode: 'lab', lab: 'x1', profile: 'drop-last-ack', wall: '2026-12-03T10:00:00.000Z' };
const conn = (n: number, client = '198.18.0.1:40000'): TcpmitmEvent => ({ type: 'connection', t: 0.5, conn: n, client, server: '198.18.0.2:8080', pickedUp: false });

function seg(t: number, dir: 'c2s' | 's2c', flags: string, seq: number, ack: number, more: Partial<Extract<TcpmitmEvent, { type: 'segment' }>> = {}): TcpmitmEvent {
  return { type: 'segment', t, conn: 1, dir, from: dir === 'c2s' ? 'client' : 'server', flags, seq, ack, len: 0, win: 500, role: 'ack', verdict: 'pass', ...more };
}
function state(t: number, endpoint: 'client' | 'server', from: string, to: string, source: 'inferred' | 'kernel', cause?: string): TcpmitmEvent {
  return { type: 'state', t, conn: 1, endpoint, from, to, source, ...(cause ? { cause } : {}) } as TcpmitmEvent;
}

/** The textbook close with the last ACK dropped once, the kernel's views beside it. */
const CLOSE: TcpmitmEvent[] = [
  start,
  conn(1),
  seg(0.5, 'c2s', 'S', 0, 0, { role: 'syn' }),
  state(0.5, 'client', 'CLOSED', 'SYN-SENT', 'inferred', 'sent SYN seq=0'),
  state(0.4995, 'client', 'CLOSED', 'SYN-SENT', 'kernel'),
  seg(0.51, 's2c', 'SA', 0, 1, { role: 'syn-ack' }),
  state(0.51, 'server', 'LISTEN', 'SYN-RECV', 'inferred'),
  state(0.51, 'client', 'SYN-SENT', 'ESTAB', 'inferred'),
  seg(0.52, 'c2s', 'FA', 1, 1, { role: 'fin' }),
  state(0.52, 'client', 'ESTAB', 'FIN-WAIT-1', 'inferred'),
  seg(0.53, 's2c', 'FA', 1, 2, { role: 'fin-ack' }),
  state(0.53, 'server', 'CLOSE-WAIT', 'LAST-ACK', 'inferred'),
  state(0.53, 'client', 'FIN-WAIT-1', 'TIME-WAIT', 'inferred'),
  state(0.531, 'server', 'CLOSE-WAIT', 'LAST-ACK', 'kernel'),
  seg(0.54, 'c2s', 'A', 2, 2, { role: 'last-ack', verdict: 'drop', rule: 1 }),
  { type: 'action', t: 0.54, conn: 1, action: 'drop', detail: 'dropped last-ack from client', rule: 1 },
  seg(0.75, 's2c', 'FA', 1, 2, { role: 'retransmission', verdict: 'delay', rule: 2, detail: '200 ms' }),
  seg(1.9, 's2c', 'R', 2, 0, { role: 'rst', verdict: 'forged', rule: 3, detail: 'forged RST to client' }),
  { type: 'end', t: 2, reason: 'done', exitCode: 0 },
];

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

describe('tcpdumpFlags', () => {
  it.each([
    ['S', '[S]'],
    ['SA', '[S.]'],
    ['FA', '[F.]'],
    ['R', '[R]'],
    ['RA', '[R.]'],
    ['PA', '[P.]'],
    ['A', '[.]'],
    ['FPA', '[FP.]'],
    ['SAEC', '[S.EW]'],
    ['', '[none]'],
  ])('%s → %s', (letters, shown) => expect(tcpdumpFlags(letters)).toBe(shown));
});

describe('escapeXml', () => {
  it('escapes markup and drops characters XML cannot carry', () => {
    expect(escapeXml(`<a href="x">&'\u0001\uFFFE`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
    expect(escapeXml('\uD800x')).toBe('x');
    expect(escapeXml('😀 ok')).toBe('😀 ok');
  });
});

describe('ladderPicture', () => {
  const svg = ladderPicture(CLOSE);

  it('is well-formed, self-contained XML with a title, a desc and a legend', () => {
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).toMatch(/<title id="ladder-title">tcpmitm ladder: drop-last-ack \(lab x1\)<\/title>/);
    expect(svg).toContain('<desc id="ladder-desc">');
    expect(svg).toContain('<g class="legend">');
    // Nothing fetched from elsewhere: no links, images, scripts or web fonts.
    expect(svg).not.toMatch(/<script|<image|href=|@import|url\(/);
  });

  it('draws one group per segment, each with its line, arrowhead (unless it stops) and label', () => {
    const groups = [...svg.matchAll(/<g class="segment ([a-z]+)"[^>]*>([\s\S]*?)<\/g>/g)];
    expect(groups.map((g) => g[1])).toEqual(['pass', 'pass', 'pass', 'pass', 'drop', 'delay', 'forged']);
    for (const [, tone, body] of groups) {
      expect(count(body!, /<line /g)).toBe(2); // the tick on the time axis and the arrow
      expect(count(body!, /<polygon /g)).toBe(tone === 'drop' ? 0 : 1);
      expect(count(body!, /\[[^\]]+\] seq=/g)).toBe(1);
    }
    expect(svg).toContain('>[S] seq=0 len=0<');
    expect(svg).toContain('>[S.] seq=0 ack=1 len=0<');
    expect(svg).toContain('>[.] seq=2 ack=2 len=0 last-ack<');
    expect(svg).toContain('>[F.] seq=1 ack=2 len=0 retransmission<');
    expect(svg).toContain('>dropped last-ack from client (rule 1)<');
    expect(svg).toContain('>delayed 200 ms (rule 2)<');
    expect(svg).toContain('>forged RST to client (rule 3)<');
    expect(svg).toContain('>✕<');
  });

  it("marks the kernel's state changes as the kernel's, apart from the inferred ones", () => {
    expect(count(svg, /<g class="state kernel"/g)).toBe(2);
    expect(svg).toContain('>kernel: SYN-SENT<');
    expect(svg).toContain('>kernel: LAST-ACK<');
    // Inferred states written beside the arrows, bold.
    for (const s of ['SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'LAST-ACK', 'TIME-WAIT']) expect(svg).toMatch(new RegExp(`font-weight="bold"[^>]*>${s}<`));
  });

  it('labels every row with seconds since the run start, the JSONL time (the UI model counts ms inside)', () => {
    const segTimes = [...svg.matchAll(/<g class="segment [a-z]+" data-t="([\d.]+)"/g)].map((m) => m[1]);
    expect(segTimes).toEqual(['0.500', '0.510', '0.520', '0.530', '0.540', '0.750', '1.900']);
    for (const t of segTimes) expect(svg).toContain(`>${t}</text>`);
    // The kernel row keeps the kernel's own (finer) time, and sorts before the SYN it preceded.
    expect(svg.indexOf('data-t="0.499500"')).toBeLessThan(svg.indexOf('data-t="0.500"'));
    expect(svg).toContain('>… 1.150 s later …<');
  });

  it('escapes what comes from the run', () => {
    const evil = ladderPicture([start, conn(1, '<script>&"x'), seg(0.5, 'c2s', 'S', 0, 0, { detail: '</text><b>' })]);
    expect(xmlProblems(evil)).toEqual([]);
    expect(evil).toContain('&lt;script&gt;&amp;&quot;x');
    expect(evil).not.toContain('<script>');
  });

  it('draws only the connection asked for, and stacks all of them by default', () => {
    const two = [...CLOSE.slice(0, 3), conn(2), { ...(seg(0.6, 'c2s', 'S', 0, 0) as object), conn: 2 } as TcpmitmEvent];
    expect(count(ladderPicture(two), /<g class="connection"/g)).toBe(2);
    const only = ladderPicture(two, { conn: 2 });
    expect(count(only, /<g class="connection"/g)).toBe(1);
    expect(only).toContain('data-conn="2"');
  });

  it('wraps the same SVG in an HTML page', () => {
    const html = ladderPicture(CLOSE, { format: 'html' });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain(svg.replace(/^<\?xml[^>]*\?>\s*/, ''));
    expect(html).toContain('<title>tcpmitm ladder: drop-last-ack (lab x1)</title>');
  });
});

/** Every shape, groups flattened. */
function flat(shapes: readonly Shape[]): Shape[] {
  return shapes.flatMap((s) => (s.kind === 'group' ? flat(s.children) : [s]));
}

describe('any run', () => {
  const states = ['CLOSED', 'SYN-SENT', 'ESTAB', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'CLOSE-WAIT', 'LAST-ACK', 'CLOSING'];
  const verdicts = ['pass', 'drop', 'delay', 'hold', 'coalesce', 'duplicate', 'forged', 'replay'] as const;
  const text = fc.string({ unit: 'binary', maxLength: 80 });
  const event = fc.oneof(
    fc.record({
      dir: fc.constantFrom('c2s' as const, 's2c' as const),
      flags: fc.constantFrom('S', 'SA', 'A', 'PA', 'FA', 'R', 'RA', 'FPA'),
      seq: fc.nat(),
      ack: fc.nat(),
      len: fc.nat({ max: 65535 }),
      verdict: fc.constantFrom(...verdicts),
      rule: fc.option(fc.integer({ min: 1, max: 99 }), { nil: undefined }),
      detail: fc.option(text, { nil: undefined }),
    }).map((s) => (t: number, c: number): TcpmitmEvent => ({ ...(seg(t, s.dir, s.flags, s.seq, s.ack, { len: s.len, verdict: s.verdict, ...(s.rule ? { rule: s.rule } : {}), ...(s.detail !== undefined ? { detail: s.detail } : {}) }) as object), conn: c } as TcpmitmEvent)),
    fc.record({ ep: fc.constantFrom('client' as const, 'server' as const), to: fc.constantFrom(...states), source: fc.constantFrom('inferred' as const, 'kernel' as const), cause: fc.option(text, { nil: undefined }) })
      .map((s) => (t: number, c: number): TcpmitmEvent => ({ ...(state(t, s.ep, 'ESTAB', s.to, s.source, s.cause) as object), conn: c } as TcpmitmEvent)),
    fc.record({ action: fc.constantFrom('drop' as const, 'release' as const, 'rst' as const), detail: text })
      .map((a) => (t: number, c: number): TcpmitmEvent => ({ type: 'action', t, conn: c, action: a.action, detail: a.detail })),
  );
  const run = fc.record({
    client: text,
    profile: text,
    steps: fc.array(fc.tuple(fc.double({ min: 0, max: 3, noNaN: true }), fc.integer({ min: 1, max: 3 }), event), { maxLength: 40 }),
  });

  it('yields well-formed XML whose shapes all lie inside the viewBox', () => {
    fc.assert(
      fc.property(run, (r) => {
        let t = 0;
        const evs: TcpmitmEvent[] = [{ ...start, profile: r.profile } as TcpmitmEvent, conn(1, r.client), conn(2), conn(3)];
        for (const [dt, c, make] of r.steps) {
          t += dt;
          evs.push(make(Math.round(t * 1e6) / 1e6, c));
        }
        const rows = runRows(evs);
        const pic = layoutRun(rows);
        for (const s of flat(pic.shapes)) {
          const b = boundsOf(s);
          if (b === undefined) continue;
          expect(b.x0).toBeGreaterThanOrEqual(0);
          expect(b.y0).toBeGreaterThanOrEqual(0);
          expect(b.x1).toBeLessThanOrEqual(pic.width);
          expect(b.y1).toBeLessThanOrEqual(pic.height);
        }
        const svg = ladderPicture(evs);
        expect(xmlProblems(svg)).toEqual([]);
        expect(svg).toContain(`viewBox="0 0 ${pic.width} ${pic.height}"`);
      }),
      { numRuns: 150 },
    );
  });
});
