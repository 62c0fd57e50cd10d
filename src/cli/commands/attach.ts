// `tcpmitm attach --a IFACE --b IFACE …`: the inline engine over two existing
// interfaces of this namespace (no lab topology). The run loads lazily.

import type { Command } from 'commander';
import { addOutputOptions, addProfileOptions, addTrackerOptions, runChoices, runSessionCommand, type SharedRunFlags } from '../common-options.js';

interface AttachFlags extends SharedRunFlags {
  a: string;
  b: string;
  fixOffloads?: boolean;
  force?: boolean;
}

export function registerAttach(program: Command): void {
  const cmd = program
    .command('attach')
    .description('bridge two existing interfaces of this namespace, tcpmitm inline between them (same engine, UI, logs)')
    .requiredOption('--a <iface>', 'the client-side interface')
    .requiredOption('--b <iface>', 'the server-side interface');
  addProfileOptions(cmd, 'fault profile: a built-in name or a YAML/JSON file (default: passthrough)');
  addOutputOptions(cmd, { pcap: true, tcpOptions: true });
  addTrackerOptions(cmd);
  cmd
    .option('--fix-offloads', 'turn off tx checksum, TSO, GSO and GRO on both interfaces (they break re-injection)')
    .option('--force', "allow an interface that carries a default route of this host (in any routing table an `ip rule` looks up)")
    .addHelpText(
      'after',
      '\nThe interfaces must be up and carry no IP traffic of their own; nothing crosses\n' +
        'between them except what tcpmitm re-sends. An interface that a default route goes\n' +
        'through, in any routing table an `ip rule` looks up, is refused (exit 2) unless --force.\n' +
        'The far ends must send wire-size frames with real checksums: frames that cannot cross\n' +
        '(larger than the MTU, checksums left to an offload) are counted in stats and explained\n' +
        'once, with the ethtool -K command for the far end. Untagged, 802.1Q and QinQ\n' +
        '(802.1ad + 802.1Q) frames are tracked alike. Needs root. Example:\n' +
        '  sudo tcpmitm attach --a eth1 --b eth2 --profile drop-last-ack --pcap run.pcapng',
    )
    .action((f: AttachFlags) =>
      runSessionCommand(f, async () => {
        const { runAttach } = await import('../../attach/session.js');
        return runAttach({
          ...runChoices(f),
          a: f.a,
          b: f.b,
          fixOffloads: f.fixOffloads === true,
          force: f.force === true,
        });
      }),
    );
}
