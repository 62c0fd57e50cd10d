// Serialises a laid-out picture as one self-contained SVG document: no
// external fonts, images or scripts, every text escaped, a <title> and <desc>
// for screen readers, and a viewBox that contains every shape. Pure.

import type { Picture } from './layout.js';
import { FONT_FAMILY } from './layout.js';
import type { Shape } from './shapes.js';
import { escapeXml } from './xml.js';

/** Coordinates to 0.1 px: enough for a picture, and stable text for tests and diffs. */
function n(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function attr(name: string, value: string): string {
  return ` ${name}="${escapeXml(value)}"`;
}

export function svgOf(p: Picture): string {
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>\n');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${p.width}" height="${p.height}" viewBox="0 0 ${p.width} ${p.height}"` +
      `${attr('font-family', FONT_FAMILY)} role="img" aria-labelledby="ladder-title ladder-desc">\n`,
  );
  out.push(`<title id="ladder-title">${escapeXml(p.title)}</title>\n`);
  out.push(`<desc id="ladder-desc">${escapeXml(p.subtitle)}</desc>\n`);
  out.push(`<rect x="0" y="0" width="${p.width}" height="${p.height}" fill="#ffffff"/>\n`);
  for (const s of p.shapes) shape(s, out, '');
  out.push('</svg>\n');
  return out.join('');
}

function shape(s: Shape, out: string[], indent: string): void {
  switch (s.kind) {
    case 'text':
      out.push(
        `${indent}<text x="${n(s.x)}" y="${n(s.y)}" font-size="${s.size}"` +
          `${s.anchor === 'start' ? '' : ` text-anchor="${s.anchor}"`}${s.bold ? ' font-weight="bold"' : ''}${s.italic ? ' font-style="italic"' : ''}` +
          `${attr('fill', s.fill)} xml:space="preserve">${escapeXml(s.text)}</text>\n`,
      );
      return;
    case 'line':
      out.push(
        `${indent}<line x1="${n(s.x1)}" y1="${n(s.y1)}" x2="${n(s.x2)}" y2="${n(s.y2)}"${attr('stroke', s.stroke)} stroke-width="${s.width}"` +
          `${s.dash ? attr('stroke-dasharray', s.dash) : ''}/>\n`,
      );
      return;
    case 'polygon':
      out.push(`${indent}<polygon points="${s.points.map(([x, y]) => `${n(x)},${n(y)}`).join(' ')}"${attr('fill', s.fill)}${s.stroke ? attr('stroke', s.stroke) : ''}/>\n`);
      return;
    case 'rect':
      out.push(`${indent}<rect x="${n(s.x)}" y="${n(s.y)}" width="${n(s.w)}" height="${n(s.h)}"${attr('fill', s.fill)}${s.stroke ? attr('stroke', s.stroke) : ''}/>\n`);
      return;
    case 'group': {
      const data = Object.entries(s.data ?? {}).map(([k, v]) => attr(`data-${k}`, v)).join('');
      out.push(`${indent}<g${attr('class', s.cls)}${data}>\n`);
      for (const c of s.children) shape(c, out, indent + '  ');
      out.push(`${indent}</g>\n`);
      return;
    }
  }
}
