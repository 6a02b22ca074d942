// The terminal UI's controller: the one place that holds the player and the change index. It
// feeds actions to the reducer (reducer.ts), carries out the effects it returns (seek, search
// slices, watch jumps, quit), keeps the player's cursor on the UI's position, and builds the
// screen (screen.ts) for the components. It also finishes a lazily opened player's scan in
// slices between frames, so a big trace shows its first frame at once.

import type { ChangeIndex } from '../replay/change-index.js';
import type { Player } from '../replay/player.js';
import { type Action, type Effect, reduce } from './reducer.js';
import { buildScreen, type Screen, ScreenCache } from './screen.js';
import { findChange, type SearchResult, searchCondition } from './search.js';
import { initialUiState, type UiState } from './ui-state.js';

export interface ControllerOptions {
  /** Milliseconds one search slice may take (default 40). */
  searchBudgetMs?: number;
  /** Runs `fn` soon, after pending input and rendering (default `setImmediate`). */
  schedule?: (fn: () => void) => void;
  /** Milliseconds one background scan slice runs (default 8; 0 disables the background scan). */
  scanSlice?: number;
  /**
   * A move this many events past the scanned part (default 4,096) does not replay there on the
   * spot: the screen shows the event list at once and the state once slices of the scan get
   * there, so a key never blocks for the whole first pass over a big trace.
   */
  catchUpAfter?: number;
  /** Clock for idle detection (default `performance.now`). */
  now?: () => number;
}

/** The background scan waits until no key came for this long (ms): it runs while the user reads. */
const SCAN_IDLE_MS = 150;

/**
 * A scan slice (background or catch-up) runs for about this long (ms), by steps of `SCAN_STEP`
 * events (≈ 1–3 ms each): a key pressed meanwhile waits for one slice at most.
 */
const SLICE_MS = 8;
const SCAN_STEP = 1024;
/** Catch-up progress is redrawn at most this often (ms). */
const PROGRESS_MS = 250;

export class Controller {
  ui: UiState;
  readonly player: Player;
  private index: ChangeIndex | undefined;
  private readonly cache = new ScreenCache();
  private readonly listeners = new Set<() => void>();
  private readonly quitListeners = new Set<() => void>();
  private searchToken = 0;
  private catchingUp = false;
  private lastKeyAt = Number.NEGATIVE_INFINITY;
  private disposed = false;
  private readonly schedule: (fn: () => void) => void;
  private readonly budgetMs: number;
  private readonly clock: () => number;

  constructor(
    player: Player,
    marks: readonly { name: string; position: number }[],
    private readonly options: ControllerOptions = {},
  ) {
    this.player = player;
    this.ui = initialUiState(player.length, marks);
    this.schedule = options.schedule ?? ((fn) => void setImmediate(fn));
    this.budgetMs = options.searchBudgetMs ?? 40;
    this.clock = options.now ?? (() => performance.now());
  }

  /** Calls `listener` after every change of the UI state; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onQuit(listener: () => void): () => void {
    this.quitListeners.add(listener);
    return () => this.quitListeners.delete(listener);
  }

  /** The screen at `width` × `height` for the current UI state. */
  screen(width: number, height: number): Screen {
    const pending =
      this.player.position === this.ui.position
        ? undefined
        : `replaying to #${this.ui.position}: first pass at #${this.player.checkpointInfo().scanned} of ${this.player.length}...`;
    return buildScreen(this.ui, this.player, this.cache, width, height, pending);
  }

  /** Feeds a key (named as keys.ts names them) with what the screen shows. */
  key(key: string, screen?: Pick<Screen, 'rowCount' | 'selectedPath'>): void {
    this.lastKeyAt = this.clock();
    this.dispatch({
      type: 'key',
      key,
      context: { rowCount: screen?.rowCount ?? 0, selectedPath: screen?.selectedPath },
    });
  }

  dispatch(action: Action): void {
    const { state, effects } = reduce(this.ui, action);
    this.ui = state;
    for (const effect of effects) this.run(effect);
    this.sync();
    this.notify();
  }

  /** Finishes the player's scan in the background, slice by slice. */
  startBackgroundScan(): void {
    const sliceMs = this.options.scanSlice ?? SLICE_MS;
    if (sliceMs <= 0) return;
    const step = () => {
      if (this.disposed) return;
      const idle = this.clock() - this.lastKeyAt;
      if (idle < SCAN_IDLE_MS) {
        setTimeout(step, SCAN_IDLE_MS - idle).unref();
        return;
      }
      if (this.scanFor(sliceMs, this.player.length) < this.player.length) this.schedule(step);
    };
    this.schedule(step);
  }

