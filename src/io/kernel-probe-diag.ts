// The kernel probe's window on one end namespace's TCP sockets through the
// kernel's socket diagnostics (sock_diag, native/afpacket/sockdiag.c): one
// 4-tuple looked up at a time — what following a few mini-sockets needs —
// instead of reading and parsing the namespace's whole /proc/net/tcp.

import { loadAfPacket } from './afpacket-addon.js';
import type { LookupRow } from './kernel-probe-sockets.js';
import { stateOfCode } from './proc-net-tcp.js';

export class NamespaceDiag {
  private constructor(private fd: number) {}

  /** A sock_diag socket in the network namespace of process `pid` (opened once: it stays there). */
  static open(pid: number): NamespaceDiag {
    return new NamespaceDiag(loadAfPacket().diagOpen(`/proc/${pid}/ns/net`));
  }

  /** The socket on exactly this 4-tuple, or undefined (none, or only a listener on the local port). */
  lookup(local: string, remote: string): LookupRow | undefined {
    if (this.fd < 0) return undefined;
    const r = loadAfPacket().diagLookup(this.fd, local, remote);
    const state = r === undefined ? undefined : stateOfCode(r.state);
    return r === undefined || state === undefined ? undefined : { local: r.local, remote: r.remote, state, inode: r.inode, expiresMs: r.expiresMs };
  }

  close(): void {
    if (this.fd >= 0) loadAfPacket().diagClose(this.fd);
    this.fd = -1;
  }
}
