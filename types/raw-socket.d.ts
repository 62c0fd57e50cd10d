// The part of the `raw-socket` native binding tcpmitm uses (tap-mode injection).
declare module 'raw-socket' {
  import { EventEmitter } from 'node:events';

  export const AddressFamily: { readonly IPv4: number; readonly IPv6: number };
  export const Protocol: { readonly None: number; readonly ICMP: number; readonly TCP: number; readonly UDP: number; readonly ICMPv6: number };
  export const SocketLevel: { readonly IPPROTO_IP: number; readonly IPPROTO_IPV6: number; readonly SOL_SOCKET: number };
  export const SocketOption: { readonly IP_HDRINCL: number; readonly IPV6_HDRINCL?: number; readonly SO_BINDTODEVICE?: number };

  export interface SocketOptions {
    readonly addressFamily?: number;
    readonly protocol?: number;
    readonly bufferSize?: number;
    readonly generateChecksums?: boolean;
    readonly checksumOffset?: number;
  }

  export class Socket extends EventEmitter {
    setOption(level: number, option: number, value: number | Buffer, length?: number): void;
    send(
      buffer: Buffer,
      offset: number,
      length: number,
      address: string,
      beforeCallback: ((() => void) | null),
      afterCallback: (error: Error | null, bytes: number) => void,
    ): this;
    close(): this;
    pauseRecv(): this;
    resumeRecv(): this;
  }

  export function createSocket(options?: SocketOptions): Socket;
  const raw: {
    createSocket: typeof createSocket;
    AddressFamily: typeof AddressFamily;
    Protocol: typeof Protocol;
    SocketLevel: typeof SocketLevel;
    SocketOption: typeof SocketOption;
    Socket: typeof Socket;
  };
  export default raw;
}
