// The built-in server peer: accepts --count connections, answers the first
// data (or the EOF, if no data came) with --send bytes, then does its --on-eof
// action, printing every socket event as a JSON line (format.ts). It always
// ends by itself: after its last connection closes, or at --timeout.

import { createServer, type Socket } from 'node:net';
import type { Keepalive, OnEof } from './options.js';
import { formatSockAddr } from './options.js';
import { applyKeepalive, keepaliveNote } from './keepalive.js';
import { peerOutput, writeLater } from './format.js';

export interface ServerOptions {
  readonly port: number;
  /** Listen address; default "::" (dual-stack: IPv4 peers show as their IPv4 address). */
  readonly host?: string;
  readonly onEof: OnEof;
  /** Bytes to answer with (0: none). */
  readonly send: number;
  readonly keepalive?: Keepalive;
  /** Connections to serve before exiting (default 1). */
  readonly count: number;
  /** Write one byte this many ms after EOF (to see what a write in CLOSE-WAIT meets). */
  readonly writeAfterMs?: number;
  /** Close each connection this many ms after accepting it, whatever the client does (an active close by the server). */
  readonly closeAfterMs?: number;
  /** Hard bound on the whole run, ms. */
  readonly timeoutMs: number;
}

/** Exit code when --timeout ends the run (as coreutils `timeout`). */
export const PEER_TIMEOUT_EXIT = 124;

export function runServer(o: ServerOptions, out: (line: string) => void, warn: (msg: string) => void = () => undefined): Promise<number> {
  const emit = peerOutput('server', out, o.keepalive && keepaliveNote(o.keepalive), warn);

  return new Promise((resolve) => {
    const sockets = new Set<Socket>();
    let accepted = 0;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      server.close();
      for (const s of sockets) s.destroy();
      resolve(code);
    };
    const timer = setTimeout(() => {
      emit('timeout', { ms: o.timeoutMs });
      finish(PEER_TIMEOUT_EXIT);
    }, o.timeoutMs);

    // allowHalfOpen: reading the client's FIN must not close our side — the
    // server decides when to send its own FIN (--on-eof), as a real one would.
    const server = createServer({ allowHalfOpen: true }, (sock) => {
      accepted++;
      if (accepted >= o.count) server.close();
      sockets.add(sock);
      emit('connected', {
        local: formatSockAddr(sock.localAddress, sock.localPort),
        remote: formatSockAddr(sock.remoteAddress, sock.remotePort),
      });
      if (o.keepalive) emit('keepalive', { ...applyKeepalive(sock, o.keepalive) });
      if (o.closeAfterMs !== undefined) setTimeout(() => closeSocket(sock), o.closeAfterMs);
      let answered = o.send === 0;
      const answer = (): void => {
        if (answered) return;
        answered = true;
        sock.write(Buffer.alloc(o.send, 0x73));
        emit('sent', { bytes: o.send });
      };
      sock.on('data', (d: Buffer) => {
        emit('data', { bytes: d.length });
        answer();
      });
      sock.on('end', () => {
        emit('eof');
        answer();
        writeLater(sock, o.writeAfterMs, emit);
        onEof(sock);
      });
      sock.on('error', (err: NodeJS.ErrnoException) => emit(err.code ?? 'error', { message: err.message }));
      sock.on('close', (hadError) => {
        emit('closed', { hadError });
        sockets.delete(sock);
        if (accepted >= o.count && sockets.size === 0) finish(0);
      });
    });

    const onEof = (sock: Socket): void => {
      const a = o.onEof;
      switch (a.kind) {
        case 'close':
          closeSocket(sock);
          break;
        case 'shutdown':
          // shutdown(SHUT_WR): our FIN goes out; the fd stays open until Node
          // sees both directions ended and closes it.
          emit('shutdown');
          sock.end();
          break;
        case 'delay':
          setTimeout(() => closeSocket(sock), a.ms);
          break;
        case 'linger0':
          emit('linger0');
          sock.resetAndDestroy();
          break;
        case 'never':
          // Stay in CLOSE-WAIT until --timeout.
          break;
      }
    };
    const closeSocket = (sock: Socket): void => {
      if (sock.destroyed) return;
      emit('close');
      // end() then close(2) once our queued data is written.
      sock.destroySoon();
    };

    server.on('error', (err: NodeJS.ErrnoException) => {
      emit(err.code ?? 'error', { message: err.message });
      finish(1);
    });
    server.listen({ port: o.port, host: o.host ?? '::' }, () => {
      const a = server.address();
      emit('listening', { local: a && typeof a === 'object' ? formatSockAddr(a.address, a.port) : String(a) });
    });
  });
}
