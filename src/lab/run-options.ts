// What a lab run is asked to do, as parsed from `tcpmitm lab` / `lab up` flags.

import type { RunChoices } from '../session/run-choices.js';
import type { Sysctls } from '../rules/schema.js';

export interface LabRunOptions extends RunChoices {
  /** Lab id; namespaces are <id>-c, <id>-m, <id>-s. Random when absent. */
  readonly id?: string;
  readonly ipv6: boolean;
  /** Shell command for the server namespace instead of the built-in server. */
  readonly server?: string;
  /** Shell command for the client namespace instead of the built-in client. */
  readonly client?: string;
  /** Port the server listens on (waited for in LISTEN before the client starts). */
  readonly port: number;
  /** false for `lab up`: no peers, the lab stays up until Ctrl-C. */
  readonly peers: boolean;
  readonly untilClosed: boolean;
  /** At the end, how long a server still running gets to finish by itself (s). */
  readonly serverGraceS: number;
  readonly kernelProbe: 'auto' | 'trace' | 'proc' | 'off';
  /** An exercise's hidden fault: the log and UI show no verdicts, rules, actions or profile name, and no report (the reveal has it). */
  readonly hideFault?: boolean;
  /** `--sysctl`: the end namespaces' sysctls, over the profile's lab.sysctls. */
  readonly sysctls?: Sysctls;
}
