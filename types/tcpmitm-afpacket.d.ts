// The surface of tcpmitm's own native addon (native/afpacket/afpacket.c).
declare module 'tcpmitm-afpacket' {
  /** An open AF_PACKET socket; only the functions below may touch it. */
  export type PortHandle = { readonly __afpacket: unique symbol };
  /**
   * Binds a promiscuous packet socket to `ifname` and starts reading. Each
   * wake-up calls `onBatch(count, 0)` with `meta` holding [offset, length] of
   * `count` frames in `slab` (valid until `onBatch` returns), or
   * `onBatch(-1, errno)` once if reading fails (the port then stops reading).
   */
  export function open(
    ifname: string,
    slab: Buffer,
    meta: Uint32Array,
    slot: number,
    onBatch: (count: number, errno: number) => void,
  ): PortHandle;
  /** Sends `frames[0..count)` with sendmmsg; returns [index, errno, …] for frames the kernel refused. */
  export function send(port: PortHandle, frames: readonly Buffer[], count: number): number[] | undefined;
  export function close(port: PortHandle): void;
  export function strerror(errno: number): string;
}
