// `tcpmitm lab …`: run a lab (client ⇄ tcpmitm ⇄ server in three namespaces),
// keep one up for manual work, and manage leftovers. Implementations load lazily.

import { Command, Option } from 'commander';
import { collectSysctl, intIn, labId, numberIn } from '../parse.js';
import type { Sysctls } from '../../rules/schema.js';
import { addOutputOptions, addProfileOptions, addTrackerOptions, runChoices, type SharedRunFlags } from '../common-options.js';
import type { LabRunOptions } from '../../lab/run-options.js';

interface RunFlags extends SharedRunFlags {
  id?: string;
  ipv6?: boolean;
  server?: string;
  client?: string;
  port?: number;
  untilClosed?: boolean;
  serverGrace?: number;
  kernelProbe: LabRunOptions['kernelProbe'];
  sysctl?: Sysctls;
}

function addRunOptions(cmd: Command, withPeers: boolean): Command {
  cmd
    .option('--id <id>', 'lab id: namespaces are <id>-c, <id>-m, <id>-s (default: random)', labId)
    .option('--ipv6', 'also give the ends 2001:2::1/64 and 2001:2::2/64')
    .option(
      '--sysctl <[end:]name=value>',
      "set a sysctl in the end namespaces before anything starts (repeatable; net.* only; end: client, server or both, the default), over the profile's lab.sysctls, e.g. --sysctl client:net.ipv4.tcp_rfc1337=1",
      collectSysctl,
    );
  addProfileOptions(cmd, 'fault profile: a built-in name or a YAML/JSON file (default: passthrough)');
  if (withPeers) {
    cmd
      .option('--server <cmd>', "instead of the built-in server: a shell command, run as `sh -c '<cmd>'` by root (tcpmitm's own user) in the server namespace")
      .option('--client <cmd>', "instead of the built-in client: a shell command, run as `sh -c '<cmd>'` by root (tcpmitm's own user) in the client namespace");
  }
  if (withPeers) cmd.option('--port <n>', 'server port (waited for in LISTEN before the client starts)', intIn(1, 65535), 8080);
  addOutputOptions(cmd, { pcap: true, tcpOptions: true });
  if (withPeers) {
    cmd
      .option('--until-closed', 'end once the client exited, every connection is CLOSED or in TIME-WAIT on both ends, and the server had --server-grace to finish (the default without a UI or --duration)')
      .option('--server-grace <s>', 'at the end, how long a server still running may take to finish by itself before tcpmitm stops it (SIGTERM)', numberIn(0, 60), 1);
  }
  cmd.addOption(
      new Option('--kernel-probe <src>', "where the kernel's own states come from")
        .choices(['auto', 'trace', 'proc', 'off'])
        .default('auto'),
    );
  return addTrackerOptions(cmd);
}

function toRunOptions(f: RunFlags, peers: boolean): LabRunOptions {
  return {
    ...runChoices(f),
    id: f.id,
    ipv6: f.ipv6 === true,
    server: f.server,
    client: f.client,
    port: f.port ?? 8080,
    peers,
    untilClosed: f.untilClosed === true,
    serverGraceS: f.serverGrace ?? 1,
    kernelProbe: f.kernelProbe,
    ...(f.sysctl ? { sysctls: f.sysctl } : {}),
  };
}

async function runLab(opts: LabRunOptions): Promise<void> {
  const { runLab: run } = await import('../../lab/run.js');
  process.exitCode = await run(opts);
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .enablePositionalOptions()
    .description('run a lab: a client and a server in their own namespaces, tcpmitm inline between them')
    .addHelpText(
      'after',
      '\nWith no flags: a built-in server that closes 300 ms after EOF and a client that sends a\n' +
        'request, reads the answer and closes: a textbook four-way close. Needs root.\n' +
        '\nExit codes: 0 the verdict passed; 1 runtime failure; 2 usage or profile error, or a\n' +
        '--client/--server command that cannot start; 3 the verdict failed (an expectation not met,\n' +
        'or a program that did not exit as expected: 0 unless the profile says otherwise); 4 the verdict\n' +
        'passed but an output (--json, --pcap, --junit) is incomplete (disk full, I/O error); 130 Ctrl-C.',
    );
  addRunOptions(lab, true).action(async (flags: RunFlags) => runLab(toRunOptions(flags, true)));

  addRunOptions(
    lab
      .command('up')
      .description('keep a lab up in the foreground (no built-in peers) to work in it from other terminals'),
    false,
  ).action(async (flags: RunFlags) => runLab(toRunOptions(flags, false)));

  lab
    .command('down')
    .description('remove a lab and everything it made')
    .argument('[id]', 'the lab to remove', labId)
    .option('--stale', 'remove every lab whose owner process is gone')
    .addHelpText(
      'after',
      '\n--stale trusts only registry records named after their own lab id; any other file there is\n' +
        'reported and left alone.\n' +
        '\nExit codes: 0 removed (or nothing stale); 1 something could not be removed (said what; the\n' +
        "lab's record is kept, so it can be tried again); 2 not root, not a lab id, or no such lab.",
    )
    .action(async (id: string | undefined, flags: { stale: boolean }) => {
      const { labDownCommand } = await import('../../lab/manage.js');
      process.exitCode = await labDownCommand(id, flags.stale === true);
    });

  lab
    .command('list')
    .description('list labs on this machine, with their owner pid and whether it is alive')
    .option('--json', 'machine-readable output')
    .action(async (flags: { json?: boolean }) => {
      const { labListCommand } = await import('../../lab/manage.js');
      process.exitCode = await labListCommand(flags.json === true);
    });

  lab
    .command('exec')
    .description('run a command in one of a lab\'s namespaces: tcpmitm lab exec X client -- curl http://198.18.0.2:8080/')
    .argument('<id>', 'lab id', labId)
    .argument('<where>', 'client, server or middle')
    .argument('<cmd...>', 'the command and its arguments (after --)')
    .addHelpText(
      'after',
      '\nThe command runs directly (no shell: write `-- sh -c \'…\'` for one), as tcpmitm\'s own user —\n' +
        'root, which `ip netns exec` needs — with this terminal and environment.\n' +
        '\nExit codes: the command\'s own (128+N when signal N ended it); 2 when it cannot run there:\n' +
        'not root, no such lab or place, or no such command.',
    )
    .action(async (id: string, where: string, cmd: string[]) => {
      const { labExecCommand } = await import('../../lab/manage.js');
      process.exitCode = await labExecCommand(id, where, cmd);
    });
}
