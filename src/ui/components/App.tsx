// The dashboard: header, connections table, the selected connection's ladder,
// the event pane and the help bar, fed only by the event stream; keys become
// ControlCommands through keys.ts and UI changes through ui-state.ts.

import { Box, useInput, useStdout } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { ControlCommand } from '../../engine/control.js';
import type { RunMode } from '../../engine/events.js';
import { timersLines, watchedSockets, type TimerSettings } from '../timers.js';
import type { WatchedSocket } from '../../io/kernel-timers.js';
import { interpretKey, type InkKey, type QuitHow } from '../keys.js';
import { screenLayout } from '../layout.js';
import { FRAME_INTERVAL_MS, realTimer, type UiTimer } from '../frame-scheduler.js';
import { applyUiActions, effectiveSelection, initialUiState, settleAwaiting, type UiState } from '../ui-state.js';
import { TICK_MS, useEventModel, type Subscribe } from '../use-event-model.js';
import { endFooter, endHeadline } from '../end-status.js';
import { connMatches, eventMatches } from '../filters.js';
import ConnectionsTable from './ConnectionsTable.js';
import EventPane from './EventPane.js';
import Header from './Header.js';
import HelpBar from './HelpBar.js';
import HelpOverlay from './HelpOverlay.js';
import Ladder from './Ladder.js';
import ProfilePicker from './ProfilePicker.js';

export interface AppProps {
  /** Subscribe to the engine's event stream; returns the unsubscribe function. */
  readonly subscribe: Subscribe;
  /** Hand a command to the engine (it treats it as an input, like a frame). */
  readonly send: (cmd: ControlCommand) => void;
  /** Called once on q (`quit`) or Ctrl-C (`interrupt`); the caller tears down and then unmounts the UI. */
  readonly onQuit: (how: QuitHow) => void;
  /** Lab id for the header (else the start event's); for the other modes, their title ("tap lo"). */
  readonly labId?: string;
  /** The run's mode (else the start event's): tap watches, so its keys are only those it can act on. */
  readonly mode?: RunMode;
  /** The inference's timer settings, for the selected connection's timers line (absent: TIME-WAIT's remaining time is not shown). */
  readonly timers?: TimerSettings;
  /** Told the sockets whose kernel timers the timers line would show, each time they change (the selected connection's, not CLOSED). */
  readonly onWatch?: (sockets: readonly WatchedSocket[]) => void;
  /** Profile in force at start (else the start event's). */
  readonly profileName?: string;
  /** Built-in profile names offered by `p`. */
  readonly profileNames: readonly string[];
  /**
   * Ms since the run started on the events' clock (the runtime's `elapsed()`,
   * the same clock as every event's `t`): drives the header clock and ages.
   * Default: wall time since the UI mounted, anchored to the newest event.
   */
  readonly elapsed?: () => number;
  /** Wall clock in ms, used only without `elapsed`; default Date.now. */
  readonly now?: () => number;
  /** Timer used to batch renders; tests pass a manual one. */
  readonly timer?: UiTimer;
  /** Minimum ms between frames; default 66 (≈15 frames/s). */
  readonly frameIntervalMs?: number;
  /** Terminal size override (default: the stdout's). */
  readonly columns?: number;
  readonly rows?: number;
  /** Colour on; startUi passes false when NO_COLOR is set. */
  readonly color?: boolean;
}

const dateNow = (): number => Date.now();

/** The clocks' tick (ms) while a timers line counts down. */
const COUNTDOWN_TICK_MS = 250;

