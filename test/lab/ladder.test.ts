// `tcpmitm ladder` on a real run: drop-last-ack recorded with --json, drawn to
// SVG and HTML, and checked in a real browser (headless Chromium): the PNG
// has the picture's size and is not blank (the drop's red is there), every
// text's rendered box lies inside the viewBox, and the states, flags and the
// drop mark are present as text.

import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot, uniqueLabId } from '../helpers/lab.js';
import { labDown, runCli } from '../helpers/run-lab.js';
import { runProfile } from '../helpers/profile-lab.js';
import { dumpDom, screenshot } from '../helpers/chromium.js';
import { countPixels, decodePng } from '../helpers/png.js';
import { tempDir } from '../helpers/temp.js';

const root = requireRoot();
const dir = tempDir('tcpmitm-ladder-');
const ids = new Set<string>();

/** Runs in the page after the picture: each <text>'s box as the browser laid it out, and the viewBox. */
const MEASURE = `<script>
(() => {
  const svg = document.querySelector('svg');
  const vb = svg.viewBox.baseVal;
  const texts = [...svg.querySelectorAll('text')].map((t) => {
    const b = t.getBBox();
    return { text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height };
  });
  const pre = document.createElement('pre');
  pre.id = 'ladder-check';
  pre.textContent = JSON.stringify({ vb: { x: vb.x, y: vb.y, w: vb.width, h: vb.height }, texts });
  document.body.appendChild(pre);
})();
</script>`;

interface Measured {
  readonly vb: { x: number; y: number; w: number; h: number };
  readonly texts: { text: string; x: number; y: number; w: number; h: number }[];
}

function unescapeHtml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

describe.skipIf(root.skip)('tcpmitm ladder in a browser', () => {
  afterAll(() => {
    for (const v of ids) labDown(v);
    rmSync(dir, { recursive: true, force: true });
  });

  it('draws drop-last-ack as an SVG and an HTML page that Chromium renders whole', async () => {
    const id = uniqueLabId('ld');
    ids.add(id);
    const run = await runProfile(id, 'drop-last-ack');
    expect(run.code, run.stderr).toBe(0);
    const svgPath = join(dir, 'close.svg');
    const htmlPath = join(dir, 'close.html');
    for (const out of [svgPath, htmlPath]) {
      const drawn = await runCli(['ladder', run.json, '-o', out], 60_000);
      expect(drawn.code, drawn.stderr).toBe(0);
    }
    const svg = readFileSync(svgPath, 'utf8');
    const m = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
    expect(m).not.toBeNull();
    const [w, h] = [Number(m![1]), Number(m![2])];
    console.log(`ladder: close.svg ${statSync(svgPath).size} bytes, viewBox 0 0 ${w} ${h}`);

    // One arrow group per segment the run recorded on connection 1 (drop-last-ack holds nothing, so none fold).
    const segs = run.events.filter((e) => e.type === 'segment' && e.conn === 1);
    expect((svg.match(/<g class="segment /g) ?? []).length).toBe(segs.length);
    expect((svg.match(/<g class="segment drop"/g) ?? []).length).toBe(segs.filter((e) => e.verdict === 'drop').length);

    // The PNG: the picture's size, and not blank.
    const pngPath = join(dir, 'close.png');
    screenshot(svgPath, pngPath, w, h);
    expect(existsSync(pngPath)).toBe(true);
    const png = decodePng(readFileSync(pngPath));
    expect([png.width, png.height]).toEqual([w, h]);
    const inked = countPixels(png, (r, g, b) => r < 200 || g < 200 || b < 200);
    const red = countPixels(png, (r, g, b) => r > 170 && g < 90 && b < 90);
    console.log(`ladder: close.png ${png.width}×${png.height}, ${inked} inked pixels (${((100 * inked) / (w * h)).toFixed(1)}%), ${red} drop-red`);
    expect(inked / (w * h)).toBeGreaterThan(0.01);
    expect(red).toBeGreaterThan(50);

    // The HTML page, with a script that reports each text's rendered box.
    const checkPath = join(dir, 'check.html');
    writeFileSync(checkPath, readFileSync(htmlPath, 'utf8').replace('</body>', `${MEASURE}\n</body>`));
    const dom = dumpDom(checkPath);
    const pre = /<pre id="ladder-check">([^<]*)<\/pre>/.exec(dom);
    expect(pre, 'the measuring script ran').not.toBeNull();
    const measured = JSON.parse(unescapeHtml(pre![1]!)) as Measured;
    expect(measured.vb).toEqual({ x: 0, y: 0, w, h });
    expect(measured.texts.length).toBeGreaterThan(segs.length);
    const outside = measured.texts.filter((t) => t.w > 0 && (t.x < 0 || t.y < 0 || t.x + t.w > w || t.y + t.h > h));
    expect(outside).toEqual([]);
    const all = measured.texts.map((t) => t.text);
    for (const want of ['LAST-ACK', 'TIME-WAIT', 'kernel: LAST-ACK', 'kernel: TIME-WAIT', '✕', 'Legend']) expect(all).toContain(want);
    for (const flags of ['[S]', '[S.]', '[F.]', '[.]']) expect(all.some((s) => s.startsWith(`${flags} seq=`)), flags).toBe(true);
    expect(all.some((s) => /^dropped last-ack from client \(rule 1\)$/.test(s))).toBe(true);
    expect(all.some((s) => s.startsWith('[F.] ') && s.endsWith(' retransmission'))).toBe(true);
  }, 240_000);
});
