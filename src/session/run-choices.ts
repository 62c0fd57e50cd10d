// What the flags every run command shares ask of a run (cli/common-options.ts:
// the profile, the outputs, the tracker's settings), as every mode's session
// takes it: each mode's own options add only what is its own.

import type { TableLimits } from '../tcp/tracker.js';

/** The outputs and the tracker's settings of a run. */
export interface RunOutputs {
  readonly ui: boolean;
  /** The text log: one line per segment too. */
  readonly segments: boolean;
  /** Segment events (and so the --segments lines) carry the TCP options. */
  readonly tcpOptions: boolean;
  /** JSONL destination: a path or "-" for stdout. */
  readonly json?: string;
  /** JUnit XML destination. */
  readonly junit?: string;
  readonly pcap?: string;
  /** Cap on the run, seconds. */
  readonly durationS?: number;
  /** TIME-WAIT length the tracker assumes (Linux: 60 s). */
  readonly timeWaitS: number;
  /** Orphaned FIN-WAIT-2 timeout the tracker assumes (Linux tcp_fin_timeout: 60 s). */
  readonly finTimeoutS: number;
  /** The connection table's bound and idle timeouts. */
  readonly table: TableLimits;
}

/** The outputs, and the profile asked for by name. */
export interface RunChoices extends RunOutputs {
  /** A built-in name or a file; undefined: passthrough, not named by the user. */
  readonly profile?: string;
  /** Profile parameter overrides from `--set key=value`. */
  readonly set: Readonly<Record<string, string>>;
}
