// The exact surface of the `cap` native binding (libpcap) that tcpmitm uses:
// the one place where its untyped JavaScript becomes typed. `cap` reuses the
// Buffer passed to open() for every packet: copy a frame before keeping it.
declare module 'cap' {
  import { EventEmitter } from 'node:events';

  export interface DeviceAddress {
    readonly addr: string;
    readonly netmask?: string;
    readonly broadaddr?: string;
  }
  export interface Device {
    readonly name: string;
    readonly description?: string;
    readonly addresses: readonly DeviceAddress[];
    readonly flags?: string;
  }

  export class Cap extends EventEmitter {
    constructor();
    /** Opens `device` with a BPF `filter`; returns the link type, e.g. "ETHERNET". */
    open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
    close(): void;
    /** Sends `nBytes` (default: all) of `buffer` as a raw frame. Throws on failure. */
    send(buffer: Buffer, nBytes?: number): void;
    setMinBytes?(nBytes: number): void;
    on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): this;
    static findDevice(ip?: string): string | undefined;
    static deviceList(): Device[];
  }

  const cap: { Cap: typeof Cap; findDevice: typeof Cap.findDevice; deviceList: typeof Cap.deviceList };
  export default cap;
}
