// Options that `lab`, `attach` and `tap` share, declared once so their names,
// parsers and help read the same everywhere.

import type { Command } from 'commander';
import { collectSetting, numberIn, writableFile } from './parse.js';

export function addProfileOptions(cmd: Command, profileHelp: string): Command {
  return cmd
    .option('--profile <name|file>', profileHelp)
    .option('--set <key=value>', 'set a profile parameter (repeatable), e.g. --set times=3', collectSetting);
}

export function addOutputOptions(cmd: Command, opts: { pcap: boolean }): Command {
  cmd
    .option('--no-ui', 'text log instead of the terminal UI (the default when stdout is not a terminal)')
    .option('--segments', 'log one line per segment, like tcpdump')
    .option('--json <file|->', 'write every event as a JSON line (see docs/events.md)', writableFile(true))
    .option('--junit <file>', "write the verdict as JUnit XML for CI: one testcase per expectation and per program's exit", writableFile(false));
  if (opts.pcap) cmd.option('--pcap <file>', 'write a pcapng of both sides, with a comment on every packet tcpmitm acted on', writableFile(false));
  return cmd.option('--duration <s>', 'end the run after this many seconds', numberIn(0.1, 86_400));
}

export function addTrackerOptions(cmd: Command): Command {
  return cmd
    .option('--time-wait <s>', 'TIME-WAIT length the tracker assumes (Linux: 60)', numberIn(0, 3600), 60)
    .option('--fin-timeout <s>', 'orphaned FIN-WAIT-2 timeout (Linux tcp_fin_timeout: 60); applied once the kernel probe sees the application close the socket, never to a half-closed one', numberIn(0, 3600), 60);
}