  /**
   * Runs once through what the first keys will run (a step with its patches and changes, a
   * short replay from the start, building a screen) so that the JIT has compiled them: the first
   * `l` or `L` then answers as fast as later ones. Costs a few tens of milliseconds of the
   * first frame's budget; leaves the player at position 0.
   */
  warmUp(width = 80, height = 24): void {
    if (this.player.length === 0) return;
    this.player.step(1);
    this.player.changes();
    this.player.stateAt(Math.min(this.player.length, 200));
    buildScreen(this.ui, this.player, new ScreenCache(), width, height);
    this.player.stepBack(1);
  }

  dispose(): void {
    this.disposed = true;
    this.searchToken++;
  }

  /** The change index over the player's trace, built lazily by the queries. */
  changeIndex(): ChangeIndex {
    this.index ??= this.player.changeIndex();
    return this.index;
  }

  private run(effect: Effect): void {
    switch (effect.type) {
      case 'seek':
        // sync() moves the player.
        return;
      case 'search':
        this.search(effect.direction, effect.from);
        return;
      case 'cancelSearch':
        this.searchToken++;
        return;
      case 'watchJump':
        this.sliced(
          (from) =>
            findChange(this.changeIndex(), effect.path, {
              direction: effect.direction,
              from,
              length: this.player.length,
              budgetMs: this.budgetMs,
            }),
          effect.from,
          (hit) => `${effect.path} changed at #${hit}`,
          `no ${effect.direction === 'forward' ? 'later' : 'earlier'} change of ${effect.path}`,
          `looking for changes of ${effect.path}`,
        );
        return;
      case 'quit':
        this.dispose();
        for (const listener of this.quitListeners) listener();
        return;
    }
  }

  /** Runs a condition search (search.ts) in slices. */
  private search(direction: 'forward' | 'backward', from: number): void {
    const condition = this.ui.search;
    if (!condition) return;
    this.sliced(
      (start) =>
        searchCondition(this.player, this.changeIndex(), condition, {
          direction,
          from: start,
          budgetMs: this.budgetMs,
        }),
      from,
      (hit) => `#${hit}: ${condition.source}`,
      `no position ${direction === 'forward' ? 'after' : 'before'} #${from} where ${condition.source} holds`,
      `searching ${direction}`,
    );
  }

  /**
   * Runs a sliced job now and, while unfinished, more slices later: the UI shows how far it got
   * and moves to the hit, or back to `from` when there is none. A key stops it (the reducer's
   * `searching` flag and `cancelSearch`).
   */
  private sliced(
    slice: (from: number) => SearchResult,
    from: number,
    hitMessage: (position: number) => string,
    noneMessage: string,
    progress: string,
  ): void {
    const token = ++this.searchToken;
    const run = (start: number): void => {
      if (token !== this.searchToken || this.disposed) return;
      const result = slice(start);
      if (result.kind === 'partial') {
        this.ui = { ...this.ui, position: result.at, message: `${progress}... #${result.at}` };
        this.schedule(() => {
          run(result.at);
          this.sync();
          this.notify();
        });
        return;
      }
      const hit = result.kind === 'hit';
      this.ui = {
        ...this.ui,
        searching: false,
        position: hit ? result.position : from,
        message: hit ? hitMessage(result.position) : noneMessage,
      };
    };
    run(from);
  }

  /** Continues the player's first pass towards `target` for about `ms`; returns how far it got. */
  private scanFor(ms: number, target: number): number {
    const start = this.clock();
    let scanned = this.player.checkpointInfo().scanned;
    while (scanned < target && this.clock() - start < ms) scanned = this.player.scanSome(SCAN_STEP);
    return scanned;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /**
   * Scans towards the UI's position in slices of about `SLICE_MS`, then moves the player there. Progress is redrawn now and then,
   * not after every slice: a frame costs more than a slice.
   */
  private catchUp(): void {
    if (this.catchingUp) return;
    this.catchingUp = true;
    let shown = this.clock();
    const slice = () => {
      if (this.disposed) return;
      const scanned = this.scanFor(SLICE_MS, this.ui.position);
      if (scanned < this.ui.position) {
        if (this.clock() - shown > PROGRESS_MS) {
          shown = this.clock();
          this.notify();
        }
        this.schedule(slice);
        return;
      }
      this.catchingUp = false;
      this.sync();
      this.notify();
    };
    this.schedule(slice);
  }

  /** Puts the player's cursor on the UI's position (or starts catching up with it). */
  private sync(): void {
    const target = this.ui.position;
    const d = target - this.player.position;
    if (d === 0) return;
    if (target - this.player.checkpointInfo().scanned > (this.options.catchUpAfter ?? 4096)) {
      this.catchUp();
      return;
    }
    // Short moves walk or compute patches, keeping the step-back window warm; longer ones seek
    // (replay in place from the nearest checkpoint: computing patches costs ≈ 50× more per event).
    if (d > 0 && d <= 64) this.player.step(d);
    else if (d < 0 && d >= -64) this.player.stepBack(-d);
    else this.player.seek(target);
  }
}
