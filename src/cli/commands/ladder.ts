// `tcpmitm ladder RUN.jsonl -o close.svg|close.html|-`: draws a run recorded
// with --json as the terminal UI's ladder does, as a picture for reports. The
// generator (src/ladder) is pure; here the file is read and the result written.

import type { Command } from 'commander';
import { TcpmitmError, UsageError, ExitCode } from '../errors.js';

interface LadderFlags {
  output: string;
  conn?: string;
  format?: string;
}

export function registerLadder(program: Command): void {
  program
    .command('ladder')
    .description('draw a run recorded with --json as a ladder (sequence) diagram: SVG, or HTML around it (see docs/ladder.md)')
    .argument('<run.jsonl>', "the run's --json file ('-' reads stdin)")
    .requiredOption('-o, --output <file>', "where to write it: NAME.svg or NAME.html (the format from the extension); '-' writes SVG to stdout")
    .option('--conn <n>', "only connection N (the #N of the UI and the events' \"conn\"); default: every connection, one ladder each, stacked")
    .option('--format <svg|html>', 'the format, when the file name does not say it')
    .addHelpText(
      'after',
      '\nThe picture: both endpoints\' inferred states on their own sides (bold) and the kernel\'s (italic,\n' +
        '"kernel: STATE"), one arrow per segment with tcpdump-style flags and seq/ack/len, what tcpmitm did\n' +
        '(✕ dropped with its rule, ◷ delayed with its ms, ⚡ forged, ‖ held) and times in seconds since the\n' +
        'run start. Self-contained (no fonts, images or scripts from elsewhere), with a title and a legend.\n' +
        '\nExamples:\n' +
        '  tcpmitm lab --profile drop-last-ack --no-ui --json run.jsonl\n' +
        '  tcpmitm ladder run.jsonl -o close.svg\n' +
        '  tcpmitm ladder run.jsonl --conn 2 -o close.html\n' +
        '\nExit codes: 0 written, 2 the input is not a tcpmitm run, the connection does not exist, it has no\n' +
        'segments, or the output cannot be written.\n',
    )
    .action(async (file: string, flags: LadderFlags) => {
      const format = formatOf(flags.output, flags.format);
      const conn = connOf(flags.conn);
      const { readRunJsonl } = await import('../../io/run-jsonl.js');
      const { runRows } = await import('../../ladder/rows.js');
      const { pictureOfRows } = await import('../../ladder/picture.js');
      const run = readRunJsonl(file);
      if (run.cutShort !== undefined) process.stderr.write(`tcpmitm: ${file}:${run.cutShort}: the last line is cut short (the log ended mid-line); drawn without it\n`);
      const all = runRows(run.events);
      if (conn !== undefined && !all.connections.some((c) => c.conn === conn)) {
        const have = all.connections.map((c) => `#${c.conn}`).join(', ');
        throw new UsageError(`${file}: no connection #${conn} in this run`, have ? `its connections: ${have}` : 'the run has no connection');
      }
      const rows = conn === undefined ? all : runRows(run.events, conn);
      if (!rows.connections.some((c) => c.segments > 0)) {
        throw new TcpmitmError(
          'E_NO_SEGMENTS',
          `${file}: the run has no segments to draw${conn !== undefined ? ` on connection #${conn}` : ''}`,
          ExitCode.Usage,
          'was a connection made? tcpmitm draws the segments a run recorded with --json FILE',
        );
      }
      const text = pictureOfRows(rows, format);
      const { openOutput } = await import('../../io/output-file.js');
      const { writeSync, closeSync } = await import('node:fs');
      const out = openOutput(flags.output, '--output');
      try {
        const buf = Buffer.from(text, 'utf8');
        for (let off = 0; off < buf.length; ) off += writeSync(out.fd, buf, off);
      } finally {
        if (out.fd !== 1) closeSync(out.fd);
      }
    });
}

function formatOf(output: string, given: string | undefined): 'svg' | 'html' {
  if (given !== undefined) {
    if (given === 'svg' || given === 'html') return given;
    throw new UsageError(`--format '${given}': expected svg or html`);
  }
  if (output === '-') return 'svg';
  const m = /\.(svg|html?)$/i.exec(output);
  if (!m) throw new UsageError(`--output '${output}': the format comes from the extension, .svg or .html`, 'name it close.svg or close.html, or add --format svg|html');
  return m[1]!.toLowerCase() === 'svg' ? 'svg' : 'html';
}

function connOf(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(s)) throw new UsageError(`--conn '${s}': expected a connection number (1, 2, …)`);
  return Number(s);
}
