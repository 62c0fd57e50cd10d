// Turns the peers' flags (as strings, from commander or node:util parseArgs)
// into typed options, runs one peer with its lines on stdout, and exits the
// process with its code: a peer never outlives its script.

import { UsageError } from '../../cli/errors.js';
import { formatPeerLine } from './format.js';
import { parseCount, parseHostPort, parseKeepalive, parseOnEof, parseThen } from './options.js';
import { runClient, type ClientOptions } from './client.js';
import { runServer, type ServerOptions } from './server.js';

export type PeerFlags = Readonly<Record<string, string | undefined>>;

/** Default bound on a peer's whole run. */
export const PEER_DEFAULT_TIMEOUT_MS = 60_000;

function timeoutMs(f: PeerFlags): number {
  return f.timeout === undefined ? PEER_DEFAULT_TIMEOUT_MS : parseCount(f.timeout, '--timeout', 1, 86_400_000);
}

export function serverOptionsFrom(f: PeerFlags): ServerOptions {
  return {
    port: f.port === undefined ? 8080 : parseCount(f.port, '--port', 1, 65535),
    host: f.host,
    onEof: parseOnEof(f.onEof ?? 'close'),
    send: f.send === undefined ? 0 : parseCount(f.send, '--send', 0, 1 << 30),
    keepalive: f.keepalive === undefined ? undefined : parseKeepalive(f.keepalive),
    count: f.count === undefined ? 1 : parseCount(f.count, '--count', 1, 1_000_000),
    writeAfterMs: f.writeAfterMs === undefined ? undefined : parseCount(f.writeAfterMs, '--write-after-ms', 0, 3_600_000),
    closeAfterMs: f.closeAfter === undefined ? undefined : parseCount(f.closeAfter, '--close-after', 0, 3_600_000),
    timeoutMs: timeoutMs(f),
  };
}

export function clientOptionsFrom(f: PeerFlags): ClientOptions {
  if (f.connect === undefined) throw new UsageError('peer client needs --connect HOST:PORT', 'e.g. --connect 198.18.0.2:8080');
  const { host, port } = parseHostPort(f.connect);
  return {
    host,
    port,
    send: f.send === undefined ? 0 : parseCount(f.send, '--send', 0, 1 << 30),
    recv: f.recv === undefined ? 0 : parseCount(f.recv, '--recv', 0, 1 << 30),
    then: parseThen(f.then ?? 'close'),
    count: f.count === undefined ? 1 : parseCount(f.count, '--count', 1, 1_000_000),
    keepalive: f.keepalive === undefined ? undefined : parseKeepalive(f.keepalive),
    writeAfterMs: f.writeAfterMs === undefined ? undefined : parseCount(f.writeAfterMs, '--write-after-ms', 0, 3_600_000),
    timeoutMs: timeoutMs(f),
  };
}

/** Runs a peer to its end, prints the final `exit` line and exits the process. */
export async function runPeerProcess(kind: 'server' | 'client', flags: PeerFlags): Promise<never> {
  const t0 = performance.now();
  const out = (line: string): void => void process.stdout.write(line);
  const warn = (msg: string): void => void process.stderr.write(`tcpmitm peer ${kind}: ${msg}\n`);
  // Written after a possible EPIPE on our own stdout: never die of SIGPIPE-like errors there.
  process.stdout.on('error', () => undefined);
  const code = kind === 'server' ? await runServer(serverOptionsFrom(flags), out, warn) : await runClient(clientOptionsFrom(flags), out, warn);
  out(formatPeerLine(kind, 'exit', performance.now() - t0, { code }));
  process.exit(code);
}
