// `tcpmitm attach --a IFACE --b IFACE …`: the inline engine over two existing
// interfaces of this namespace (no lab topology). The run loads lazily.

import type { Command } from 'commander';
import { addOutputOptions, addProfileOptions, addTrackerOptions, tableLimits, uiFor, type TableFlags } from '../common-options.js';
import { runUnderHeapCeiling } from '../../session/heap-ceiling.js';

interface AttachFlags extends TableFlags {
  a: string;
  b: string;
  profile?: string;
  set?: Record<string, string>;
  ui: boolean;
  segments?: boolean;
  json?: string;
  junit?: string;
  pcap?: string;
  duration?: number;
  fixOffloads?: boolean;
  force?: boolean;
  timeWait: number;
  finTimeout: number;
}

export function registerAttach(program: Command): void {
  const cmd = program
    .command('attach')
    .description('bridge two existing interfaces of this namespace, tcpmitm inline between them (same engine, UI, logs)')
    .requiredOption('--a <iface>', 'the client-side interface')
    .requiredOption('--b <iface>', 'the server-side interface');
  addProfileOptions(cmd, 'fault profile: a built-in name or a YAML/JSON file (default: passthrough)');
  addOutputOptions(cmd, { pcap: true });
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
    .action(async (f: AttachFlags) => {
      // Under the session's heap ceiling: this command runs itself again, once, with those node flags.
      const rerun = await runUnderHeapCeiling(tableLimits(f).maxConnections);
      if (rerun !== undefined) {
        process.exitCode = rerun;
        return;
      }
      const { runAttach } = await import('../../attach/session.js');
      process.exitCode = await runAttach({
        a: f.a,
        b: f.b,
        profile: f.profile,
        set: f.set ?? {},
        ui: uiFor(f),
        segments: f.segments === true,
        json: f.json,
        junit: f.junit,
        pcap: f.pcap,
        durationS: f.duration,
        fixOffloads: f.fixOffloads === true,
        force: f.force === true,
        timeWaitS: f.timeWait,
        finTimeoutS: f.finTimeout,
        table: tableLimits(f),
      });
    });
}
