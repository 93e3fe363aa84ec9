/**
 * One stream, whole: its source, its ticker (or the source's own schedule),
 * and the lanes its records go down (its own and one per extra output), each
 * queue → window file → sinks → compression (output-lane.ts). A record's
 * journey: onTick → fetch or cycle → lane.push → the lane writes it.
 *
 * The unit stops in the steps of DESIGN 2.6 so the recorder can run each
 * step over all units at once: stopTicking, settle (in-flight fetches), then
 * closeLanes.
 */
import type { Clock } from '../clock/clock.js';
import { Ticker } from '../clock/ticker.js';
import type { StreamConfig } from '../config/stream-config.js';
import { FetchError, type EmitRecord, type NoteEvent, type Source, type SourceRecord } from '../sources/source.js';
import { OutputLane, type LaneClose, type LaneContext } from './output-lane.js';

/** An eager first fetch is made only if it has at least this long (or its timeout) before the first grid tick. */
const EAGER_MIN_MS = 2000;
/**
 * Streams this frequent fetch at once even when the first grid tick is near
 * (eagerTick): waiting for it cost up to half an interval before the first
 * record, against the original recorder's fetch at once. Longer intervals are
 * inventories, slow to fetch, for which a second fetch so soon is a waste.
 */
const EAGER_NEAR_MAX_INTERVAL_MS = 10_000;
/** A grid tick nearer than this is the first fetch: two fetches so close in time would record the same state. */
const EAGER_NEAR_MIN_MS = 50;

export interface UnitContext extends LaneContext {
  clock: Clock;
  /** Aborted when the shutdown's grace period is over: every fetch listens to it. */
  abort: AbortSignal;
}

export class StreamUnit {
  readonly lane: OutputLane;
  /** The extra streams this unit's source writes (a joined view), by name. */
  readonly outputs = new Map<string, OutputLane>();
  private ticker: Ticker | undefined;
  /** Stops a source that runs on its own (probes, the archiver). */
  private readonly stopRun = new AbortController();
  private inFlight: Promise<void> | undefined;
  /** An eager fetch made near the first grid tick: that tick waits for it instead of being missed (onTick). */
  private tickWaitsFor: Promise<void> | undefined;
  private stopped = false;
  paused = false;

  constructor(
    readonly config: StreamConfig,
    readonly source: Source,
    private readonly ctx: UnitContext,
  ) {
    const { windowMs } = config.timing;
    this.lane = new OutputLane(config.name, windowMs, source.shape, ctx);
    for (const out of source.outputs ?? []) this.outputs.set(out.name, new OutputLane(out.name, windowMs, out.shape, ctx));
  }

  get name(): string {
    return this.config.name;
  }

  get stats() {
    return this.lane.stats;
  }

  /** Its own lane first, then its extra outputs. */
  get lanes(): OutputLane[] {
    return [this.lane, ...this.outputs.values()];
  }

  /** Lanes write from now on; the source starts at `activate`. */
  startLanes(): void {
    for (const l of this.lanes) l.start();
  }

  /**
   * Opens what the source serves (source.open). At the start a failure is the
   * start's; on a reload it is an event and the stream records without it.
   */
  async open(atStart: boolean): Promise<void> {
    if (!this.source.open) return;
    try {
      await this.source.open();
    } catch (err) {
      if (atStart) throw err;
      const message = (err as Error).message;
      this.ctx.note('source_open_failed', { stream: this.name, message }, 'error', `${this.name}: ${message}; the stream records, without it`);
    }
  }

  /** Starts the source: on its ticker, or running on its own; an inventory fetches at once too. */
  activate(): void {
    if (this.source.run) return this.startRunning();
    const interval = this.source.timing.intervalMs;
    const { clock } = this.ctx;
    this.ticker = new Ticker(interval, clock, {
      onTick: (tick, at) => this.onTick(tick, at),
      onMissed: (first, count) => this.missed(first, first * interval, 'late', `the recorder was stalled past ${count === 1 ? 'this tick' : `${count} ticks`}`, undefined, count),
      onClockStep: (deltaMs) => this.ctx.note('clock_backwards', { stream: this.name, step_ms: deltaMs, interval_ms: interval }, 'warn', `the wall clock went back ${deltaMs} ms: ticks follow the new time`),
    });
    const now = clock.now();
    const eager = this.source.eager ? this.eagerTick(now) : undefined;
    this.ticker.start();
    if (!eager) return;
    this.onTick(eager.tick, now, eager.deadline);
    if (eager.tickWaits) this.tickWaitsFor = this.inFlight;
  }

