// The same SVG in a minimal HTML page (for a browser, or to paste into a web
// page or notes): the picture inline, its title as the page's. Pure.

import { escapeXml } from './xml.js';

export function htmlOf(svg: string, title: string): string {
  // The XML declaration belongs to a standalone SVG file, not inside HTML.
  const inline = svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<title>${escapeXml(title)}</title>\n` +
    '<style>body{margin:16px;background:#fff} svg{max-width:100%;height:auto}</style>\n' +
    '</head>\n<body>\n' +
    inline +
    '</body>\n</html>\n'
  );
}
