// What the supervisor hands the session it starts inside the middle namespace
// (as JSON in the TCPMITM_INNER environment variable).

import type { LabRunOptions } from './run-options.js';
import type { ChosenProfile } from './profile-choice.js';

export interface InnerConfig {
  readonly options: LabRunOptions;
  readonly profile: ChosenProfile;
  readonly lab: {
    readonly id: string;
    readonly ipv6: boolean;
    readonly namespaces: { readonly client: string; readonly middle: string; readonly server: string };
    /** Processes living in the end namespaces, through which the kernel probe reads /proc/<pid>/net/tcp. */
    readonly holderPids: { readonly client: number; readonly server: number };
  };
}
