// Which ends of an intercept run's connections the kernel probe can see: the
// sockets of this namespace only (its addresses, or loopback). An end
// elsewhere — on another host, or in a namespace this host only routes for
// (FORWARD: a container behind a bridge, two namespaces routed through this
// one) — has no socket here, so its kernel checks are reported not checked
// instead of failed; its states are the inference's alone.

import type { TcpmitmEvent } from '../engine/events.js';
import type { Answerable } from '../rules/expect.js';
import type { Endpoint } from '../tcp/state.js';
import { isLocalHost } from '../io/kernel-probe-diff.js';

export class LocalEnds {
  /** The addresses of the connections the checks look at (only those: a flood's connections are not kept). */
  private readonly ends = new Map<number, Readonly<Record<Endpoint, string>>>();

  /** `conns`: the connection numbers the profile's expectations name; `hosts`: this namespace's addresses. */
  constructor(
    private readonly conns: ReadonlySet<number>,
    readonly hosts: readonly string[],
  ) {}

  /** Subscribe this to the event stream. */
  readonly onEvent = (ev: TcpmitmEvent): void => {
    if (ev.type === 'connection' && this.conns.has(ev.conn)) this.ends.set(ev.conn, { client: ev.client, server: ev.server });
  };

  /** Whether the kernel probe can answer for `endpoint` of connection `conn` (true until the connection is seen). */
  readonly answerable = (conn: number, endpoint: Endpoint): Answerable => {
    const addr = this.ends.get(conn)?.[endpoint];
    if (addr === undefined || isLocalHost(addr, this.hosts)) return true;
    return `the ${endpoint}'s socket (${addr}) is not on this host (another host, or one this host routes for): the kernel probe sees this namespace's sockets only`;
  };
}
