// Pure parser of the kernel's socket tables /proc/net/tcp and /proc/net/tcp6:
// turns each row into a 4-tuple with its state spelled as `ss` prints it.
// No I/O here; the kernel probe reads the files and hands the text in.

import { formatIpv4, formatIpv6 } from '../packet/addr.js';
import type { TcpState } from '../tcp/state.js';

/**
 * The kernel's state codes (include/net/tcp_states.h) as `ss` prints them.
 * TCP_CLOSE (07) is reported as CLOSED, the name the rest of tcpmitm uses.
 * TCP_NEW_SYN_RECV (0C) is a request mini-socket, listed by /proc/net/tcp as
 * SYN-RECV (it prints TCP_SYN_RECV for request sockets).
 */
const STATE_BY_CODE: Readonly<Record<number, TcpState>> = {
  0x01: 'ESTAB',
  0x02: 'SYN-SENT',
  0x03: 'SYN-RECV',
  0x04: 'FIN-WAIT-1',
  0x05: 'FIN-WAIT-2',
  0x06: 'TIME-WAIT',
  0x07: 'CLOSED',
  0x08: 'CLOSE-WAIT',
  0x09: 'LAST-ACK',
  0x0a: 'LISTEN',
  0x0b: 'CLOSING',
  0x0c: 'SYN-RECV',
};

export function stateOfCode(code: number): TcpState | undefined {
  return STATE_BY_CODE[code];
}

export interface ProcTcpRow {
  /** "198.18.0.1:40000" or "[2001:2::1]:40000"; IPv4-mapped IPv6 prints as IPv4. */
  readonly local: string;
  readonly remote: string;
  readonly state: TcpState;
  /** The socket's inode (0 for TIME-WAIT and request mini-sockets). */
  readonly inode: number;
}

/**
 * Decodes one address field "0100007F:0CEA" or the 32-hex-digit IPv6 form.
 * The kernel prints each 32-bit word of the address with %08X in *host* byte
 * order (net/ipv4/tcp_ipv4.c get_tcp4_sock), so on a little-endian machine
 * every 4-byte group is reversed; the port is printed as a plain number.
 */
export function parseProcAddress(field: string, littleEndian = true): string | undefined {
  const colon = field.indexOf(':');
  if (colon < 0) return undefined;
  const hex = field.slice(0, colon);
  const portHex = field.slice(colon + 1);
  if (!/^[0-9A-Fa-f]{4}$/.test(portHex)) return undefined;
  if (hex.length !== 8 && hex.length !== 32) return undefined;
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  const port = parseInt(portHex, 16);
  const bytes = new Uint8Array(hex.length / 2);
  for (let word = 0; word < bytes.length / 4; word++) {
    for (let i = 0; i < 4; i++) {
      const src = littleEndian ? 3 - i : i;
      bytes[word * 4 + i] = parseInt(hex.substr(word * 8 + src * 2, 2), 16);
    }
  }
  if (bytes.length === 4) return `${formatIpv4(bytes)}:${port}`;
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  // A v4-mapped socket carries IPv4 on the wire; name it as the IPv4 tuple so
  // it matches the connection tcpmitm sees in the frames.
  if (mapped) return `${formatIpv4(bytes, 12)}:${port}`;
  return `[${formatIpv6(bytes)}]:${port}`;
}

/** Parses one row; the header line and anything malformed yield undefined. */
export function parseProcTcpLine(line: string, littleEndian = true): ProcTcpRow | undefined {
  const f = line.trim().split(/\s+/);
  // sl local rem st tx:rx tr:when retrnsmt uid timeout inode …
  if (f.length < 10 || !/^\d+:$/.test(f[0]!)) return undefined;
  const local = parseProcAddress(f[1]!, littleEndian);
  const remote = parseProcAddress(f[2]!, littleEndian);
  if (!/^[0-9A-Fa-f]{2}$/.test(f[3]!)) return undefined;
  const state = stateOfCode(parseInt(f[3]!, 16));
  if (local === undefined || remote === undefined || state === undefined) return undefined;
  const inode = Number(f[9]);
  return { local, remote, state, inode: Number.isFinite(inode) ? inode : 0 };
}

/** Parses a whole /proc/net/tcp or tcp6 file. */
export function parseProcTcp(text: string, littleEndian = true): ProcTcpRow[] {
  const rows: ProcTcpRow[] = [];
  for (const line of text.split('\n')) {
    const row = parseProcTcpLine(line, littleEndian);
    if (row) rows.push(row);
  }
  return rows;
}
