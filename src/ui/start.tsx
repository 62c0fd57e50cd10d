// Mounts the dashboard on the terminal with ink. The runtime calls this when
// stdout is a TTY (else it prints the text log): it feeds events through
// `subscribe`, executes `send`, and on `onQuit` tears down, then `unmount()`s.

import { render } from 'ink';
import type { ReactElement } from 'react';
import type { ControlCommand } from '../engine/control.js';
import App, { type AppProps } from './components/App.js';
import { FRAME_INTERVAL_MS } from './frame-scheduler.js';
import { colorWanted } from './theme.js';
import type { Subscribe } from './use-event-model.js';

/** The App's own props (doc comments there), less its test hooks, plus the terminal's streams. */
export interface StartUiOptions
  extends Pick<AppProps, 'send' | 'onQuit' | 'onWatch' | 'labId' | 'profileName' | 'profileNames' | 'color' | 'mode' | 'timers'> {
  /** Subscribe to the event stream (`t` in seconds, as everywhere); the UI calls the returned function on unmount. */
  readonly subscribe: Subscribe;
  /** Seconds since the run started, on the clock of the events' `t` (runtime.elapsed); the App counts in ms. */
  readonly elapsed?: () => number;
  /** Streams (default: the process's). */
  readonly stdout?: NodeJS.WriteStream;
  readonly stdin?: NodeJS.ReadStream;
  readonly stderr?: NodeJS.WriteStream;
  /** Route console.* of this process above the frame (default true; vitest's console cannot be patched). */
  readonly patchConsole?: boolean;
}

export interface UiHandle {
  /** Resolves once the UI is unmounted. */
  waitUntilExit(): Promise<void>;
  unmount(): void;
}

export function startUi(opts: StartUiOptions): UiHandle {
  // The components keep time in milliseconds; the event stream speaks seconds.
  const subscribe: Subscribe = (fn) => opts.subscribe((ev) => fn({ ...ev, t: ev.t * 1000 }));
  const elapsed = opts.elapsed;
  // A fresh element each time: rendering the same element again is a no-op for React.
  const tree = (): ReactElement => (
    <App
      subscribe={subscribe}
      send={opts.send}
      onQuit={opts.onQuit}
      profileNames={opts.profileNames}
      color={opts.color ?? colorWanted(process.env)}
      {...(opts.labId === undefined ? {} : { labId: opts.labId })}
      {...(opts.mode === undefined ? {} : { mode: opts.mode })}
      {...(opts.timers === undefined ? {} : { timers: opts.timers })}
      {...(opts.onWatch === undefined ? {} : { onWatch: opts.onWatch })}
      {...(opts.profileName === undefined ? {} : { profileName: opts.profileName })}
      {...(elapsed === undefined ? {} : { elapsed: () => elapsed() * 1000 })}
    />
  );
  const instance = render(
    tree(),
    {
      ...(opts.stdout ? { stdout: opts.stdout } : {}),
      ...(opts.stdin ? { stdin: opts.stdin } : {}),
      ...(opts.stderr ? { stderr: opts.stderr } : {}),
      // q / Ctrl-C go to onQuit so the caller can remove namespaces first.
      exitOnCtrlC: false,
      // ink's own frame limit matches ours: a second line of defence.
      maxFps: Math.round(1000 / FRAME_INTERVAL_MS),
      // console.* from our own process would tear the screen; ink prints it above the frame.
      patchConsole: opts.patchConsole ?? true,
    },
  );
  return {
    waitUntilExit: async () => {
      await instance.waitUntilExit();
    },
    unmount: () => {
      // The events of the teardown (the `end` event, the last stats) wait for
      // the next throttled frame, which an unmount would cancel: draw the
      // final state now, synchronously, so it is what stays on the terminal.
      instance.rerender(tree());
      instance.unmount();
    },
  };
}
