// Keepalive for the built-in peers, and what the kernel will really do with it.
//
// Node 20 (libuv 1.46) can only pass the idle time: socket.setKeepAlive(true,
// ms) sets SO_KEEPALIVE and TCP_KEEPIDLE — and libuv then also sets
// TCP_KEEPINTVL = 1 s and TCP_KEEPCNT = 10 on the socket itself. Measured here
// (kernel 6.18, Node 20.20): with net.ipv4.tcp_keepalive_intvl=3 and
// tcp_keepalive_probes=2 in the namespace, a blackholed peer still drew probes
// 1 s apart and ETIMEDOUT after 10 of them. Per-socket values beat the sysctls,
// so for Node peers the namespace sysctls (a profile's lab.sysctls, `--sysctl`)
// change nothing; they do apply to programs that only set SO_KEEPALIVE.

import type { Socket } from 'node:net';
import type { Keepalive } from './options.js';

/** What libuv forces on every socket with keepalive on (uv__tcp_keepalive). */
export const NODE_KEEPALIVE_INTVL_S = 1;
export const NODE_KEEPALIVE_PROBES = 10;

export interface EffectiveKeepalive {
  readonly idle: number;
  readonly intvl: number;
  readonly probes: number;
}

/** Enables keepalive; returns the values in effect (which may differ from the request). */
export function applyKeepalive(sock: Socket, ka: Keepalive): EffectiveKeepalive {
  sock.setKeepAlive(true, ka.idleS * 1000);
  return { idle: ka.idleS, intvl: NODE_KEEPALIVE_INTVL_S, probes: NODE_KEEPALIVE_PROBES };
}

/** A one-line note when the request cannot be honoured, else undefined. */
export function keepaliveNote(ka: Keepalive): string | undefined {
  if (ka.intvlS === NODE_KEEPALIVE_INTVL_S && ka.probes === NODE_KEEPALIVE_PROBES) return undefined;
  return `keepalive interval ${ka.intvlS}s / ${ka.probes} probes requested, but Node's libuv fixes ${NODE_KEEPALIVE_INTVL_S}s / ${NODE_KEEPALIVE_PROBES} probes per socket`;
}