  /**
   * An eager source (an inventory, slow to change; the NDTwin kernel, as the
   * original recorder did) fetches at once instead of first at the next grid
   * point, which is up to an interval away. The fetch must end by the next grid
   * tick (no overlap), so it is made only if that leaves it its timeout,
   * EAGER_MIN_MS or half an interval, whichever is least; otherwise the grid
   * tick is near enough. (Firing that tick early instead made the gap to the
   * tick after it up to 1.5 intervals, which `nsr stats` counts as a missed tick.)
   * A frequent stream fetches at once all the same, as its own tick (the
   * current grid slot), with its timeout; should it still run at the first
   * grid tick, that tick is fetched when it ends, late, not missed.
   */
  private eagerTick(now: number): { tick: number; deadline: number; tickWaits?: boolean } | undefined {
    const { intervalMs, timeoutMs } = this.source.timing;
    const slot = Math.floor(now / intervalMs);
    const nextTick = (slot + 1) * intervalMs;
    if (nextTick - now >= Math.min(timeoutMs, EAGER_MIN_MS, intervalMs / 2)) return { tick: slot, deadline: nextTick };
    if (intervalMs > EAGER_NEAR_MAX_INTERVAL_MS || nextTick - now < EAGER_NEAR_MIN_MS) return undefined;
    return { tick: slot, deadline: now + Math.min(timeoutMs, intervalMs), tickWaits: true };
  }

  /** Where a source's record goes: its own lane, or the extra output it names. */
  private laneFor(record: SourceRecord): OutputLane {
    const lane = record.output === undefined ? this.lane : this.outputs.get(record.output);
    if (!lane) throw new Error(`${this.name}: the source wrote to ${record.output}, which it did not declare`);
    return lane;
  }

  /** A source that schedules itself: runs until stopped; its records go to their lanes as they come. */
  private startRunning(): void {
    const { clock } = this.ctx;
    const emit: EmitRecord = (record) => {
      const scheduledAt = record.scheduledAt ?? clock.now();
      const lane = this.laneFor(record);
      this.stats.fetches++;
      this.stats.noteLateness(clock.now() - scheduledAt);
      lane.push(Math.floor(scheduledAt / this.source.timing.intervalMs), scheduledAt, record.body, record.onWritten, record.timestamp);
    };
    const note: NoteEvent = (event, fields, level = 'info', message) => this.ctx.note(event, { stream: this.name, ...fields }, level, message && `${this.name}: ${message}`);
    this.inFlight = this.source
      .run!({ stop: this.stopRun.signal, abort: this.ctx.abort, room: () => this.lane.queue.hasRoom() }, emit, note)
      .catch((err) => this.ctx.note('source_failed', { stream: this.name, message: (err as Error).message }, 'error', `${this.name}: the source stopped: ${(err as Error).message}`))
      .finally(() => (this.inFlight = undefined));
  }

  private onTick(tick: number, scheduledAt: number, deadline = scheduledAt + this.source.timing.intervalMs): void {
    if (this.stopped) return;
    if (this.paused) return this.missed(tick, scheduledAt, 'paused', 'the stream is paused (nsr control)');
    if (this.inFlight && this.inFlight === this.tickWaitsFor) {
      this.tickWaitsFor = undefined;
      // Stopped meanwhile: this tick came and was not fetched, which is a gap the events must tell.
      const after = () => (this.stopped ? this.missed(tick, scheduledAt, 'overlap', "the start's fetch still ran at this tick, and the recorder stopped before it ended") : this.onTick(tick, scheduledAt, deadline));
      void this.inFlight.then(after);
      return;
    }
    this.tickWaitsFor = undefined;
    if (this.inFlight) return this.missed(tick, scheduledAt, 'overlap', 'the previous fetch of this stream was still running');
    for (const l of this.lanes) {
      if (!l.queue.hasRoom()) {
        const why = this.ctx.disk?.low ? ': the disk is below output.min_free (see disk_low)' : '';
        return this.missed(tick, scheduledAt, 'queue_full', `the queue of ${l.name} holds ${l.queue.depth} records (${l.queue.stats().bytes} bytes) not yet written${why}`);
      }
    }
    this.inFlight = this.fetch(tick, scheduledAt, deadline).finally(() => (this.inFlight = undefined));
  }

