// Text forms of link and network addresses: MACs, IPv4 dotted quads and IPv6
// in the RFC 5952 canonical form (the form `ss` and `ip` print), both ways.
// Formatting reads bytes in place; parsing is for builders and throws
// RangeError on a malformed literal (a programming error, not wire input).

/** A MAC address as "aa:bb:cc:dd:ee:ff" or its 6 bytes. */
export type MacLike = string | Uint8Array;
/** An IP address as text ("198.18.0.1", "2001:2::1") or its 4 or 16 bytes. */
export type IpLike = string | Uint8Array;

const HEX = '0123456789abcdef';

export function formatMac(buf: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = buf[off + i]!;
    s += (i ? ':' : '') + HEX[b >> 4] + HEX[b & 15];
  }
  return s;
}

export function macBytes(mac: MacLike): Uint8Array {
  if (typeof mac !== 'string') {
    if (mac.length !== 6) throw new RangeError(`MAC address must be 6 bytes, got ${mac.length}`);
    return mac;
  }
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new RangeError(`invalid MAC address "${mac}": expected six hex bytes like 02:00:00:00:00:01`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function formatIpv4(buf: Uint8Array, off = 0): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** RFC 5952: lowercase, no leading zeros, the longest run (>= 2) of zero groups as "::". */
export function formatIpv6(buf: Uint8Array, off = 0): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (buf[off + 2 * i]! << 8) | buf[off + 2 * i + 1]!;
  // IPv4-mapped addresses print with a dotted quad, as the kernel does.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(buf, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

export function parseIpv4Text(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

export function parseIpv6Text(text: string): Uint8Array | undefined {
  let s = text;
  const out = new Uint8Array(16);
  // A trailing dotted quad fills the last 32 bits.
  let tail: Uint8Array | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    tail = parseIpv4Text(s.slice(lastColon + 1));
    if (!tail) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const split = (h: string) => (h === '' ? [] : h.split(':'));
  const head = split(halves[0]!);
  const rest = halves.length === 2 ? split(halves[1]!) : [];
  const groups = halves.length === 2 ? head.length + rest.length : head.length;
  if (halves.length === 2 ? groups > 7 : groups !== 8) return undefined;
  const all = [...head, ...new Array<string>(8 - groups).fill('0'), ...rest];
  for (let i = 0; i < 8; i++) {
    const p = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
    const v = parseInt(p, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** Bytes of an IP address given as text or bytes; 4 bytes for IPv4, 16 for IPv6. */
export function ipBytes(ip: IpLike): Uint8Array {
  if (typeof ip !== 'string') {
    if (ip.length !== 4 && ip.length !== 16) throw new RangeError(`IP address must be 4 or 16 bytes, got ${ip.length}`);
    return ip;
  }
  const bytes = ip.includes(':') ? parseIpv6Text(ip) : parseIpv4Text(ip);
  if (!bytes) throw new RangeError(`invalid IP address "${ip}": expected e.g. 198.18.0.1 or 2001:2::1`);
  return bytes;
}

/** "198.18.0.1:40000", or "[2001:2::1]:40000" for IPv6: how tcpmitm prints one end of a connection. */
export function formatEndpoint(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}
