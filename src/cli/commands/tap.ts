// `tcpmitm tap --iface IFACE …`: watch one interface (loopback included)
// without being inline: log both endpoints' states, forge RSTs. Loads lazily.

import type { Command } from 'commander';
import { intIn } from '../parse.js';
import { addOutputOptions, addProfileOptions, addTrackerOptions, tableLimits, uiFor, type TableFlags } from '../common-options.js';
import { runUnderHeapCeiling } from '../../session/heap-ceiling.js';

interface TapFlags extends TableFlags {
  iface: string;
  port?: number;
  profile?: string;
  set?: Record<string, string>;
  ui: boolean;
  segments?: boolean;
  json?: string;
  junit?: string;
  duration?: number;
  timeWait: number;
  finTimeout: number;
}

export function registerTap(program: Command): void {
  const cmd = program
    .command('tap')
    .description("watch one interface from the side (loopback too): log both ends' TCP states, forge RSTs by profile or by key")
    .requiredOption('--iface <iface>', 'the interface to watch, e.g. lo or eth0')
    .option('--port <n>', 'only connections with this port (BPF: tcp port N)', intIn(1, 65535));
  addProfileOptions(cmd, 'a profile with only pass and rst rules, tap mode cannot drop or delay (default: passthrough)');
  addOutputOptions(cmd, { pcap: false });
  addTrackerOptions(cmd);
  cmd
    .addHelpText(
      'after',
      '\nStates are inferred from what went by on the wire (causes say "observed"). Forged RSTs\n' +
        'carry the receiver\'s exact next sequence number, taken from the traffic seen (as tcpkill\n' +
        'does), and go out through a raw IP socket. Needs root. Example:\n' +
        '  sudo tcpmitm tap --iface lo --port 8080 --profile forge-rst --set to=server',
    )
    .action(async (f: TapFlags) => {
      // Under the session's heap ceiling: this command runs itself again, once, with those node flags.
      const rerun = await runUnderHeapCeiling(tableLimits(f).maxConnections);
      if (rerun !== undefined) {
        process.exitCode = rerun;
        return;
      }
      const { runTap } = await import('../../tap/session.js');
      process.exitCode = await runTap({
        iface: f.iface,
        port: f.port,
        profile: f.profile,
        set: f.set ?? {},
        ui: uiFor(f),
        segments: f.segments === true,
        json: f.json,
        junit: f.junit,
        durationS: f.duration,
        timeWaitS: f.timeWait,
        finTimeoutS: f.finTimeout,
        table: tableLimits(f),
      });
    });
}
