// TCP options spelled as tcpdump prints them inside `options [...]`
// (print-tcp.c): "mss 1460,sackOK,TS val 3902 ecr 0,nop,wscale 7",
// "nop,nop,sack 1 {1449:2897}". SACK edges are relative to `sackBase` (the ISN
// of the data they acknowledge), as the segment's own ack is; tcpdump does the
// same unless -S.

import type { TcpOption } from '../packet/tcp.js';

function hex(data: Uint8Array): string {
  let s = '';
  for (const b of data) s += b.toString(16).padStart(2, '0');
  return s;
}

/** The options of one segment as tcpdump lists them; '' when there are none. */
export function tcpdumpOptions(options: readonly TcpOption[], sackBase?: number): string {
  const rel = (v: number): number => (sackBase === undefined ? v : (v - sackBase) >>> 0);
  const out: string[] = [];
  for (const o of options) {
    switch (o.kind) {
      case 'eol':
        out.push('eol');
        break;
      case 'nop':
        out.push('nop');
        break;
      case 'mss':
        out.push(`mss ${o.value}`);
        break;
      case 'window-scale':
        out.push(`wscale ${o.shift}`);
        break;
      case 'sack-permitted':
        out.push('sackOK');
        break;
      case 'sack':
        out.push(`sack ${o.blocks.length} ${o.blocks.map(([l, r]) => `{${rel(l)}:${rel(r)}}`).join('')}`);
        break;
      case 'timestamps':
        out.push(`TS val ${o.tsval} ecr ${o.tsecr}`);
        break;
      case 'unknown':
        out.push(`unknown-${o.type} 0x${hex(o.data)}`);
        break;
      case 'padding':
        // Bytes after an EOL: not options (tcpdump stops at the EOL too).
        break;
      case 'malformed':
        out.push('bad opt');
        break;
    }
  }
  return out.join(',');
}
