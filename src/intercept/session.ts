// One intercept run: tcpmitm inline on this host's own traffic to and from
// one TCP port, with nothing moved or re-pointed. Netfilter queues the port's
// segments to tcpmitm (a chain of the run's own in OUTPUT, fail-open), the
// engine's verdicts go back to the kernel, forged segments leave through a
// raw socket. The run is the inline modes' shared one (session/inline-run.ts);
// this file holds only what is intercept's: the checks, the queue, the rules.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { preflight } from '../session/preflight.js';
import { resolveProfile } from '../session/profile-choice.js';
import { refuseUnanswerable, wireOnlyAbilities } from '../session/verdict.js';
import type { RunChoices } from '../session/run-choices.js';
import { refuseUnsendableSignals } from '../session/cue-check.js';
import { runInline } from '../session/inline-run.js';
import { ExitCode, TcpmitmError } from '../cli/errors.js';
import { processStart } from '../lab/registry.js';
import { QueuePorts } from '../io/nfqueue-port.js';
import { openRawInjector, type IpInjector } from '../io/raw-injector.js';
import { catchesLogin, chainName, INJECT_MARK, traceId, type ChainSpec } from './rules.js';
import { removeDeadTraceInstances } from './leftovers.js';
import { startKernelView, type KernelView } from '../session/kernel-view.js';
import { LocalEnds } from './local-ends.js';
import { findXtables, installChain, ownerAlive, removeChain, removeDeadChains, scanChains, type Xtables } from './netfilter.js';

export interface InterceptOptions extends RunChoices {
  readonly port: number;
  /** Only traffic to and from this address of this host; undefined: every address (IPv4 and IPv6). */
  readonly host?: string;
  readonly force: boolean;
}

/** The first queue number tried; a run takes two (client's, server's), the next free pair. */
const FIRST_QUEUE = 7400;
const QUEUE_TRIES = 64;
/** Packets the kernel holds per queue for tcpmitm at most (delayed and held ones); past it they pass unseen (fail-open). */
const QUEUE_MAXLEN = 4096;


/** This namespace's addresses (the run is in the namespace --netns names by now), as the kernel probe compares them. */
function namespaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, '')));
}

/**
 * This namespace's net.ipv4.tcp_rfc1337 (per namespace; it governs IPv6
 * too): whether its kernel lets a RST end TIME-WAIT (0, the default) or
 * ignores it (1, tcp_timewait_state_process). The inference must judge a RST
 * in TIME-WAIT as the ends' kernel does: both, on loopback; for an end on
 * another host it is the best guess there is. Unreadable: Linux's default.
 */
function namespaceRfc1337(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_rfc1337', 'utf8').trim() !== '0';
  } catch {
    return false;
  }
}

/** The families a run covers: the server address's, or both. */
function familiesOf(host: string | undefined): (4 | 6)[] {
  if (host === undefined) return [4, 6];
  const family = isIP(host);
  if (family === 0) {
    throw new TcpmitmError('E_HOST', `--host ${host} is not an IP address`, ExitCode.Usage, 'give the server\'s address as numbers, e.g. --host 127.0.0.1 or --host ::1 (`ip -br addr` lists this host\'s)');
  }
  return family === 6 ? [6] : [4];
}

/** `tcpmitm intercept --cleanup`: removes the chains of dead runs; returns the exit code. */
export function runCleanup(): number {
  preflight({ namespaces: false, capture: false });
  findXtables();
  const said = [...removeDeadChains(), ...removeDeadTraceInstances()];
  const live = scanChains().filter((c) => ownerAlive(c.owner));
  for (const line of said) process.stdout.write(`${line}\n`);
  if (said.length === 0) process.stdout.write('no chain of a dead intercept run here\n');
  for (const c of live) process.stdout.write(`left alone: ${c.chain} (${c.cmd}${c.port !== undefined ? `, port ${c.port}` : ''}) of the running pid ${c.owner.pid}\n`);
  return said.some((l) => l.startsWith('could not')) ? ExitCode.Runtime : ExitCode.Ok;
}