export default function App(props: AppProps) {
  const now = props.now ?? dateNow;
  const timer = props.timer ?? realTimer;
  const events = useEventModel(props.subscribe, timer, props.frameIntervalMs ?? FRAME_INTERVAL_MS, now);
  const { model, nowT: anchoredT } = events;
  const elapsed = props.elapsed;
  const nowT = elapsed ? () => Math.max(model.lastT, elapsed()) : anchoredT;
  const { stdout } = useStdout();
  const width = Math.max(60, props.columns ?? stdout.columns ?? 80);
  const height = props.rows ?? stdout.rows ?? 24;
  const color = props.color ?? true;
  const mode = props.mode ?? model.mode;
  const inline = mode !== 'tap';

  // UI state lives in a ref so that keys arriving faster than React commits
  // (a paste, a test writing "750\r") each see the previous key's result.
  const ui = useRef<UiState>(initialUiState(props.profileName));
  const [, setVersion] = useState(0);

  // The table shows the connections the filter (/) lets through; the selection moves among them.
  const shownConns = (f: string) => (f === '' ? model.conns : model.conns.filter((r) => connMatches(r, f)));
  const conns = shownConns(ui.current.connFilter);
  const connIds = conns.map((r) => r.conn);
  const selectedId = effectiveSelection(ui.current, connIds);
  const row = selectedId === undefined ? undefined : model.conn(selectedId);
  const layout = screenLayout(height, connIds.length);

  useInput((input: string, key: InkKey) => {
    const s = ui.current;
    const ids = shownConns(s.connFilter).map((r) => r.conn);
    const sel = effectiveSelection(s, ids);
    const selRow = sel === undefined ? undefined : model.conn(sel);
    const profile = s.profile ?? model.profile;
    const res = interpretKey(input, key, {
      mode: s.mode,
      holdOn: s.holdOn,
      inline,
      absolute: s.absolute,
      options: s.options,
      optionsRead: model.sawOptions,
      finBuffer: s.finBuffer,
      connFilter: s.connFilter,
      filterBuffer: s.filterBuffer,
      eventKind: s.eventKind,
      paused: events.isPaused(),
      profiles: props.profileNames,
      profileCursor: s.profileCursor,
      ...(sel === undefined ? {} : { selectedConn: sel }),
      ...(selRow === undefined ? {} : { selectedStates: selRow.inferred }),
      ...(profile === undefined ? {} : { currentProfile: profile }),
    });
    if (res.commands.length === 0 && res.ui.length === 0) return;
    for (const cmd of res.commands) props.send(cmd);
    for (const a of res.ui) if (a.type === 'pause') events.setPaused(a.on);
    const next = applyUiActions(s, res.ui, {
      connIds: ids,
      ladderBase: selRow?.ladderBase ?? 0,
      ladderCount: selRow?.ladder.length ?? 0,
      ladderRows: screenLayout(height, ids.length).ladderRows,
      handCount: (k) => model.handCount(k),
      eventsBase: s.eventKind === 'all' ? model.eventsBase : 0,
      eventsCount: s.eventKind === 'all' ? model.events.length : model.events.filter((e) => eventMatches(e, s.eventKind)).length,
      eventRows: screenLayout(height, ids.length).eventRows,
    });
    ui.current = next;
    setVersion((v) => v + 1);
  });

  // onQuit runs only once the "quitting…" frame is on the screen: the caller
  // starts tearing down (and soon unmounts) at once, and a quit handed over
  // from the key handler itself raced React's commit, leaving the last
  // dashboard frame on the terminal with no sign that q was taken.
  const quitSent = useRef(false);
  const quitting = ui.current.quitting;
  const onQuit = props.onQuit;
  useEffect(() => {
    if (quitting && !quitSent.current) {
      quitSent.current = true;
      onQuit(ui.current.interrupted ? 'interrupt' : 'quit');
    }
  }, [quitting, onQuit]);

  // A timers line counts down in tenths: drawn four times a second while it shows (a frame a second would lag ss by up to 1 s).
  events.setTick(row !== undefined && timersLines(row, nowT(), props.timers, width).length > 0 ? COUNTDOWN_TICK_MS : TICK_MS);

  // The kernel timers reader follows the selected connection's sockets (it reads nothing else).
  const onWatch = props.onWatch;
  const watch = row === undefined ? [] : watchedSockets(row);
  const watchKey = watch.map((w) => `${w.conn}|${w.endpoint}`).join(',');
  const watchSent = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (onWatch === undefined || watchSent.current === watchKey) return;
    watchSent.current = watchKey;
    onWatch(watch);
  });

  // "dropping the next segment…" stays only until the engine has dropped it.
  ui.current = settleAwaiting(ui.current, (k) => model.handCount(k));
  const s = ui.current;
  // The end of the run outranks "quitting…": it is what the last frame says,
  // and the screen stays until q (the caller holds the run's end for it).
  const status = model.ended ? endHeadline(model) : s.quitting ? 'quitting…' : undefined;
  const lower = layout.ladderRows + 2 + layout.eventRows + 1;
  // One time base on the whole screen: the run's start (its `start` event,
  // sent once the first frame is up); 0 until it comes.
  const origin = model.startT;
  const runMs = origin === undefined ? 0 : (model.ended ? model.ended.t : nowT()) - origin;
  return (
    <Box flexDirection="column" width={width}>
      <Header
        lab={props.labId ?? model.lab}
        mode={mode}
        profile={s.profile ?? model.profile}
        elapsedMs={runMs}
        framesPerSec={model.framesPerSec}
        bytesPerSec={model.bytesPerSec}
        frames={model.frames}
        counters={model.counters}
        table={model.table}
        heldNow={model.heldNow}
        holdOn={s.holdOn}
        paused={events.isPaused() ? events.waiting() : undefined}
        expectOk={model.expectationsOk}
        expectFailed={model.expectationsFailed}
        status={status}
        color={color}
      />
      <ConnectionsTable filter={s.connFilter} total={model.conns.length} conns={conns} selected={selectedId} height={layout.tableRows} width={width} nowT={nowT()} color={color} />
      {s.mode === 'help' ? (
        <HelpOverlay height={lower} width={width} inline={inline} />
      ) : s.mode === 'profile' ? (
        <ProfilePicker profiles={props.profileNames} cursor={s.profileCursor} current={s.profile ?? model.profile} height={lower} width={width} />
      ) : (
        <>
          <Ladder row={row} height={layout.ladderRows} width={width} top={s.ladderTop} color={color} originT={origin ?? 0} absolute={s.absolute} options={s.options} nowT={nowT()} timers={props.timers} />
          <EventPane kind={s.eventKind} events={s.eventKind === 'all' ? model.events : model.events.filter((e) => eventMatches(e, s.eventKind))} base={s.eventKind === 'all' ? model.eventsBase : 0} top={s.eventsTop} height={layout.eventRows} width={width} originT={origin ?? 0} color={color} />
        </>
      )}
      <HelpBar inline={inline} width={width} filterBuffer={s.filterBuffer} mode={s.mode} finBuffer={s.finBuffer} message={model.ended && !s.quitting ? endFooter(model) : s.message} color={color} />
    </Box>
  );
}

