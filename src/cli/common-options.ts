// Options that commands share (and the schema sub-command, and what the run
// options ask of a session: runChoices, runSessionCommand), declared once so their names,
// parsers and help read the same everywhere.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { collectSetting, intIn, numberIn, writableFile } from './parse.js';
import { DEFAULT_ESTABLISHED_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_STALE_MS, type TableLimits } from '../tcp/tracker.js';
import { UsageError } from './errors.js';
import type { RunChoices } from '../session/run-choices.js';
import { runUnderHeapCeiling } from '../session/heap-ceiling.js';

export function addProfileOptions(cmd: Command, profileHelp: string): Command {
  return cmd
    .option('--profile <name|file>', profileHelp)
    .option('--set <key=value>', 'set a profile parameter (repeatable), e.g. --set times=3', collectSetting);
}

/** `pcap`: offer --pcap (true: an inline mode's both sides; a string: the mode's own description of it). */
export function addOutputOptions(cmd: Command, opts: { pcap: boolean | string; tcpOptions: boolean }): Command {
  cmd
    .option('--no-ui', 'text log instead of the terminal UI (the default when stdout is not a terminal)')
    .option('--segments', 'log one line per segment, like tcpdump');
  if (opts.tcpOptions) cmd.option('--tcp-options', "each segment's TCP options as tcpdump prints them (mss, sackOK, TS, wscale, sack), in the --segments lines and the --json segment events");
  cmd
    .option('--json <file|->', 'write every event as a JSON line (see docs/events.md); - for stdout (the text log then goes to stderr)', writableFile(true))
    .option('--junit <file>', "write the verdict as JUnit XML for CI: one testcase per expectation and per program's exit", writableFile(false));
  if (opts.pcap !== false) {
    const what = opts.pcap === true ? 'a pcapng of both sides, with a comment on every packet tcpmitm acted on' : opts.pcap;
    cmd.option('--pcap <file|->', `write ${what}; - for stdout (| tshark -r -)`, writableFile(true));
  }
  return cmd.option('--duration <s>', 'end the run after this many seconds', numberIn(0.1, 86_400));
}

export function addTrackerOptions(cmd: Command): Command {
  return cmd
    .option('--time-wait <s>', 'TIME-WAIT length the tracker assumes (Linux: 60)', numberIn(0, 3600), 60)
    .option('--fin-timeout <s>', 'orphaned FIN-WAIT-2 timeout (Linux tcp_fin_timeout: 60); applied once the kernel probe sees the application close the socket, never to a half-closed one', numberIn(0, 3600), 60)
    .option(
      '--max-connections <n>',
      'most connections tracked at once (like nf_conntrack_max); when full, half-open, picked-up and finished ones are evicted oldest first, and if none can be, new connections pass untracked and untouched (counted in stats)',
      intIn(1, 16_777_216),
      DEFAULT_MAX_CONNECTIONS,
    )
    .option('--established-timeout <s>', 'forget an established (or half-closed) connection after this long without a segment (conntrack: 5 days)', numberIn(1, 30 * 86_400), DEFAULT_ESTABLISHED_MS / 1000)
    .option('--half-open-timeout <s>', 'forget a connection still in its handshake, refused, reset, or seen only one way after this long without a segment (above Linux SYN retries, ~127 s)', numberIn(1, 86_400), DEFAULT_STALE_MS / 1000);
}

/** The flags addTrackerOptions declares for the connection table. */
export interface TableFlags {
  readonly maxConnections: number;
  readonly establishedTimeout: number;
  readonly halfOpenTimeout: number;
}

/** The flags addProfileOptions, addOutputOptions and addTrackerOptions declare, as commander gives them. */
export interface SharedRunFlags extends TableFlags {
  readonly profile?: string;
  readonly set?: Record<string, string>;
  readonly ui: boolean;
  readonly segments?: boolean;
  readonly tcpOptions?: boolean;
  readonly json?: string;
  readonly junit?: string;
  readonly pcap?: string;
  readonly duration?: number;
  readonly timeWait: number;
  readonly finTimeout: number;
}

/** What those flags ask of a run, as every mode's session takes it (refuses two outputs on stdout: uiFor). */
export function runChoices(f: SharedRunFlags): RunChoices {
  return {
    profile: f.profile,
    set: f.set ?? {},
    ui: uiFor(f),
    segments: f.segments === true,
    tcpOptions: f.tcpOptions === true,
    json: f.json,
    junit: f.junit,
    pcap: f.pcap,
    durationS: f.duration,
    timeWaitS: f.timeWait,
    finTimeoutS: f.finTimeout,
    table: tableLimits(f),
  };
}

/**
 * Runs a session under its heap ceiling: the command first runs itself again,
 * once, with those node flags (through `via`, e.g. nsenter into --netns), and
 * that run's exit code is this one's; in the run again, `run` runs.
 */
export async function runSessionCommand(f: TableFlags, run: () => Promise<number>, via: readonly string[] = []): Promise<void> {
  const rerun = await runUnderHeapCeiling(tableLimits(f).maxConnections, via);
  process.exitCode = rerun ?? (await run());
}

export function tableLimits(f: TableFlags): TableLimits {
  return { maxConnections: f.maxConnections, establishedTimeoutS: f.establishedTimeout, halfOpenTimeoutS: f.halfOpenTimeout };
}

/**
 * Whether the terminal UI runs: asked for (not --no-ui), stdout a terminal,
 * and stdout not taken by --json - or --pcap - (the data owns it). Refuses
 * two outputs on stdout, and binary pcapng onto a terminal.
 */
export function uiFor(f: { readonly ui: boolean; readonly json?: string; readonly pcap?: string }): boolean {
  if (f.json === '-' && f.pcap === '-') throw new UsageError("--json - and --pcap - both write to stdout; only one output can: give the other a file name");
  if (f.pcap === '-' && process.stdout.isTTY === true) {
    throw new UsageError('--pcap - writes binary pcapng to stdout, which is a terminal', 'redirect it to a file or a reader: … --pcap - > run.pcapng, or … --pcap - | tshark -r -');
  }
  return f.ui && process.stdout.isTTY === true && f.json !== '-' && f.pcap !== '-';
}

/** `tcpmitm profiles schema`, `tcpmitm exercise schema`: prints the JSON Schema of a kind of file, from the directory `dirOf` names. */
export function addSchemaCommand(parent: Command, kind: string, dirOf: () => Promise<string>): void {
  parent
    .command('schema')
    .description(`print the ${kind}' JSON Schema (for an editor: tcpmitm ${parent.name()} schema > schema.json)`)
    .action(async () => {
      process.stdout.write(readFileSync(join(await dirOf(), 'schema.json'), 'utf8'));
    });
}
