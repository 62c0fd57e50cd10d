// What a dead intercept run leaves behind besides its chain: its kernel
// probe's trace instance (tracefs is host-wide, instances/tcpmitm-i<pid>_<start>).
// Only instances whose names are an intercept run's and whose owner is gone
// are removed.

import { readdirSync } from 'node:fs';
import { TRACEFS, removeTraceInstance } from '../io/kernel-probe-trace.js';
import { parseTraceId } from './rules.js';
import { ownerAlive } from './netfilter.js';

/** Removes the trace instances of dead intercept runs; one line per instance removed (or busy). */
export function removeDeadTraceInstances(): string[] {
  let names: string[];
  try {
    names = readdirSync(`${TRACEFS}/instances`);
  } catch {
    return [];
  }
  const said: string[] = [];
  for (const name of names) {
    if (!name.startsWith('tcpmitm-')) continue;
    const owner = parseTraceId(name.slice('tcpmitm-'.length));
    if (owner === undefined || ownerAlive(owner)) continue;
    const dir = `${TRACEFS}/instances/${name}`;
    const r = removeTraceInstance(dir);
    if (r === 'removed') said.push(`removed the kernel probe's trace instance ${dir} of a dead intercept run (pid ${owner.pid})`);
    else if (r === 'busy') said.push(`could not remove ${dir} of a dead intercept run (pid ${owner.pid}): still open`);
  }
  return said;
}
