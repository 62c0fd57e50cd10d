// Sends forged IP packets through raw sockets (npm `raw-socket`), as tcpkill
// does: IPPROTO_RAW, which implies IP_HDRINCL for IPv4 (raw(7)) and, for IPv6,
// header-included sending too (Linux sets hdrincl for an AF_INET6 IPPROTO_RAW
// socket; raw-socket exposes no IPV6_HDRINCL on Linux, none is needed). The
// kernel routes the packet, so it reaches a local endpoint through loopback.

import rawModule from 'raw-socket';
import { TcpmitmError } from '../cli/errors.js';

const raw = rawModule;
/** IPPROTO_RAW: the packet handed to send() carries its own IP header. */
const IPPROTO_RAW = 255;
/** SO_MARK (asm-generic/socket.h): the packets a socket sends carry this fwmark (needs CAP_NET_ADMIN). */
const SO_MARK = 36;

export interface RawInjectorOptions {
  /**
   * An fwmark on every packet sent (SO_MARK): intercept mode's netfilter
   * rules let marked packets by, so its own forged segments are not queued
   * back to it on their way out.
   */
  readonly mark?: number;
}

export interface IpInjector {
  /** Sends one IP packet (its header included) towards `dst`; `done` gets the error, if any. */
  send(packet: Buffer, family: 4 | 6, dst: string, done: (err: Error | null) => void): void;
  close(): void;
}

export function openRawInjector(opts: RawInjectorOptions = {}): IpInjector {
  const sockets = new Map<4 | 6, ReturnType<typeof raw.createSocket>>();
  const socketFor = (family: 4 | 6) => {
    let s = sockets.get(family);
    if (s) return s;
    try {
      s = raw.createSocket({ addressFamily: family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6, protocol: IPPROTO_RAW });
      // An IPPROTO_RAW socket receives nothing; don't poll it for reads.
      s.pauseRecv();
      if (family === 4) s.setOption(raw.SocketLevel.IPPROTO_IP, raw.SocketOption.IP_HDRINCL, 1);
      if (opts.mark !== undefined) s.setOption(raw.SocketLevel.SOL_SOCKET, SO_MARK, opts.mark);
    } catch (err) {
      throw new TcpmitmError('E_RAW_SOCKET', `cannot open a raw IPv${family} socket: ${(err as Error).message}`, 1, 'tap and intercept modes need root (CAP_NET_RAW)');
    }
    // Asynchronous socket errors are reported through the send callbacks; never crash on them.
    s.on('error', () => undefined);
    sockets.set(family, s);
    return s;
  };
  return {
    send(packet, family, dst, done) {
      let s;
      try {
        s = socketFor(family);
      } catch (err) {
        return done(err as Error);
      }
      s.send(packet, 0, packet.length, dst, null, (err) => done(err));
    },
    close() {
      for (const s of sockets.values()) s.close();
      sockets.clear();
    },
  };
}
