// What the supervisor hands the session it starts inside the middle namespace
// (one line of JSON on the session link, see session-link.ts).

import type { LabRunOptions } from './run-options.js';
import type { ChosenProfile } from '../session/profile-choice.js';
import type { Lab } from './topology.js';

export interface InnerConfig {
  readonly options: LabRunOptions;
  readonly profile: ChosenProfile;
  readonly lab: {
    readonly id: string;
    readonly ipv6: boolean;
    readonly namespaces: { readonly client: string; readonly middle: string; readonly server: string };
    /** Processes living in the end namespaces, through which the kernel probe reads /proc/<pid>/net/tcp. */
    readonly holderPids: { readonly client: number; readonly server: number };
    /** The sysctls set in the end namespaces, as read back (the run's header prints them). */
    readonly sysctls: { readonly client: Record<string, string>; readonly server: Record<string, string> };
    /** The lab's owner as its registry record names it: the session removes the lab only while the record still does. */
    readonly owner: { readonly pid: number; readonly pidStart?: number };
  };
}

/**
 * The lab part of the config, from the lab as built: `tcpmitm lab` and the
 * benchmark (bench/lab.js) start the session with the same one.
 */
export function innerLabConfig(lab: Pick<Lab, 'id' | 'ipv6' | 'namespaces' | 'record' | 'nsPid'>, sysctls: InnerConfig['lab']['sysctls']): InnerConfig['lab'] {
  return {
    id: lab.id,
    ipv6: lab.ipv6,
    namespaces: lab.namespaces,
    holderPids: { client: lab.nsPid('client'), server: lab.nsPid('server') },
    sysctls,
    owner: { pid: lab.record.pid, ...(lab.record.pidStart === undefined ? {} : { pidStart: lab.record.pidStart }) },
  };
}
