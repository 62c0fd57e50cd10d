// `tcpmitm tap --iface IFACE …`: watch one interface (loopback included)
// without being inline: log both endpoints' states, forge RSTs. Loads lazily.

import type { Command } from 'commander';
import { intIn } from '../parse.js';
import { addOutputOptions, addProfileOptions, addTrackerOptions, runChoices, runSessionCommand, type SharedRunFlags } from '../common-options.js';

interface TapFlags extends SharedRunFlags {
  iface: string;
  port?: number;
}

export function registerTap(program: Command): void {
  const cmd = program
    .command('tap')
    .description("watch one interface from the side (loopback too): log both ends' TCP states, forge RSTs by profile or by key")
    .requiredOption('--iface <iface>', 'the interface to watch, e.g. lo or eth0')
    .option('--port <n>', 'only connections with this port (BPF: tcp port N)', intIn(1, 65535));
  addProfileOptions(cmd, 'a profile with only pass and rst rules, tap mode cannot drop or delay (default: passthrough)');
  addOutputOptions(cmd, { pcap: 'a pcapng of what the capture saw, and of each RST tcpmitm forged as it sent it (its decision in the comment)', tcpOptions: true });
  addTrackerOptions(cmd);
  cmd
    .addHelpText(
      'after',
      '\nStates are inferred from what went by on the wire (causes say "observed"). Forged RSTs\n' +
        'carry the receiver\'s exact next sequence number, taken from the traffic seen (as tcpkill\n' +
        'does), and go out through a raw IP socket. Needs root. Example:\n' +
        '  sudo tcpmitm tap --iface lo --port 8080 --profile forge-rst --set to=server',
    )
    .action((f: TapFlags) =>
      runSessionCommand(f, async () => {
        const { runTap } = await import('../../tap/session.js');
        return runTap({
          ...runChoices(f),
          iface: f.iface,
          port: f.port,
        });
      }),
    );
}
