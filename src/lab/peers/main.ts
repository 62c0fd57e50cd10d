// Standalone entry for the built-in peers: `node dist/lab/peers/main.js server|client …`
// with the same flags as `tcpmitm peer …`, without loading the CLI (faster
// start in the lab's namespaces, and usable from tests).

import { parseArgs } from 'node:util';
import { formatError, exitCodeOf } from '../../cli/errors.js';
import { UsageError } from '../../cli/errors.js';
import { runPeerProcess } from './cli.js';

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'on-eof': { type: 'string' },
  send: { type: 'string' },
  recv: { type: 'string' },
  keepalive: { type: 'string' },
  count: { type: 'string' },
  connect: { type: 'string' },
  then: { type: 'string' },
  'write-after-ms': { type: 'string' },
  'close-after': { type: 'string' },
  timeout: { type: 'string' },
} as const;

try {
  const [kind, ...rest] = process.argv.slice(2);
  if (kind !== 'server' && kind !== 'client') throw new UsageError(`expected 'server' or 'client', got '${kind ?? ''}'`);
  const { values } = parseArgs({ args: rest, options: OPTIONS, strict: true, allowPositionals: false });
  const v = values as Record<string, string | undefined>;
  await runPeerProcess(kind, {
    port: v.port,
    host: v.host,
    onEof: v['on-eof'],
    send: v.send,
    recv: v.recv,
    keepalive: v.keepalive,
    count: v.count,
    connect: v.connect,
    then: v.then,
    writeAfterMs: v['write-after-ms'],
    closeAfter: v['close-after'],
    timeout: v.timeout,
  });
} catch (err) {
  process.stderr.write(formatError(err) + '\n');
  process.exit(err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS') ? 2 : exitCodeOf(err));
}
