// `tcpmitm peer server|client …`: the built-in peers a lab runs in its end
// namespaces (also usable by hand). Each prints one JSON line per socket event;
// the format is documented in src/lab/peers/format.ts.

import type { Command } from 'commander';

interface ServerFlags {
  port?: string;
  host?: string;
  onEof?: string;
  send?: string;
  keepalive?: string;
  count?: string;
  writeAfterMs?: string;
  closeAfter?: string;
  timeout?: string;
}

interface ClientFlags {
  connect?: string;
  send?: string;
  recv?: string;
  then?: string;
  count?: string;
  keepalive?: string;
  writeAfterMs?: string;
  timeout?: string;
}

export function registerPeer(program: Command): void {
  const peer = program
    .command('peer')
    .description('built-in test peers: print what their socket sees (EOF, ECONNRESET, EPIPE…) as JSON lines');

  peer
    .command('server')
    .description('accept connections, answer the first data with --send bytes, then act on EOF')
    .option('--port <n>', 'port to listen on', '8080')
    .option('--host <addr>', 'address to listen on (default: all, dual-stack)')
    .option('--on-eof <action>', 'after reading the FIN: close | shutdown | delay:MS | linger0 | never', 'close')
    .option('--send <bytes>', 'bytes to answer with', '0')
    .option('--keepalive <idle,intvl,cnt>', 'enable keepalive (seconds, seconds, probes; Node fixes intvl 1 s and 10 probes)')
    .option('--count <n>', 'connections to serve before exiting', '1')
    .option('--write-after-ms <ms>', 'write one byte this long after EOF (what does a write in CLOSE-WAIT meet?)')
    .option('--close-after <ms>', 'close each connection this long after accepting it, EOF or not (an active close by the server)')
    .option('--timeout <ms>', 'exit (code 124) after this long whatever happens', '60000')
    .action(async (f: ServerFlags) => {
      const { runPeerProcess } = await import('../../lab/peers/cli.js');
      await runPeerProcess('server', { ...f });
    });

  peer
    .command('client')
    .description('connect, send --send bytes, read --recv bytes, then act')
    .requiredOption('--connect <host:port>', 'server address, e.g. 198.18.0.2:8080 or [2001:2::2]:8080')
    .option('--send <bytes>', 'bytes to send after connecting', '0')
    .option('--recv <bytes>', 'bytes to read (or EOF) before --then', '0')
    .option('--then <action>', 'close | shutdown | linger0 | kill | wait:MS', 'close')
    .option('--count <n>', 'connections, one after another', '1')
    .option('--keepalive <idle,intvl,cnt>', 'enable keepalive (seconds, seconds, probes; Node fixes intvl 1 s and 10 probes)')
    .option('--write-after-ms <ms>', 'write one byte this long after --then')
    .option('--timeout <ms>', 'exit (code 124) after this long whatever happens', '60000')
    .action(async (f: ClientFlags) => {
      const { runPeerProcess } = await import('../../lab/peers/cli.js');
      await runPeerProcess('client', { ...f });
    });
}
