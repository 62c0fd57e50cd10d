// `tcpmitm tap --iface IFACE …`: watch one interface (loopback included)
// without being inline: log both endpoints' states, forge RSTs. Loads lazily.

import type { Command } from 'commander';
import { intIn, numberIn } from '../parse.js';
import { collectSetting } from '../parse.js';

interface TapFlags {
  iface: string;
  port?: number;
  profile: string;
  set: Record<string, string>;
  ui: boolean;
  segments?: boolean;
  json?: string;
  duration?: number;
  timeWait: number;
  finTimeout: number;
}

export function registerTap(program: Command): void {
  program
    .command('tap')
    .description('watch one interface from the side (loopback too): log both ends\' TCP states, forge RSTs by profile or by key')
    .requiredOption('--iface <iface>', 'the interface to watch, e.g. lo or eth0')
    .option('--port <n>', 'only connections with this port (BPF: tcp port N)', intIn(1, 65535))
    .option('--profile <name|file>', 'a profile with only pass and rst rules (tap mode cannot drop or delay)', 'passthrough')
    .option('--set <key=value>', 'set a profile parameter (repeatable), e.g. --set to=server', collectSetting, {})
    .option('--no-ui', 'text log instead of the terminal UI (the default when stdout is not a terminal)')
    .option('--segments', 'log one line per segment, like tcpdump', false)
    .option('--json <file|->', 'write every event as a JSON line (see docs/events.md)')
    .option('--duration <s>', 'end the run after this many seconds', numberIn(0.1, 86_400))
    .option('--time-wait <s>', 'TIME-WAIT length the tracker assumes (Linux: 60)', numberIn(0, 3600), 60)
    .option('--fin-timeout <s>', 'orphaned FIN-WAIT-2 timeout the tracker assumes (Linux tcp_fin_timeout: 60)', numberIn(0, 3600), 60)
    .addHelpText(
      'after',
      '\nStates are inferred from what went by on the wire (causes say "observed"). Forged RSTs\n' +
        'carry the receiver\'s exact next sequence number, taken from the traffic seen (as tcpkill\n' +
        'does), and go out through a raw IP socket. Needs root. Example:\n' +
        '  sudo tcpmitm tap --iface lo --port 8080 --profile forge-rst --set to=server',
    )
    .action(async (f: TapFlags) => {
      const { runTap } = await import('../../tap/session.js');
      process.exitCode = await runTap({
        iface: f.iface,
        port: f.port,
        profile: f.profile,
        set: f.set,
        ui: f.ui && process.stdout.isTTY === true,
        segments: f.segments === true,
        json: f.json,
        durationS: f.duration,
        timeWaitS: f.timeWait,
        finTimeoutS: f.finTimeout,
      });
    });
}
