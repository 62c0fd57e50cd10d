// The built-in peers' output: one JSON object per line on stdout, one line per
// thing the application's socket saw, so a lab log shows the app's view too.
//
// Line format (every line; fields beyond the first three depend on the event):
//   {"peer":"client"|"server","event":NAME,"t":MS_SINCE_PEER_START, ...}
// Events:
//   listening  {local}                 server is accepting
//   connected  {local,remote}          handshake done (client) / accepted (server)
//   sent       {bytes}                 bytes handed to the kernel by one write
//   data       {bytes}                 bytes read in one chunk
//   eof                                the peer's FIN was read (read returned 0)
//   shutdown                           we called shutdown(SHUT_WR): our FIN is queued
//   close                              we called close(2) (the kernel finishes the close)
//   linger0                            abortive close, SO_LINGER 0: the kernel sends RST
//   kill                               the process SIGKILLs itself: the kernel closes for it
//   keepalive  {idle,intvl,probes}     keepalive enabled; seconds and count in effect
//   write-skipped {reason}             --write-after-ms found the socket already gone
//   E…         {message}               an errno Node reported (ECONNRESET, EPIPE,
//                                      ECONNREFUSED, ETIMEDOUT…), named by Node's err.code.
//                                      Node reads eagerly, so a RST usually surfaces as
//                                      ECONNRESET on read even where write(2) would give
//                                      EPIPE (RST in CLOSE-WAIT sets sk_err = EPIPE); the
//                                      peers print what Node exposes and never invent one.
//   closed     {hadError}              the socket is fully closed on our side
//   timeout    {ms}                    the peer's own --timeout fired; it exits
//   exit       {code}                  last line: the process exits with this code

import type { Endpoint } from '../../tcp/state.js';

export interface PeerLine {
  readonly peer: Endpoint;
  readonly event: string;
  readonly t: number;
  readonly [field: string]: unknown;
}

export function formatPeerLine(peer: Endpoint, event: string, t: number, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ peer, event, t: Math.round(t * 10) / 10, ...fields }) + '\n';
}

/** What an AppEvent needs: which end, what happened, and a readable rest. */
export interface ParsedPeerLine {
  readonly endpoint: Endpoint;
  readonly event: string;
  readonly detail?: string;
  /** The peer's own clock, ms since it started. */
  readonly t: number;
}

function describe(event: string, o: Record<string, unknown>): string | undefined {
  switch (event) {
    case 'listening':
      return typeof o.local === 'string' ? o.local : undefined;
    case 'connected':
      return typeof o.local === 'string' && typeof o.remote === 'string' ? `${o.local} → ${o.remote}` : undefined;
    case 'sent':
    case 'data':
      return typeof o.bytes === 'number' ? `${o.bytes} bytes` : undefined;
    case 'keepalive':
      return `idle ${String(o.idle)}s, interval ${String(o.intvl)}s, ${String(o.probes)} probes`;
    case 'closed':
      return o.hadError === true ? 'after an error' : undefined;
    case 'exit':
      return typeof o.code === 'number' ? `code ${o.code}` : undefined;
    case 'timeout':
      return typeof o.ms === 'number' ? `after ${o.ms} ms` : undefined;
    case 'write-skipped':
      return typeof o.reason === 'string' ? o.reason : undefined;
    default:
      return typeof o.message === 'string' ? o.message : undefined;
  }
}

/** Parses one stdout line of a built-in peer; anything else yields undefined. */
export function parsePeerLine(line: string): ParsedPeerLine | undefined {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const r = o as Record<string, unknown>;
  if ((r.peer !== 'client' && r.peer !== 'server') || typeof r.event !== 'string' || r.event === '' || typeof r.t !== 'number') {
    return undefined;
  }
  const detail = describe(r.event, r);
  return { endpoint: r.peer, event: r.event, t: r.t, ...(detail !== undefined ? { detail } : {}) };
}

/**
 * A peer's line writer, its clock starting now; also says on stderr when the
 * keepalive asked for cannot be had (Node fixes interval and count).
 */
export function peerOutput(
  peer: Endpoint,
  out: (line: string) => void,
  keepaliveWarning: string | undefined,
  warn: (msg: string) => void,
): (event: string, fields?: Record<string, unknown>) => void {
  const t0 = performance.now();
  if (keepaliveWarning) warn(keepaliveWarning);
  return (event, fields) => out(formatPeerLine(peer, event, performance.now() - t0, fields));
}

/**
 * `--write-after-ms`: one byte written `ms` after now, to show what a late
 * write meets (EPIPE after a RST in CLOSE-WAIT…); says so when the socket is gone.
 */
export function writeLater(
  sock: { readonly destroyed: boolean; readonly writable: boolean; write(b: Buffer): unknown },
  ms: number | undefined,
  emit: (event: string, fields?: Record<string, unknown>) => void,
): void {
  if (ms === undefined) return;
  setTimeout(() => {
    if (sock.destroyed || !sock.writable) emit('write-skipped', { reason: 'socket already closed' });
    else {
      sock.write(Buffer.from('w'));
      emit('sent', { bytes: 1 });
    }
  }, ms);
}
