// Intercept mode's netfilter rules as text (pure): the chain of one run,
// named after its owner (pid and the process's start time, so a reused pid
// is not taken for the owner), the iptables arguments that fill it, hook it
// into OUTPUT, INPUT and FORWARD and take it away again, and the parsing of
// `iptables -S` that finds the chains of other runs and the port each one queues.
//
// Where segments are queued: in OUTPUT, every segment this host sends (to a
// local peer or a remote one); in INPUT, only those arriving from another
// host (`! -i lo`). On loopback a segment passes OUTPUT as it is sent, then
// PREROUTING and INPUT as it is received (net/ipv4/ip_output.c →
// loopback_xmit → ip_rcv): queued in INPUT on lo too, it would be seen
// twice. In FORWARD, the segments this host only routes (a container behind
// a bridge or veth, two namespaces it routes between): a routed segment
// passes PREROUTING, FORWARD and POSTROUTING, never INPUT or OUTPUT
// (ip_forward, after the TTL is decremented). So each segment of either
// direction is seen exactly once, whether the ends are on this host, one of
// them is, or neither.

/** Every chain of tcpmitm's starts so; nothing else is ever touched. */
export const CHAIN_PREFIX = 'tcpmitm-';
/** fwmark of tcpmitm's own raw socket ("tmit"): its forged segments pass the chain, not queued back to it. */
export const INJECT_MARK = 0x746d6974;
/** xtables chain names are at most 28 characters (XT_EXTENSION_MAXNAMELEN - 1 = 28). */
const CHAIN_RE = /^tcpmitm-([1-9][0-9]{0,9})-([0-9a-z]{1,10})$/;

/** Who owns a chain: a process, known by pid and start time (clock ticks since boot, /proc/<pid>/stat field 22). */
export interface ChainOwner {
  readonly pid: number;
  readonly start: number;
}

/** The chain of the run owned by `owner`: "tcpmitm-<pid>-<start in base 36>", within the 28 characters. */
export function chainName(owner: ChainOwner): string {
  return `${CHAIN_PREFIX}${owner.pid}-${owner.start.toString(36)}`;
}

/** The id of the run's kernel-probe trace instance (instances/tcpmitm-<id>, host-wide: unique by pid and start). */
export function traceId(owner: ChainOwner): string {
  return `i${owner.pid}_${owner.start.toString(36)}`;
}

/** The owner a trace instance's id records (traceId), or undefined for one that is not an intercept run's. */
export function parseTraceId(id: string): ChainOwner | undefined {
  const m = /^i([1-9][0-9]{0,9})_([0-9a-z]{1,10})$/.exec(id);
  return m ? parseChainName(`${CHAIN_PREFIX}${m[1]}-${m[2]}`) : undefined;
}

/** The owner a chain's name records, or undefined for a name that is not one of ours. */
export function parseChainName(name: string): ChainOwner | undefined {
  const m = CHAIN_RE.exec(name);
  if (!m) return undefined;
  const pid = Number(m[1]);
  const start = parseInt(m[2]!, 36);
  return Number.isSafeInteger(pid) && Number.isSafeInteger(start) ? { pid, start } : undefined;
}

export interface ChainSpec {
  readonly chain: string;
  readonly port: number;
  /** Only segments to and from this address (the server's); undefined: any address of the family. */
  readonly host?: string;
  /** The queues of the client's segments (to the port) and the server's (from it). */
  readonly queues: readonly [number, number];
}

/** The hooks the chain is jumped to from: every segment sent, those received from other hosts, those routed (see the top). */
const HOOKS: readonly (readonly string[])[] = [['OUTPUT'], ['INPUT', '!', '-i', 'lo'], ['FORWARD']];

/**
 * The iptables (or ip6tables) argument lists that make the chain and hook it
 * first into OUTPUT, INPUT and FORWARD, in order. `--queue-bypass`: with nobody reading the
 * queue (tcpmitm killed) the kernel lets the segment go on instead of
 * dropping it — fail-open. `-w`: wait for the xtables lock instead of failing.
 */
