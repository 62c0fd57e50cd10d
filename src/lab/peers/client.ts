// The built-in client peer: opens --count connections one after another; on
// each sends --send bytes, waits for --recv bytes (or EOF), then does its
// --then action, printing every socket event as a JSON line (format.ts). It
// always ends by itself: after its last connection closes, or at --timeout.

import { connect, type Socket } from 'node:net';
import type { Keepalive, Then } from './options.js';
import { formatSockAddr } from './options.js';
import { applyKeepalive, keepaliveNote } from './keepalive.js';
import { peerOutput, writeLater } from './format.js';
import { PEER_TIMEOUT_EXIT } from './server.js';

export interface ClientOptions {
  readonly host: string;
  readonly port: number;
  readonly send: number;
  /** Bytes to read before the --then action (0: act right after sending); EOF also ends the wait. */
  readonly recv: number;
  readonly then: Then;
  /** Connections, one after another (default 1). */
  readonly count: number;
  readonly keepalive?: Keepalive;
  /** Write one byte this many ms after the --then action (to see what a late write meets). */
  readonly writeAfterMs?: number;
  readonly timeoutMs: number;
}

export function runClient(o: ClientOptions, out: (line: string) => void, warn: (msg: string) => void = () => undefined): Promise<number> {
  const emit = peerOutput('client', out, o.keepalive && keepaliveNote(o.keepalive), warn);

  return new Promise((resolve) => {
    let current: Socket | undefined;
    let done = false;
    let failed = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      current?.destroy();
      resolve(code);
    };
    const timer = setTimeout(() => {
      emit('timeout', { ms: o.timeoutMs });
      finish(PEER_TIMEOUT_EXIT);
    }, o.timeoutMs);

    const one = (n: number): void => {
      if (n >= o.count) return finish(failed ? 1 : 0);
      let received = 0;
      let eof = false;
      let acted = false;
      let connected = false;
      const sock = connect({ host: o.host, port: o.port, allowHalfOpen: true });
      current = sock;
      const maybeAct = (): void => {
        if (acted || (received < o.recv && !eof)) return;
        acted = true;
        act(sock);
        writeLater(sock, o.writeAfterMs, emit);
      };
      sock.on('connect', () => {
        connected = true;
        emit('connected', {
          local: formatSockAddr(sock.localAddress, sock.localPort),
          remote: formatSockAddr(sock.remoteAddress, sock.remotePort),
        });
        if (o.keepalive) emit('keepalive', { ...applyKeepalive(sock, o.keepalive) });
        if (o.send > 0) {
          sock.write(Buffer.alloc(o.send, 0x63));
          emit('sent', { bytes: o.send });
        }
        maybeAct();
      });
      sock.on('data', (d: Buffer) => {
        received += d.length;
        emit('data', { bytes: d.length });
        maybeAct();
      });
      sock.on('end', () => {
        eof = true;
        emit('eof');
        maybeAct();
      });
      sock.on('error', (err: NodeJS.ErrnoException) => {
        // Errors after connecting are what the scenario is about, reported as
        // events; only a connection that never came up makes the exit code 1.
        if (!connected) failed = true;
        emit(err.code ?? 'error', { message: err.message });
      });
      sock.on('close', (hadError) => {
        emit('closed', { hadError });
        if (!done) one(n + 1);
      });
    };

    const act = (sock: Socket): void => {
      const a = o.then;
      switch (a.kind) {
        case 'close':
          emit('close');
          // end() then close(2) once our data is written; the kernel finishes
          // the close (FIN-WAIT-*, TIME-WAIT) with no process attached.
          sock.destroySoon();
          break;
        case 'shutdown':
          // Half-close: our FIN goes out, we keep reading until the server's FIN.
          emit('shutdown');
          sock.end();
          break;
        case 'linger0':
          emit('linger0');
          sock.resetAndDestroy();
          break;
        case 'kill':
          // stdout to a pipe is synchronous on Linux, so this line is out
          // before the signal; the kernel then closes the fd: a FIN, not a RST
          // (unless unread data is pending).
          emit('kill');
          process.kill(process.pid, 'SIGKILL');
          break;
        case 'wait':
          setTimeout(() => {
            if (sock.destroyed) return;
            emit('close');
            sock.destroySoon();
          }, a.ms);
          break;
      }
    };

    one(0);
  });
}
