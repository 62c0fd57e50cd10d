// `tcpmitm attach --a IFACE --b IFACE …`: the inline engine over two existing
// interfaces of this namespace (no lab topology). The run loads lazily.

import type { Command } from 'commander';
import { collectSetting, numberIn } from '../parse.js';

interface AttachFlags {
  a: string;
  b: string;
  profile: string;
  set: Record<string, string>;
  ui: boolean;
  segments?: boolean;
  json?: string;
  pcap?: string;
  duration?: number;
  fixOffloads?: boolean;
  force?: boolean;
  timeWait: number;
  finTimeout: number;
}

/** `--set key=value`, repeatable, into one record. */
export function registerAttach(program: Command): void {
  program
    .command('attach')
    .description('bridge two existing interfaces of this namespace, tcpmitm inline between them (same engine, UI, logs)')
    .requiredOption('--a <iface>', 'the client-side interface')
    .requiredOption('--b <iface>', 'the server-side interface')
    .option('--profile <name|file>', 'fault profile: a built-in name or a YAML/JSON file', 'passthrough')
    .option('--set <key=value>', 'set a profile parameter (repeatable), e.g. --set times=3', collectSetting, {})
    .option('--no-ui', 'text log instead of the terminal UI (the default when stdout is not a terminal)')
    .option('--segments', 'log one line per segment, like tcpdump', false)
    .option('--json <file|->', 'write every event as a JSON line (see docs/events.md)')
    .option('--pcap <file>', 'write a pcapng of both sides, with a comment on every packet tcpmitm acted on')
    .option('--duration <s>', 'end the run after this many seconds', numberIn(0.1, 86_400))
    .option('--fix-offloads', 'turn off tx checksum, TSO, GSO and GRO on both interfaces (they break re-injection)', false)
    .option('--force', "allow an interface that carries this host's default route", false)
    .option('--time-wait <s>', 'TIME-WAIT length the tracker assumes (Linux: 60)', numberIn(0, 3600), 60)
    .option('--fin-timeout <s>', 'orphaned FIN-WAIT-2 timeout the tracker assumes (Linux tcp_fin_timeout: 60)', numberIn(0, 3600), 60)
    .addHelpText(
      'after',
      '\nThe interfaces must be up and carry no IP traffic of their own; nothing crosses\n' +
        'between them except what tcpmitm re-sends. Needs root. Example:\n' +
        '  sudo tcpmitm attach --a eth1 --b eth2 --profile drop-last-ack --pcap run.pcapng',
    )
    .action(async (f: AttachFlags) => {
      const { runAttach } = await import('../../attach/session.js');
      process.exitCode = await runAttach({
        a: f.a,
        b: f.b,
        profile: f.profile,
        set: f.set,
        ui: f.ui && process.stdout.isTTY === true,
        segments: f.segments === true,
        json: f.json,
        pcap: f.pcap,
        durationS: f.duration,
        fixOffloads: f.fixOffloads === true,
        force: f.force === true,
        timeWaitS: f.timeWait,
        finTimeoutS: f.finTimeout,
      });
    });
}