  private async fetch(tick: number, scheduledAt: number, deadline: number): Promise<void> {
    const { clock } = this.ctx;
    const started = performance.now();
    this.stats.noteLateness(clock.now() - scheduledAt);
    this.stats.fetches++;
    try {
      if (this.source.cycle) await this.cycle(tick, scheduledAt, deadline);
      else this.lane.push(tick, scheduledAt, await this.source.fetch!(this.ctx.abort, deadline));
      this.stats.noteFetchDuration(performance.now() - started);
      const { stats } = this;
      if (stats.failingTicks > 0) {
        const level = stats.warnedInStreak ? 'info' : 'debug';
        this.ctx.note('stream_recovered', { stream: this.name, tick, missed_ticks: stats.failingTicks }, level, `${this.name}: recording again after ${stats.failingTicks} missed ticks`);
        stats.failingTicks = 0;
        stats.warnedInStreak = false;
      }
    } catch (err) {
      const e = err instanceof FetchError ? err : new FetchError('fetch_error', String(err));
      this.stats.noteFetchDuration(performance.now() - started);
      this.stats.noteFailure(e.reason);
      this.missed(tick, scheduledAt, e.reason, e.message, e.attempts);
    }
  }

  /**
   * One cycle of a many-item source (devices): each item that failed is an
   * `item_failed` event, the cycle a `cycle` event; a cycle that recorded
   * nothing at all is a missed tick (thrown back to fetch()).
   */
  private async cycle(tick: number, scheduledAt: number, deadline: number): Promise<void> {
    const started = performance.now();
    const { note, clock } = this.ctx;
    const report = await this.source.cycle!(this.ctx.abort, deadline, (record) => this.laneFor(record).push(tick, scheduledAt, record.body, record.onWritten));
    for (const f of report.failures) {
      const { item, reason, message, ...detail } = f;
      note('item_failed', { stream: this.name, tick, item, reason, message, ...detail }, 'debug', `${this.name}: ${item}: ${reason}: ${message}`);
    }
    const failed = report.failures.length;
    const summary = { stream: this.name, tick, scheduled_at: scheduledAt, items: report.items, records: report.records, failed, ms: Math.round(performance.now() - started), ...report.counters };
    const level = failed && this.stats.shouldWarn('item_failed', clock.now()) ? 'warn' : 'debug';
    note('cycle', summary, level, `${this.name}: cycle of ${report.items} items, ${failed} failed (see item_failed events)`);
    if (report.records > 0) return;
    const first = report.failures[0];
    if (!first) throw new FetchError('no_items', 'the cycle had nothing to poll (an empty device list: check the filter)');
    throw new FetchError(first.reason, `no item answered (${failed} failed; first: ${first.item}: ${first.message})`);
  }

  /** A tick (or a run of `count` ticks) that recorded nothing: always an event, logged when its reason is news. */
  missed(tick: number, scheduledAt: number, reason: string, message: string, attempts?: number, count = 1): void {
    const { stats } = this;
    stats.noteMissed(reason, count);
    stats.failingTicks += count;
    // Log a failure when its reason changes, and at most once a minute otherwise, so
    // a flapping upstream cannot flood the log; every missed tick still goes to the events stream.
    const level = stats.shouldWarn(reason, this.ctx.clock.now()) ? 'warn' : 'debug';
    // A run of ticks missed together (a stalled process) is one event with its count, not one per tick.
    const run = count > 1 ? { count, last_tick: tick + count - 1 } : {};
    this.ctx.note('missed_tick', { stream: this.name, tick, scheduled_at: scheduledAt, reason, message, attempts, ...run }, level, `${this.name}: ${count > 1 ? `${count} ticks` : 'tick'} missed (${reason}): ${message}`);
  }

  /** Pauses or resumes; true when that changed anything. */
  setPaused(paused: boolean): boolean {
    if (this.paused === paused) return false;
    this.paused = paused;
    return true;
  }

  // ---- stopping, in the steps of DESIGN 2.6

  /** 1. No new ticks; a source running on its own starts nothing new. */
  stopTicking(): void {
    this.stopped = true;
    this.ticker?.stop();
    this.stopRun.abort();
  }

  /** 2. The fetch in flight (or the running source), settled; the caller aborts it when the grace period is over. */
  settled(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** 3–4. Every lane writes what it holds and closes its window; resolves with the records left unwritten. */
  async closeLanes(opts: LaneClose = {}): Promise<number> {
    const unwritten = await Promise.all(this.lanes.map((l) => l.close(opts)));
    return unwritten.reduce((a, b) => a + b, 0);
  }

  /** Taken out by a reload: all the steps, for this stream alone; its source is closed. */
  async retire(): Promise<void> {
    this.stopTicking();
    await this.settled();
    await this.closeLanes();
    this.source.close();
  }
}
