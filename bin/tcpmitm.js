#!/usr/bin/env node
// Thin launcher: everything lives in dist/ (built from src/ by `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('tcpmitm: not built yet — run `bash scripts/bootstrap.sh` (or `npm run build`) first.\n');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
