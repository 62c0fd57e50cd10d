import { describe, expect, it } from 'vitest';
import { parseRunJsonl } from '../../../src/ladder/run-events.js';

const START = '{"type":"start","t":0.2,"mode":"lab","wall":"2026-12-03T10:00:00.000Z"}';
const SEG = '{"type":"segment","t":0.5,"conn":1,"dir":"c2s","from":"client","flags":"S","seq":0,"ack":0,"len":0,"win":1,"role":"syn","verdict":"pass"}';

describe('parseRunJsonl', () => {
  it('reads a run, keeping event types it does not draw', () => {
    const r = parseRunJsonl(`${START}\n${SEG}\n{"type":"timer","t":1}\n`);
    expect(r.ok && r.events.map((e) => e.type)).toEqual(['start', 'segment', 'timer']);
  });

  it('names the line that is not JSON, or not a tcpmitm event', () => {
    expect(parseRunJsonl(`${START}\nnot json\n${SEG}\n`)).toMatchObject({ ok: false, line: 2, message: expect.stringMatching(/^not JSON/) });
    expect(parseRunJsonl(`${START}\n[1,2]\n`)).toMatchObject({ ok: false, line: 2, message: 'not a JSON object' });
    expect(parseRunJsonl(`${START}\n{"type":"segment"}\n`)).toMatchObject({ ok: false, line: 2, message: expect.stringContaining('"t"') });
    expect(parseRunJsonl(`${START}\n${SEG.replace('"c2s"', '"up"')}\n`)).toMatchObject({ ok: false, line: 2, message: expect.stringMatching(/segment event: "dir"/) });
    expect(parseRunJsonl(`\n\n${START.replace('"mode":"lab"', '"mode":3')}\n`)).toMatchObject({ ok: false, line: 3 });
  });

  it('refuses an empty file and one without a start event', () => {
    expect(parseRunJsonl('')).toMatchObject({ ok: false, line: undefined, message: expect.stringContaining('empty') });
    expect(parseRunJsonl(`${SEG}\n`)).toMatchObject({ ok: false, message: expect.stringContaining('no "start" event') });
  });

  it('skips a last line cut short (the log ended mid-line) and says which', () => {
    const r = parseRunJsonl(`${START}\n${SEG}\n{"type":"seg`);
    expect(r).toMatchObject({ ok: true, cutShort: 3 });
  });
});
