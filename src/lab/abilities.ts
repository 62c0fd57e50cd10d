// What a lab run can answer about a profile's expectations, from its options:
// a kernel probe unless it is off, app events where a built-in peer runs, an
// exit wherever a program runs (none in `lab up`).

import type { Answerable } from '../rules/expect.js';
import { BUILTIN_EXPECTATIONS_UNNAMED, type RunAbilities } from '../session/verdict.js';
import type { LabRunOptions } from './run-options.js';

/** What a lab run can answer: its kernel probe, its built-in peers' app events, its programs' exits. */
export function labAbilities(o: LabRunOptions): RunAbilities {
  const none = '`lab up` runs no programs';
  const app = (own: string | undefined, flag: string): Answerable => (!o.peers ? none : own !== undefined ? `${flag} is a custom command` : true);
  const custom = o.server !== undefined || o.client !== undefined;
  return {
    mode: 'lab',
    kernel: o.kernelProbe === 'off' ? 'the kernel probe is off (--kernel-probe off)' : true,
    app: { client: app(o.client, '--client'), server: app(o.server, '--server') },
    programs: { client: o.peers ? true : none, server: o.peers ? true : none },
    expectations:
      custom && o.profile === undefined
        ? BUILTIN_EXPECTATIONS_UNNAMED
        : true,
  };
}
