// What a lab run is asked to do, as parsed from `tcpmitm lab` / `lab up` flags.

import type { TableLimits } from '../tcp/tracker.js';
import type { Sysctls } from '../rules/schema.js';

export interface LabRunOptions {
  /** Lab id; namespaces are <id>-c, <id>-m, <id>-s. Random when absent. */
  readonly id?: string;
  readonly ipv6: boolean;
  /** Profile name (built-in) or path; default "passthrough". */
  readonly profile?: string;
  /** Profile parameter overrides from `--set key=value`. */
  readonly set: Readonly<Record<string, string>>;
  /** Shell command for the server namespace instead of the built-in server. */
  readonly server?: string;
  /** Shell command for the client namespace instead of the built-in client. */
  readonly client?: string;
  /** Port the server listens on (waited for in LISTEN before the client starts). */
  readonly port: number;
  /** false for `lab up`: no peers, the lab stays up until Ctrl-C. */
  readonly peers: boolean;
  readonly ui: boolean;
  readonly segments: boolean;
  /** JSONL destination: a path or "-" for stdout. */
  readonly json?: string;
  /** JUnit XML destination. */
  readonly junit?: string;
  readonly pcap?: string;
  /** Cap on the run, seconds. */
  readonly durationS?: number;
  readonly untilClosed: boolean;
  /** At the end, how long a server still running gets to finish by itself (s). */
  readonly serverGraceS: number;
  readonly kernelProbe: 'auto' | 'trace' | 'proc' | 'off';
  /** TIME-WAIT length the tracker assumes (Linux: 60 s). */
  readonly timeWaitS: number;
  /** Orphaned FIN-WAIT-2 timeout the tracker assumes (Linux tcp_fin_timeout: 60 s). */
  readonly finTimeoutS: number;
  /** An exercise's hidden fault: the log and UI show no verdicts, rules, actions or profile name, and no report (the reveal has it). */
  readonly hideFault?: boolean;
  /** `--sysctl`: the end namespaces' sysctls, over the profile's lab.sysctls. */
  readonly sysctls?: Sysctls;
  /** The connection table's bound and idle timeouts. */
  readonly table: TableLimits;
}
