// `tcpmitm intercept --port P …`: inline on this host's own traffic to and
// from one TCP port, through netfilter's queue; `--cleanup` removes what dead
// runs left. The run loads lazily.

import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { intIn } from '../parse.js';
import { addOutputOptions, addProfileOptions, addTrackerOptions, runChoices, runSessionCommand, type SharedRunFlags } from '../common-options.js';
import { systemProbes } from '../../session/preflight.js';
import { ExitCode, TcpmitmError, UsageError } from '../errors.js';

interface InterceptFlags extends SharedRunFlags {
  port?: number;
  host?: string;
  netns?: string;
  pid?: number;
  cleanup?: boolean;
  force?: boolean;
}

/** The command the run goes through to be in the namespace --netns names (nsenter keeps the pid: no fork for a network namespace). */
function netnsVia(path: string | undefined): string[] {
  if (path === undefined) return [];
  if (!existsSync(path)) throw new UsageError(`--netns ${path}: no such file`, 'a namespace file, e.g. /run/netns/NAME (ip netns add NAME) or /proc/PID/ns/net');
  if (!systemProbes.hasCommand('nsenter')) {
    throw new TcpmitmError('E_MISSING_DEP', '--netns needs nsenter, which is not installed', ExitCode.Usage, 'install it: sudo apt-get update && sudo apt-get install -y util-linux');
  }
  return ['nsenter', `--net=${path}`, '--'];
}

/**
 * The namespace file --netns or --pid names: a container's network
 * namespace is its processes' (`docker inspect -f '{{.State.Pid}}' NAME`).
 */
function namespaceFile(f: InterceptFlags): string | undefined {
  if (f.pid === undefined) return f.netns;
  if (f.netns !== undefined) throw new UsageError('--pid and --netns both name a namespace: give one of them');
  const path = `/proc/${f.pid}/ns/net`;
  if (!existsSync(path)) throw new UsageError(`--pid ${f.pid}: no such process`, "a process in the namespace you mean, e.g. a container's: docker inspect -f '{{.State.Pid}}' NAME");
  return path;
}

export function registerIntercept(program: Command): void {
  const cmd = program
    .command('intercept')
    .description("inline on this host's own traffic to and from one TCP port (netfilter queue): same engine, profiles, logs")
    .option('--port <n>', 'the TCP port whose connections go through tcpmitm (the server\'s port)', intIn(1, 65535))
    .option('--host <addr>', "only connections to and from this address of this host (default: every address, IPv4 and IPv6)")
    .option('--netns <path>', 'run inside that network namespace (/run/netns/NAME, /proc/PID/ns/net)')
    .option('--pid <pid>', "run inside the network namespace of that process (a container's: docker inspect -f '{{.State.Pid}}' NAME)", intIn(1, 4_194_304))
    .option('--cleanup', 'remove the netfilter chains of intercept runs that died (their owner pid is gone), then exit');
  addProfileOptions(cmd, 'fault profile: a built-in name or a YAML/JSON file (default: passthrough)');
  addOutputOptions(cmd, { pcap: true, tcpOptions: true });
  addTrackerOptions(cmd);
  cmd
    .option('--force', 'allow a port that carries the SSH connection this session came in by')
    .addHelpText(
      'after',
      '\nNothing is moved or re-pointed: netfilter queues every segment to and from the port to\n' +
        'tcpmitm (the xtables NFQUEUE target, in a chain of the run\'s own, tcpmitm-<pid>-…,\n' +
        'hooked into OUTPUT, into INPUT for segments from other hosts and into FORWARD for those\n' +
        'this host only routes: each segment is seen once). A pass is the kernel\'s NF_ACCEPT, a drop NF_DROP, a delay or hold a verdict\n' +
        'given later; forged RSTs leave through a raw socket. Fail-open: if tcpmitm dies, the\n' +
        'queue is bypassed and the traffic flows as if it had never been there; the chain is\n' +
        'removed on every exit, and a dead run\'s by --cleanup or by the next start. The other\n' +
        'end may be on this host (loopback) or elsewhere; the kernel probe shows the real\n' +
        'states of the ends on this host beside the inference. Needs root and iptables.\n' +
        'Examples:\n' +
        '  sudo tcpmitm intercept --port 6379 --profile drop-last-ack\n' +
        '  sudo tcpmitm intercept --port 8080 --host 127.0.0.1 --profile forge-rst --no-ui --json run.jsonl\n' +
        '  sudo tcpmitm intercept --netns /run/netns/app --port 5432 --pcap run.pcapng\n' +
        "  sudo tcpmitm intercept --pid \"$(docker inspect -f '{{.State.Pid}}' web)\" --port 80\n" +
        '  sudo tcpmitm intercept --cleanup',
    )
    .action(async (f: InterceptFlags) => {
      if (f.cleanup !== true && f.port === undefined) throw new UsageError('intercept needs --port <n> (or --cleanup)', 'e.g. sudo tcpmitm intercept --port 8080');
      // In --netns too: the run again goes through nsenter.
      await runSessionCommand(
        f,
        async () => {
          const { runIntercept, runCleanup } = await import('../../intercept/session.js');
          if (f.cleanup === true) return runCleanup();
          return runIntercept({ ...runChoices(f), port: f.port!, host: f.host, force: f.force === true });
        },
        netnsVia(namespaceFile(f)),
      );
    });
}
