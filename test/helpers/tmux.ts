// Drives the real terminal UI for end-to-end tests: a private build of the CLI
// (so a concurrent rebuild of dist/ cannot pull the floor away mid-test), a
// tmux session of a given size running it, keys in, screen text out, and
// bounded waits on what the screen shows.

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO } from './lab.js';
import { tempDir } from './temp.js';

let cli: string | undefined;

/**
 * A tmux server of this test process's own: a server someone else started
 * would give our sessions its environment instead of the test's (see
 * test/setup-env.ts). It exits by itself with its last session, but leaves
 * its socket file behind: stopTmuxServer() removes both.
 */
const SOCKET_NAME = `tcpmitm-test-${process.pid}`;
const SOCKET = ['-L', SOCKET_NAME];
let serverUsed = false;

/** Ends this process's tmux server, if a test started one, and removes its socket (test/setup-env.ts, after each file). */
export function stopTmuxServer(): void {
  if (!serverUsed) return;
  serverUsed = false;
  spawnSync('tmux', [...SOCKET, 'kill-server'], { stdio: 'ignore' });
  // tmux's own default: $TMUX_TMPDIR or /tmp, then tmux-UID/NAME.
  rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, SOCKET_NAME), { force: true });
}

/**
 * Builds src/ with the project's tsconfig into a temp tree laid out like the
 * repo (bin/, dist/, and links to profiles/, exercises/, node_modules/, package.json),
 * once per test file; returns the path of its bin/tcpmitm.js.
 */
export function buildPrivateCli(): string {
  if (cli) return cli;
  const root = tempDir('tcpmitm-tui-');
  mkdirSync(join(root, 'bin'));
  copyFileSync(join(REPO, 'bin/tcpmitm.js'), join(root, 'bin/tcpmitm.js'));
  for (const link of ['profiles', 'exercises', 'node_modules', 'package.json']) symlinkSync(join(REPO, link), join(root, link));
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.json'), '--outDir', join(root, 'dist')], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error(`building the CLI failed: ${r.stdout}${r.stderr}`);
  cli = join(root, 'bin/tcpmitm.js');
  return cli;
}

/** Removes the private build (call in afterAll). */
export function removePrivateCli(): void {
  if (cli) rmSync(dirname(dirname(cli)), { recursive: true, force: true });
  cli = undefined;
}

export function hasTmux(): boolean {
  return spawnSync('tmux', ['-V']).status === 0;
}

/** One tmux session running one command; `kill()` is safe to call twice. */
export class TmuxScreen {
  private alive = true;

  private constructor(
    readonly name: string,
    /** File the command's exit code is written to when it ends. */
    private readonly rcFile: string,
  ) {}

  /**
   * Starts `argv` in a new detached session `name` of `cols`×`rows`. The
   * shell keeps the pane open after the command ends (so its last screen can
   * be read) and records the exit code.
   */
  static start(name: string, argv: readonly string[], size: { cols: number; rows: number }, env: Record<string, string> = {}): TmuxScreen {
    const rcFile = join(tempDir('tcpmitm-tmux-'), 'rc');
    const envs = Object.entries(env).map(([k, v]) => `${k}=${shq(v)}`);
    const cmd = `${envs.length ? `env ${envs.join(' ')} ` : ''}${argv.map(shq).join(' ')}; echo $? > ${shq(rcFile)}; sleep 600`;
    serverUsed = true;
    spawnSync('tmux', [...SOCKET, 'kill-session', '-t', name], { stdio: 'ignore' });
    execFileSync('tmux', [...SOCKET, 'new-session', '-d', '-s', name, '-x', String(size.cols), '-y', String(size.rows), cmd]);
    return new TmuxScreen(name, rcFile);
  }

  /**
   * The visible screen as text, one string per row: a whole frame. tmux
   * applies what the UI writes as it reads it, so one capture can fall in the
   * middle of a frame (a key bar seen as "[/" for "[/]"); two captures in a
   * row that agree are taken as a frame drawn whole (at most 4 tries).
   */
  capture(): string {
    const once = (): string => execFileSync('tmux', [...SOCKET, 'capture-pane', '-p', '-t', this.name], { encoding: 'utf8' });
    let screen = once();
    for (let i = 0; i < 3; i++) {
      const again = once();
      if (again === screen) break;
      screen = again;
    }
    return screen;
  }

  /** Keys as tmux names them ("q", "Up", "Space", "C-c"); each is one send-keys argument. */
  keys(...keys: string[]): void {
    execFileSync('tmux', [...SOCKET, 'send-keys', '-t', this.name, ...keys]);
  }

  /** Whether the pane's terminal echoes what is typed (its line discipline's ECHO flag, as `stty -a` prints it). */
  echoes(): boolean {
    const tty = execFileSync('tmux', [...SOCKET, 'display-message', '-p', '-t', this.name, '#{pane_tty}'], { encoding: 'utf8' }).trim();
    const out = execFileSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' });
    return !/(^|\s)-echo(\s|$)/.test(out);
  }

  /** The command's exit code once it has ended, else undefined. */
  exitCode(): number | undefined {
    if (!existsSync(this.rcFile)) return undefined;
    const text = readFileSync(this.rcFile, 'utf8').trim();
    return text === '' ? undefined : Number(text);
  }

  /** Polls the screen every 50 ms until `pred` holds; on timeout the error quotes the last screen. */
  async waitFor(what: string, pred: (screen: string) => boolean, ms = 20_000): Promise<string> {
    const end = Date.now() + ms;
    let screen = '';
    for (;;) {
      screen = this.capture();
      if (pred(screen)) return screen;
      if (Date.now() > end) throw new Error(`screen never showed ${what} within ${ms} ms; last screen:\n${screen}`);
      await sleep(50);
    }
  }

  /** Waits for the command to end; returns its exit code. */
  async waitExit(ms = 15_000): Promise<number> {
    const end = Date.now() + ms;
    for (;;) {
      const rc = this.exitCode();
      if (rc !== undefined) return rc;
      if (Date.now() > end) throw new Error(`the command did not end within ${ms} ms; last screen:\n${this.capture()}`);
      await sleep(50);
    }
  }

  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    spawnSync('tmux', [...SOCKET, 'kill-session', '-t', this.name], { stdio: 'ignore' });
    rmSync(dirname(this.rcFile), { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