export function setupArgs(s: ChainSpec): string[][] {
  const to = s.host !== undefined ? ['-d', s.host] : [];
  const from = s.host !== undefined ? ['-s', s.host] : [];
  const queue = (n: number) => ['-j', 'NFQUEUE', '--queue-num', String(n), '--queue-bypass'];
  return [
    ['-w', '-N', s.chain],
    ['-w', '-A', s.chain, '-m', 'mark', '--mark', `0x${INJECT_MARK.toString(16)}`, '-j', 'RETURN'],
    ['-w', '-A', s.chain, '-p', 'tcp', ...to, '--dport', String(s.port), ...queue(s.queues[0])],
    ['-w', '-A', s.chain, '-p', 'tcp', ...from, '--sport', String(s.port), ...queue(s.queues[1])],
    ...HOOKS.map(([chain, ...match]) => ['-w', '-I', chain!, '1', ...match, '-j', s.chain]),
  ];
}

/** The argument lists that unhook, empty and delete the chain (each may fail if a step was never done: run them all). */
export function teardownArgs(chain: string): string[][] {
  return [
    ...HOOKS.map(([hook, ...match]) => ['-w', '-D', hook!, ...match, '-j', chain]),
    ['-w', '-F', chain],
    ['-w', '-X', chain],
  ];
}

/** A chain of tcpmitm's in `iptables -S` output, with the port its rules queue (undefined if it has none yet). */
export interface FoundChain {
  readonly chain: string;
  readonly owner: ChainOwner;
  readonly port?: number;
  /** Whether OUTPUT, INPUT or FORWARD jumps to it. */
  readonly hooked: boolean;
}

/** tcpmitm's chains in the text of `iptables -S` (all chains of the filter table). */
export function findChains(rulesText: string): FoundChain[] {
  const lines = rulesText.split('\n').map((l) => l.trim());
  const found: FoundChain[] = [];
  for (const line of lines) {
    const m = /^-N (\S+)$/.exec(line);
    if (!m) continue;
    const chain = m[1]!;
    const owner = parseChainName(chain);
    if (!owner) continue;
    let port: number | undefined;
    let hooked = false;
    for (const l of lines) {
      const words = l.split(/\s+/);
      if (words[0] === '-A' && words[1] === chain) {
        const i = words.indexOf('--dport');
        if (i >= 0 && port === undefined) port = Number(words[i + 1]);
      }
      if (words[0] === '-A' && (words[1] === 'OUTPUT' || words[1] === 'INPUT' || words[1] === 'FORWARD') && words.includes('-j') && words[words.indexOf('-j') + 1] === chain) hooked = true;
    }
    found.push({ chain, owner, ...(port !== undefined && Number.isInteger(port) ? { port } : {}), hooked });
  }
  return found;
}

/** The xtables backend an `iptables -V` line names: "iptables v1.8.9 (nf_tables)" or "(legacy)". */
export function backendOf(versionLine: string): 'nf_tables' | 'legacy' | undefined {
  if (/\(nf_tables\)/.test(versionLine)) return 'nf_tables';
  if (/\(legacy\)/.test(versionLine)) return 'legacy';
  return undefined;
}

/**
 * Whether the connection this session came in by (SSH_CONNECTION: "client
 * port server port") would be caught by a run on `port` (and `host`).
 */
export function catchesLogin(sshConnection: string | undefined, port: number, host: string | undefined): boolean {
  if (!sshConnection) return false;
  const f = sshConnection.trim().split(/\s+/);
  if (f.length < 4) return false;
  const [clientAddr, clientPort, serverAddr, serverPort] = f;
  if (Number(serverPort) === port && (host === undefined || host === serverAddr)) return true;
  return Number(clientPort) === port && (host === undefined || host === clientAddr);
}
