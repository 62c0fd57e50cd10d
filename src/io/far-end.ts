// Facts about an interface for messages: its MTU, and who is at the other end
// of its link when the host can know:
// a veth's peer (`ip -j link` gives its ifindex and, when it lives in another
// namespace, that namespace's id), named so that a message can say which
// device to run `ethtool -K` on.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { OFFLOADS_OFF, type FarEndInfo } from '../engine/unforwardable.js';

export interface FarEnd extends FarEndInfo {
  /** The peer's name, when found. */
  readonly name?: string;
  /** The named namespace it lives in (`ip netns`), when not this one. */
  readonly netns?: string;
}

interface LinkJson {
  ifindex?: number;
  ifname?: string;
  link?: string;
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
}

function ipJson<T>(args: string[]): T[] {
  const r = spawnSync('ip', ['-j', ...args], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) return [];
  try {
    const v: unknown = JSON.parse(r.stdout || '[]');
    return Array.isArray(v) ? (v as T[]) : [];
  } catch {
    return [];
  }
}

/** `dev`'s MTU, from sysfs (this namespace's view). */
export function mtuOf(dev: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(`/sys/class/net/${dev}/mtu`, 'utf8'), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The far end of `dev`'s link, as far as `ip` can tell (a veth's peer); else how to find it. */
export function farEndOf(dev: string): FarEnd {
  const l = ipJson<LinkJson>(['-d', 'link', 'show', 'dev', dev])[0];
  const unknown: FarEnd = {
    text: `the device at the far end of ${dev}'s link (the sending host's NIC, or for a veth its peer: \`ip -d link show ${dev}\`, then \`ip netns\`)`,
  };
  if (!l || l.linkinfo?.info_kind !== 'veth') return unknown;
  const done = (name: string, netns?: string): FarEnd => {
    const command = `${netns ? `ip netns exec ${netns} ` : ''}ethtool -K ${name} ${OFFLOADS_OFF}`;
    return { name, ...(netns ? { netns } : {}), text: netns ? `${name} (in netns ${netns})` : name, command };
  };
  if (l.link_netnsid === undefined) return l.link ? done(l.link) : unknown;
  // Another namespace: find its name by the id this namespace knows it by, then the peer by ifindex there.
  const ns = ipJson<{ nsid?: number; name?: string }>(['netns', 'list-id']).find((n) => n.nsid === l.link_netnsid)?.name;
  if (!ns || l.link_index === undefined) {
    return { text: `${dev}'s veth peer (ifindex ${l.link_index ?? '?'} in the namespace with id ${l.link_netnsid}, which has no name in \`ip netns\`)` };
  }
  const peer = ipJson<LinkJson>(['-n', ns, 'link', 'show']).find((p) => p.ifindex === l.link_index)?.ifname;
  return peer ? done(peer, ns) : { text: `${dev}'s veth peer (ifindex ${l.link_index} in netns ${ns})` };
}