export async function runIntercept(o: InterceptOptions): Promise<number> {
  // Everything that can be refused is checked before anything is opened.
  preflight({ namespaces: false, capture: 'packet-addon' });
  const xt: Xtables = findXtables();
  const families = familiesOf(o.host);
  if (!o.force && catchesLogin(process.env.SSH_CONNECTION, o.port, o.host)) {
    throw new TcpmitmError(
      'E_LOGIN_PORT',
      `port ${o.port} carries the SSH connection this session came in by (SSH_CONNECTION=${process.env.SSH_CONNECTION}): a fault there could cut you off`,
      ExitCode.Usage,
      'pick the port of the application you mean, or pass --force if you really mean it',
    );
  }
  const profile = await resolveProfile(o.profile ?? 'passthrough', o.set);
  // The kernel probe sees the sockets of the ends on this host (both, on loopback); an end elsewhere has none here.
  const localEnds = new LocalEnds(new Set([profile.expect?.client?.conn ?? 1, profile.expect?.server?.conn ?? 1]), namespaceAddresses());
  const abilities = { ...wireOnlyAbilities('intercept', '', o.profile !== undefined), kernel: true as const, kernelEnd: localEnds.answerable };
  refuseUnanswerable(profile, abilities);
  refuseUnsendableSignals(profile, abilities);

  // A dead run's chain goes first (its owner is gone: nothing reads its queues);
  // a live run on the same port is refused.
  const notes = [...removeDeadChains(), ...removeDeadTraceInstances()];
  const busy = scanChains().find((c) => c.port === o.port && ownerAlive(c.owner) && c.owner.pid !== process.pid);
  if (busy) {
    throw new TcpmitmError('E_PORT_BUSY', `port ${o.port} is intercepted already, by the run of pid ${busy.owner.pid} (chain ${busy.chain})`, ExitCode.Usage, 'end that run first (Ctrl-C in it, or kill its pid), or intercept another port');
  }
  const start = processStart(process.pid);
  if (start === undefined) throw new TcpmitmError('E_INTERNAL', 'cannot read this process\'s start time (/proc/self/stat)', ExitCode.Runtime);
  const owner = { pid: process.pid, start };
  const chain = chainName(owner);
  let kernelView: KernelView | undefined;

  const injector = openRawInjector({ mark: INJECT_MARK });
  let queue: ReturnType<typeof openFreeQueues>;
  try {
    queue = openFreeQueues(injector);
  } catch (err) {
    injector.close();
    throw err;
  }
  const spec: ChainSpec = { chain, port: o.port, ...(o.host !== undefined ? { host: o.host } : {}), queues: queue.queues };
  let installed: string[] = [];
  // The last resort for a way out that skips the finally (an uncaught error): the chain goes with the process.
  const onExit = (): void => void removeInstalled();
  const removeInstalled = (): string[] => {
    process.off('exit', onExit);
    const said = installed.filter((cmd) => !removeChain(cmd, chain)).map((cmd) => `could not remove chain ${chain} (${cmd}): tcpmitm intercept --cleanup will, once this process is gone`);
    installed = [];
    return said;
  };
  const where = o.host !== undefined ? `${o.host} port ${o.port}` : `port ${o.port}`;
  try {
    return await runInline({
      ...o,
      mode: 'intercept',
      title: `intercept ${where}`,
      profile,
      abilities,
      rfc1337: namespaceRfc1337(),
      openA: queue.ports.opener('a'),
      openB: queue.ports.opener('b'),
      devs: { a: `client side (queue ${queue.queues[0]})`, b: `server side (queue ${queue.queues[1]})` },
      notes,
      setup: async (runtime) => {
        runtime.bus.subscribe('local-ends', localEnds.onEvent, { passSegments: false });
        // The probe first: it must see the connections' first transitions.
        kernelView = await startKernelView({
          source: 'auto',
          labId: traceId(owner),
          pids: { client: process.pid, server: process.pid },
          ends: { by: 'server-port', port: o.port, localHosts: localEnds.hosts },
          bus: runtime.bus,
          runtime,
        });
        process.on('exit', onExit);
        installChain(xt, spec, families);
        installed = families.map((f) => (f === 4 ? xt.v4 : xt.v6));
        return [
          `kernel probe: ${kernelView.source === 'trace' ? 'the sock:inet_sock_set_state tracepoint' : '/proc/net/tcp polled'}, the ends on this host (this namespace's sockets on port ${o.port}; an end on another host, or on one this host routes for, has no kernel view here: its kernel checks are not checked)`,
          `netfilter: the xtables NFQUEUE target (${xt.version}; nftables' own queue expression is not used, some kernels lack it), chain ${chain} in OUTPUT, INPUT (from other hosts) and FORWARD (routed) for ${where} (${families.map((f) => `IPv${f}`).join(', ')}), queues ${queue.queues.join('/')}, fail-open (--queue-bypass)`,
        ];
      },
      // The ends are this namespace's own sockets.
      kernelPids: () => (kernelView === undefined ? undefined : { client: process.pid, server: process.pid }),
      teardown: async () => {
        const said = removeInstalled();
        // After the rules: what the kernel does on the way out is still seen.
        await kernelView?.stop();
        const held = queue.ports.held;
        if (held > 0) said.push(`let ${held} held packet${held === 1 ? '' : 's'} go on at the end (NF_ACCEPT), as if tcpmitm had not been there`);
        return said;
      },
    });
  } finally {
    removeInstalled();
    injector.close();
  }
}

/** Binds the first free pair of queue numbers from FIRST_QUEUE (another run, or another program, may hold some). */
function openFreeQueues(injector: IpInjector): { ports: QueuePorts; queues: [number, number] } {
  let last: unknown;
  for (let i = 0; i < QUEUE_TRIES; i++) {
    const queues: [number, number] = [FIRST_QUEUE + 2 * i, FIRST_QUEUE + 2 * i + 1];
    try {
      return { ports: new QueuePorts({ queues, maxLen: QUEUE_MAXLEN, injector }), queues };
    } catch (err) {
      last = err;
      if (!(err instanceof TcpmitmError && err.code === 'E_NFQUEUE_BUSY')) throw err;
    }
  }
  throw last;
}
