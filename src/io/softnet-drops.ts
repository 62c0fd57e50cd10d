// Frames the kernel dropped after they were sent, before any socket saw them:
// each CPU's receive backlog (net.core.netdev_max_backlog, 1000 by default)
// overflows when frames arrive faster than its softirq drains them — on a
// loaded machine, when the softirq work is deferred to ksoftirqd. A veth
// delivers what tcpmitm sends through that backlog, so such a frame was
// forwarded on the wire's view and never reached its end on the kernel's.
// /proc/net/softnet_stat counts them per CPU, host-wide (not per namespace).

import { readFileSync } from 'node:fs';

/** The total of softnet_stat's second column (drops) over every CPU (pure). */
export function parseSoftnetDrops(text: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 2) total += parseInt(cols[1]!, 16) || 0;
  }
  return total;
}

/** The host's backlog drops so far, or undefined where the file cannot be read. */
export function readSoftnetDrops(): number | undefined {
  try {
    return parseSoftnetDrops(readFileSync('/proc/net/softnet_stat', 'latin1'));
  } catch {
    return undefined;
  }
}
