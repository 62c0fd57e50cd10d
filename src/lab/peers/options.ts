// Parsing and validation of the built-in peers' options (pure): the close
// actions, keepalive triples and HOST:PORT. Shared by `tcpmitm peer …` and the
// standalone entry, so both accept exactly the same words.

import { UsageError } from '../../cli/errors.js';
import { formatEndpoint } from '../../packet/addr.js';

/** What the server does once it has read the client's FIN. */
export type OnEof =
  | { readonly kind: 'close' }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'linger0' }
  | { readonly kind: 'never' };

/** What the client does once it has sent (and received --recv bytes). */
export type Then =
  | { readonly kind: 'close' }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'linger0' }
  | { readonly kind: 'kill' }
  | { readonly kind: 'wait'; readonly ms: number };

/** Keepalive in the kernel's units: seconds, seconds, probe count. */
export interface Keepalive {
  readonly idleS: number;
  readonly intvlS: number;
  readonly probes: number;
}

function ms(word: string, v: string, flag: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 3_600_000) {
    throw new UsageError(`${flag} '${word}': '${v}' is not a whole number of milliseconds (0–3600000)`);
  }
  return Number(v);
}

export function parseOnEof(v: string): OnEof {
  if (v === 'close' || v === 'shutdown' || v === 'linger0' || v === 'never') return { kind: v };
  if (v.startsWith('delay:')) return { kind: 'delay', ms: ms(v, v.slice(6), '--on-eof') };
  throw new UsageError(`--on-eof '${v}' is not one of close, shutdown, delay:MS, linger0, never`);
}

export function parseThen(v: string): Then {
  if (v === 'close' || v === 'shutdown' || v === 'linger0' || v === 'kill') return { kind: v };
  if (v.startsWith('wait:')) return { kind: 'wait', ms: ms(v, v.slice(5), '--then') };
  throw new UsageError(`--then '${v}' is not one of close, shutdown, linger0, kill, wait:MS`);
}

/** "IDLE,INTVL,CNT" in seconds, seconds, count (the kernel's minimum is 1 for each). */
export function parseKeepalive(v: string): Keepalive {
  const parts = v.split(',');
  if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 32767)) {
    throw new UsageError(`--keepalive '${v}' is not IDLE,INTVL,CNT (seconds, seconds, probes; each 1–32767), e.g. 2,1,3`);
  }
  const [idleS, intvlS, probes] = parts.map(Number) as [number, number, number];
  return { idleS, intvlS, probes };
}

/** "198.18.0.2:8080" or "[2001:2::2]:8080". */
export function parseHostPort(v: string): { host: string; port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(v) ?? /^([^:\[\]]+):(\d+)$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`--connect '${v}' is not HOST:PORT`, 'e.g. 198.18.0.2:8080 or [2001:2::2]:8080');
  }
  return { host: m[1]!, port };
}

export function parseCount(v: string, flag: string, min = 0, max = 1 << 30): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`${flag} '${v}' is not a whole number from ${min} to ${max}`);
  }
  return Number(v);
}

/** Node's address strings → the forms tcpmitm prints ("198.18.0.1:40000", "[2001:2::1]:40000"). */
export function formatSockAddr(address: string | undefined, port: number | undefined): string {
  if (address === undefined || port === undefined) return '?';
  // A dual-stack listener reports IPv4 peers as v4-mapped IPv6.
  const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return formatEndpoint(a, port);
}
