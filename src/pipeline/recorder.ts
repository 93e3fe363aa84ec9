/**
 * The recorder: wires sources, tickers, queues, window writers, compression
 * and the events stream (the one place where wiring lives), and runs the
 * lifecycle: recover → start → tick … → stop (DESIGN 2.6).
 */
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import { systemClock, type Clock } from '../clock/clock.js';
import { Ticker } from '../clock/ticker.js';
import { CompressionPool } from '../compress/compression-pool.js';
import { recoverDirectory, type RecoveryResult } from '../compress/recovery.js';
import { encodeZipComment } from '../compress/zip-meta.js';
import { EVENTS_STREAM, type LoadedConfig, type StreamConfig } from '../config/loader.js';
import { ConfigError } from '../config/errors.js';
import { readRuntimeStreams, writeRuntimeStreams } from '../config/runtime-streams.js';
import type { Logger } from '../logging/logger.js';
import { SOURCE_KINDS } from '../sources/registry.js';
import { FetchError, type NoteEvent, type Source, type SourceRecord } from '../sources/source.js';
import { jsonName, zipName } from '../sinks/window-naming.js';
import { WindowWriter, type ClosedWindow } from '../sinks/window-writer.js';
import { BoundedQueue } from './bounded-queue.js';
import { EventLog } from './event-log.js';
import { announceControlUrl, lockOutputDir, prepareOutputDir } from './output-dir.js';
import { COMPRESS_SECONDS_BUCKETS, DurationHistogram } from './histogram.js';
import type { ControlServer } from '../control/control-server.js';
import type { BufferedSink } from '../sinks/buffered-sink.js';

type SinkName = 'postgres' | 'amqp';
import type { Shard } from '../sources/probe/probe-targets.js';
import type { RecorderView, StreamView } from '../control/view.js';
import type { Payload } from './payload.js';
import { recordEncoder, type RecordEncoder } from './record.js';
import { StreamStats } from './stream-stats.js';

interface Channel {
  name: string;
  source?: Source; // none for the events stream and for a source's extra outputs
  /** The extra streams this channel's source writes (a joined view), by name. */
  outputs?: Map<string, Channel>;
  /** Where the records also go (`postgres: true`, `amqp: …`), by sink name. */
  wants?: Set<SinkName>;
  /** Stops a continuously running source (probes). */
  stopRun?: AbortController;
  encode?: RecordEncoder;
  queue: BoundedQueue<Payload>;
  writer: WindowWriter;
  stats: StreamStats;
  inFlight?: Promise<void>;
  consumer?: Promise<void>;
  /** Set at shutdown: the consumer returns once the queue is empty. */
  draining?: boolean;
  /** Paused by a control command: ticks are skipped and reported as `paused`. */
  paused?: boolean;
  /** Callers of `rotate()` waiting for this channel's consumer to close its window. */
  rotateWaiters?: (() => void)[];
}

export interface RecorderOptions {
  log: Logger;
  clock?: Clock;
  version?: string;
  /** This process's share of the probe targets (`nsr run --shard k/N`). */
  shard?: Shard;
  /** Replaces the source kinds' build functions (tests drive fetches by hand through this). */
  buildSource?: (stream: StreamConfig) => Source;
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
  /** Settings outside `streams` that changed: they take effect at the next start. */
  restart_required: string[];
}

export interface StopResult {
  /** Every fetched record reached a window file. */
  complete: boolean;
  /** Every closed window was compressed. */
  compressed: boolean;
  deadlineReached: boolean;
}

/** How long after its end a window is closed when no record closes it first. */
const CLOSE_SLACK_MS = 1000;
/** Pause before retrying a failed write (disk full, I/O error). */
const WRITE_RETRY_MS = 1000;
/** First pause before compressing a window again after its job failed; doubles up to the max. */
const COMPRESS_RETRY_MS = 5000;
const COMPRESS_RETRY_MAX_MS = 300_000;
/** An eager first fetch is made only if it has at least this long (or its timeout) before the first grid tick. */
const EAGER_MIN_MS = 2000;

export class Recorder {
  private readonly channels = new Map<string, Channel>();
  /** One ticker per interval: streams with the same interval fire on the same tick. */
  private readonly tickers = new Map<number, { ticker: Ticker; group: Channel[] }>();
  private started = false;
  /** Reloads run one at a time. */
  private reloading: Promise<unknown> = Promise.resolve();
  private readonly fetchAbort = new AbortController();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly events: EventLog;
  private readonly pool: CompressionPool;
  private readonly compressions = new Set<Promise<unknown>>();
  /** Windows whose compression failed, waiting to be tried again. */
  private readonly compressRetries = new Map<ClosedWindow, NodeJS.Timeout>();
  private readonly outputDir: string;
  private releaseLock: (() => void) | undefined;
  private stopped = false;
  private eventsClosed = false;
  /** Compressions that failed after the stop began: their .json files wait for the next start. */
  private compressFailures = 0;
  private hurry = false;
  /** Resolves on a second signal or the deadline: waits for compression are cut short by it. */
  private readonly hurried: Promise<void>;
  private resolveHurried!: () => void;
  private stopping: Promise<StopResult> | undefined;
  private startedAt = 0;
  /** When the tickers started: a stream that has not recorded yet is fresh for a while from here. */
  private tickingAt = 0;
  /** How long compressing a window took (seconds), for /metrics. */
  private readonly compressionSeconds = new DurationHistogram(COMPRESS_SECONDS_BUCKETS);
  private control: ControlServer | undefined;
  /** The database and bus sinks that some stream asked for. */
  private readonly sinks = new Map<SinkName, BufferedSink>();
  /** The routing key of each stream published to the bus. */
  private readonly routingKeys = new Map<string, string>();

  constructor(private loaded: LoadedConfig, private readonly opts: RecorderOptions) {
    this.clock = opts.clock ?? systemClock;
    this.hurried = new Promise((resolve) => (this.resolveHurried = resolve));
    // Every fetch listens on the one shutdown signal: many streams are not a leak.
    setMaxListeners(0, this.fetchAbort.signal);
    this.log = opts.log;
    const { config } = loaded;
    this.outputDir = path.resolve(config.output.dir);
    const eventsChannel = this.addChannel(EVENTS_STREAM, config.output.window);
    // Events are small and must never be refused: their queue accepts past its bound.
    // After the events window is closed at shutdown, late events (a compression
    // finishing) can only be logged.
    this.events = new EventLog((p) => this.eventsClosed || eventsChannel.queue.push(p), this.log, () => this.clock.now());
    for (const stream of loaded.streams) this.openChannel(stream);
    this.pool = new CompressionPool({
      workers: config.compression.workers,
      onWorkerExit: ({ pid, code, signal, error }) => this.events.emit('compression_worker_died', { pid, code, signal, error }, 'warn'),
    });
  }

  /** A data stream's channel: its source, queue and window writer; started at once when the recorder runs. */
  private openChannel(stream: StreamConfig): Channel {
    const lookup = (name: string) => this.channels.get(name)?.source;
    const build = this.opts.buildSource ?? ((s: StreamConfig) => SOURCE_KINDS[s.kind].build(s.name, s.options, { timing: s.timing, source: lookup, shard: this.opts.shard, postgres: this.loaded.postgres, mysql: this.loaded.mysql, amqp: this.loaded.amqp, outputDir: this.outputDir }));
    const source = build(stream);
    const channel = this.addChannel(stream.name, stream.timing.windowMs);
    channel.source = source;
    channel.encode = recordEncoder(source.shape);
    channel.wants = new Set((['postgres', 'amqp'] as const).filter((sink) => stream.options[sink]));
    if (stream.options.amqp) this.routingKeys.set(stream.name, (stream.options.amqp as { routing_key?: string }).routing_key ?? stream.name);
    channel.outputs = new Map(
      (source.outputs ?? []).map((out) => {
        const c = this.addChannel(out.name, stream.timing.windowMs);
        c.encode = recordEncoder(out.shape);
        c.wants = channel.wants;
        return [out.name, c];
      }),
    );
    if (this.started) {
      for (const c of [channel, ...channel.outputs.values()]) {
        c.consumer = this.consume(c);
        for (const sink of c.wants ?? []) {
          const running = this.sinks.get(sink);
          if (running) running.addStream(c.name, stream.kind);
          // Sinks start with the recorder: one no stream used then needs a restart (the records stay in the windows).
          else this.events.emit('restart_required', { stream: c.name, sink }, 'warn', `${c.name}: records go to ${sink} only after a restart (no stream used it at start)`);
        }
      }
      this.activate(channel);
    }
    return channel;
  }

  /** Starts a data channel's source: on the ticker, or running on its own (probes). */
  private activate(c: Channel): void {
    if (c.source?.run) this.startRunning(c);
    else this.joinTicker(c);
  }

  /** A source that schedules itself: runs until stopped; its records go to the queue as they come. */
  private startRunning(c: Channel): void {
    const source = c.source!;
    c.stopRun = new AbortController();
    const room = () => c.queue.hasRoom();
    const emit = (record: SourceRecord) => {
      const scheduledAt = record.scheduledAt ?? this.clock.now();
      const target = record.output === undefined ? c : c.outputs?.get(record.output);
      if (!target) throw new Error(`${c.name}: the source wrote to ${record.output}, which it did not declare`);
      c.stats.fetches++;
      c.stats.noteLateness(this.clock.now() - scheduledAt);
      this.pushRecord(target, Math.floor(scheduledAt / source.timing.intervalMs), scheduledAt, record.body, record.onWritten, record.timestamp);
    };
    const note: NoteEvent = (event, fields, level = 'info', message) => this.events.emit(event, { stream: c.name, ...fields }, level, message && `${c.name}: ${message}`);
    c.inFlight = source
      .run!({ stop: c.stopRun.signal, abort: this.fetchAbort.signal, room }, emit, note)
      .catch((err) => this.events.emit('source_failed', { stream: c.name, message: (err as Error).message }, 'error', `${c.name}: the source stopped: ${(err as Error).message}`))
      .finally(() => (c.inFlight = undefined));
  }

  /** A record on its way to the channel's queue; its timestamp is now (DESIGN 2.1). */
  private pushRecord(target: Channel, tick: number, scheduledAt: number, body: Buffer, onWritten?: () => void, timestamp?: number): void {
    const receivedAt = timestamp ?? this.clock.now();
    target.queue.push({ stream: target.name, tick, scheduledAt, receivedAt, line: target.encode!(receivedAt, body), onWritten });
    if (receivedAt < target.stats.lastRecordAt) {
      this.events.emit('clock_backwards', { stream: target.name, previous: target.stats.lastRecordAt, now: receivedAt }, 'warn', 'the wall clock went backwards');
    }
    target.stats.lastRecordAt = receivedAt;
  }

  /** A source that reads something slow to change (an inventory) fetches at once instead of first at the next grid point. */
  private eagerTick(c: Channel): void {
    if (!c.source?.eager) return;
    const { intervalMs, timeoutMs } = c.source.timing;
    const now = this.clock.now();
    const slot = Math.floor(now / intervalMs);
    // It must end by the next grid tick (no overlap); when that is very near, the grid tick is soon enough.
    const nextTick = (slot + 1) * intervalMs;
    if (nextTick - now < Math.min(timeoutMs, EAGER_MIN_MS)) return;
    this.onTick(c, slot, now, nextTick);
  }

  private joinTicker(c: Channel): void {
    const interval = c.source!.timing.intervalMs;
    let entry = this.tickers.get(interval);
    if (!entry) {
      const group: Channel[] = [];
      const ticker = new Ticker(interval, this.clock, {
        onTick: (tick, at) => group.forEach((ch) => this.onTick(ch, tick, at)),
        onMissed: (first, count, reason) =>
          group.forEach((ch) => this.missed(ch, first, first * interval, reason, `the recorder was stalled past ${count === 1 ? 'this tick' : `${count} ticks`}`, undefined, count)),
        onClockStep: (deltaMs) => this.events.emit('clock_backwards', { step_ms: deltaMs, interval_ms: interval }, 'warn', `the wall clock went back ${deltaMs} ms: ticks follow the new time`),
      });
      entry = { ticker, group };
      this.tickers.set(interval, entry);
      ticker.start();
    }
    entry.group.push(c);
  }

  private leaveTicker(c: Channel): void {
    const interval = c.source!.timing.intervalMs;
    const entry = this.tickers.get(interval);
    if (!entry) return;
    entry.group.splice(entry.group.indexOf(c), 1);
    if (entry.group.length === 0) {
      entry.ticker.stop();
      this.tickers.delete(interval);
    }
  }

  private addChannel(name: string, windowMs: number): Channel {
    const { config } = this.loaded;
    const channel: Channel = {
      name,
      queue: new BoundedQueue<Payload>(config.queue.max_records, config.queue.max_bytes, (p) => p.line.length),
      writer: new WindowWriter({
        dir: path.resolve(config.output.dir),
        stream: name,
        windowMs,
        maxBytes: config.output.max_window_size,
        fsync: config.output.fsync,
        syncIntervalMs: config.output.fsync_interval,
        now: () => this.clock.now(),
      }),
      stats: new StreamStats(),
    };
    this.channels.set(name, channel);
    return channel;
  }

  get streams(): ReadonlyMap<string, { stats: StreamStats; queueDepth: number }> {
    return new Map([...this.channels].map(([name, c]) => [name, { stats: c.stats, queueDepth: c.queue.depth }]));
  }

  async start(): Promise<void> {
    prepareOutputDir(this.outputDir);
    this.releaseLock = lockOutputDir(this.outputDir);
    this.startedAt = this.clock.now();
    // Recovery reads the directory before any window of this run is opened, so
    // it can only ever see what an earlier run left.
    const leftovers = await recoverDirectory(this.outputDir);
    await this.startSinks();
    if (this.loaded.control.enabled) await this.startControl();
    for (const channel of this.channels.values()) channel.consumer = this.consume(channel);
    const { config, streams, file, legacy } = this.loaded;
    this.events.emit('start', {
      version: this.opts.version,
      pid: process.pid,
      config: file,
      legacy_config: legacy || undefined,
      output_dir: this.outputDir,
      streams: Object.fromEntries(
        streams.map((s) => {
          const source = this.channels.get(s.name)!.source!;
          // `shape` tells offline tools how to cut the upstream's body back out of a record (replay).
          // `records_per_tick` tells `nsr stats` to count ticks, not records, for coverage.
          const timing = { interval_ms: s.timing.intervalMs, timeout_ms: s.timing.timeoutMs, window_ms: s.timing.windowMs, records_per_tick: source.cycle ? 'many' : undefined };
          return [
            [s.name, { kind: s.kind, target: source.target, shape: source.shape, ...timing }],
            ...(source.outputs ?? []).map((out) => [out.name, { kind: s.kind, written_by: s.name, shape: out.shape, ...timing }]),
          ];
        }).flat(),
      ),
      window_ms: config.output.window,
    });
    this.reportRecovery(leftovers);
    this.tickingAt = this.clock.now();
    this.started = true;
    for (const c of this.channels.values()) if (c.source) this.activate(c);
    for (const c of this.channels.values()) this.eagerTick(c);
  }

  /** The kind of the stream a channel belongs to (an extra output has its source's). */
  private kindOf(c: Channel): string {
    const owner = [...this.channels.values()].find((o) => o === c || o.outputs?.has(c.name));
    return owner?.source?.kind ?? 'unknown';
  }

  /** The sinks some stream asks for; each reads back what the last run could not write. */
  private async startSinks(): Promise<void> {
    const note: NoteEvent = (event, fields, level = 'info', message) => this.events.emit(event, fields, level, message);
    for (const name of ['postgres', 'amqp'] as const) {
      const wanted = [...this.channels.values()].filter((c) => c.wants?.has(name));
      if (wanted.length === 0) continue;
      let sink: BufferedSink;
      try {
        if (name === 'postgres') {
          const { startPostgresSink } = await import('../sinks/postgres/postgres-sink.js');
          sink = await startPostgresSink(this.loaded.postgres!, this.outputDir, note);
        } else {
          const { startAmqpSink } = await import('../sinks/amqp/amqp-sink.js');
          sink = startAmqpSink(this.loaded.amqp!, this.routingKeys, this.outputDir, note);
        }
      } catch (err) {
        this.releaseLock?.();
        this.releaseLock = undefined;
        throw new ConfigError((err as Error).message);
      }
      for (const c of wanted) sink.addStream(c.name, this.kindOf(c));
      this.sinks.set(name, sink);
    }
  }

  /**
   * Reloads the configuration file (SIGHUP, POST /reload). Streams that were
   * added start at the next tick; removed ones finish their fetch, write what
   * they hold and close their window; changed ones do both. Other streams are
   * not touched. An invalid file throws (ConfigError) and changes nothing.
   * Settings outside `streams` need a restart: they are named in the result.
   */
  reload(): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadResult> {
    if (this.stopped) throw new Error('the recorder is stopping');
    const { loadConfig } = await import('../config/loader.js');
    let next: LoadedConfig;
    try {
      next = loadConfig(this.loaded.file);
    } catch (err) {
      this.events.emit('reload_rejected', { error: (err as Error).message }, 'error', 'reload rejected; the running configuration stays');
      throw err;
    }
    const before = new Map(this.loaded.streams.map((s) => [s.name, s]));
    const after = new Map(next.streams.map((s) => [s.name, s]));
    const removed = [...before.keys()].filter((n) => !after.has(n));
    const added = [...after.keys()].filter((n) => !before.has(n));
    const changed = [...after.keys()].filter((n) => before.has(n) && JSON.stringify(before.get(n)) !== JSON.stringify(after.get(n)));
    const { streams: _a, ...oldRest } = this.loaded.config;
    const { streams: _b, ...newRest } = next.config;
    const restartRequired = Object.keys(newRest).filter((k) => k !== 'defaults' && JSON.stringify((oldRest as Record<string, unknown>)[k]) !== JSON.stringify((newRest as Record<string, unknown>)[k]));
    for (const name of [...removed, ...changed]) {
      const leftAt = this.clock.now();
      const interval = before.get(name)!.timing.intervalMs;
      await this.retireChannel(name);
      if (changed.includes(name)) {
        const c = this.openChannel(after.get(name)!);
        this.eagerTick(c);
        // Ticks that fell due while the stream was swapped are reported, never silent.
        const from = Math.floor(leftAt / interval) + 1;
        const to = Math.floor(this.clock.now() / interval);
        if (to >= from) this.missed(c, from, from * interval, 'reload', 'the stream was being reconfigured', undefined, to - from + 1);
      }
    }
    for (const name of added) this.eagerTick(this.openChannel(after.get(name)!));
    this.loaded = { ...this.loaded, streams: next.streams, config: { ...this.loaded.config, streams: next.config.streams } };
    const result = { added, removed, changed, restart_required: restartRequired };
    this.events.emit('reload', result, 'info', `configuration reloaded: ${added.length} added, ${removed.length} removed, ${changed.length} changed`);
    return result;
  }

  /**
   * Adds a stream at run time (a control command). It is checked like one in
   * the configuration file, kept in the runtime file (so it survives a
   * restart), and started by a reload.
   */
  async addStream(name: string, raw: Record<string, unknown>): Promise<ReloadResult> {
    const { loadConfig } = await import('../config/loader.js');
    if (this.channels.has(name) || name === EVENTS_STREAM) throw new ConfigError(`a stream "${name}" exists already: remove it first or choose another name`);
    const rt = readRuntimeStreams(this.outputDir);
    const candidate = { added: { ...rt.added, [name]: raw }, removed: rt.removed.filter((n) => n !== name) };
    loadConfig(this.loaded.file, process.env, candidate); // throws ConfigError naming streams.<name>.<key>
    writeRuntimeStreams(this.outputDir, candidate);
    return this.reload();
  }

  /** Removes a stream at run time, from the file's streams or the runtime ones; kept across restarts. */
  async removeStream(name: string): Promise<ReloadResult | undefined> {
    if (!this.channels.get(name)?.source) return undefined;
    const rt = readRuntimeStreams(this.outputDir);
    const { [name]: _gone, ...added } = rt.added;
    const fromFile = !(name in rt.added);
    writeRuntimeStreams(this.outputDir, { added, removed: fromFile ? [...new Set([...rt.removed, name])] : rt.removed });
    return this.reload();
  }

  /** Takes a stream out: no new ticks, its fetch in flight finishes, its queue is written, its window closed and compressed. */
  private async retireChannel(name: string): Promise<void> {
    const c = this.channels.get(name)!;
    if (c.stopRun) c.stopRun.abort();
    else this.leaveTicker(c);
    await c.inFlight;
    for (const ch of [c, ...(c.outputs?.values() ?? [])]) {
      ch.draining = true;
      ch.queue.wake();
      await ch.consumer;
      await ch.writer.close();
      this.collectWindows(ch);
      this.channels.delete(ch.name);
    }
    c.source?.close();
  }

  /** Starts the control server and writes its URL into the lock, where `nsr status` finds it. */
  private async startControl(): Promise<void> {
    let url: string;
    try {
      const { ControlServer } = await import('../control/control-server.js');
      this.control = new ControlServer(this.controlView(), this.loaded.control);
      url = await this.control.listen();
      announceControlUrl(this.outputDir, url);
    } catch (err) {
      // Nothing has been recorded yet: give the directory back and let the error say why.
      this.releaseLock?.();
      this.releaseLock = undefined;
      throw err;
    }
    this.log.info({ url, auth: this.loaded.control.token ? 'bearer token' : 'none (loopback only)' }, 'control server listening');
  }

  /** Live, read-only references for the control plane (see src/control/view.ts). */
  controlView(): RecorderView {
    // Built on each call: streams come and go with reloads.
    const streams = (): StreamView[] => [...this.channels.values()].filter((c) => c.source).map((c) => {
      const { queue } = c;
      const source = c.source!;
      return {
        name: c.name,
        kind: source.kind,
        target: source.target,
        intervalMs: source.timing.intervalMs,
        timeoutMs: source.timing.timeoutMs,
        stats: c.stats,
        queueDepth: () => queue.depth,
        queueBytes: () => queue.stats().bytes,
        paused: () => Boolean(c.paused),
      } as StreamView;
    });
    return {
      version: this.opts.version ?? 'unknown',
      pid: process.pid,
      outputDir: this.outputDir,
      now: () => this.clock.now(),
      startedAt: () => this.startedAt,
      // Before the first tick (recovery may be long) nothing can be stale yet.
      freshSince: () => this.tickingAt || this.clock.now(),
      stopping: () => this.stopped,
      streams,
      windowsOpen: () => {
        let n = 0;
        for (const c of this.channels.values()) if (c.writer.openWindow) n++;
        return n;
      },
      compressionBacklog: () => this.pool.backlog + this.compressRetries.size,
      compressionSeconds: this.compressionSeconds,
      recentEvents: () => this.events.recent(),
      commands: {
        rotate: () => this.rotate(),
        setPaused: (name, paused) => this.setPaused(name, paused),
        reload: () => this.reload(),
        addStream: (name, raw) => this.addStream(name, raw),
        removeStream: (name) => this.removeStream(name),
      },
    };
  }

  private reportRecovery({ actions, windows }: RecoveryResult): void {
    for (const a of actions) this.events.emit('recovery', { ...a }, a.action === 'unreadable' ? 'error' : 'warn');
    for (const w of windows) {
      this.events.emit('recovery', { action: 'compress_leftover', file: jsonName(w.base), stream: w.stream, records: w.records }, 'warn');
      this.compress(w);
    }
  }

  private onTick(c: Channel, tick: number, scheduledAt: number, deadline = scheduledAt + c.source!.timing.intervalMs): void {
    if (this.stopped) return;
    if (c.paused) return this.missed(c, tick, scheduledAt, 'paused', 'the stream is paused (nsr control)');
    if (c.inFlight) return this.missed(c, tick, scheduledAt, 'overlap', 'the previous fetch of this stream was still running');
    for (const q of [c, ...(c.outputs?.values() ?? [])]) {
      if (!q.queue.hasRoom()) return this.missed(c, tick, scheduledAt, 'queue_full', `the queue of ${q.name} holds ${q.queue.depth} records (${q.queue.stats().bytes} bytes) not yet written`);
    }
    c.inFlight = this.fetch(c, tick, scheduledAt, deadline).finally(() => (c.inFlight = undefined));
  }

  private async fetch(c: Channel, tick: number, scheduledAt: number, deadline: number): Promise<void> {
    const source = c.source!;
    const started = this.clock.now();
    const startedPerf = performance.now();
    c.stats.noteLateness(started - scheduledAt);
    c.stats.fetches++;
    // Every record goes to its channel's queue as soon as it is there.
    const push = (target: Channel, body: Buffer, onWritten?: () => void) => this.pushRecord(target, tick, scheduledAt, body, onWritten);
    try {
      if (source.cycle) await this.cycle(c, tick, scheduledAt, deadline, push);
      else push(c, await source.fetch!(this.fetchAbort.signal, deadline));
      c.stats.noteFetchDuration(performance.now() - startedPerf);
      if (c.stats.failingTicks > 0) {
        const level = c.stats.warnedInStreak ? 'info' : 'debug';
        this.events.emit('stream_recovered', { stream: c.name, tick, missed_ticks: c.stats.failingTicks }, level, `${c.name}: recording again after ${c.stats.failingTicks} missed ticks`);
        c.stats.failingTicks = 0;
        c.stats.warnedInStreak = false;
      }
    } catch (err) {
      const e = err instanceof FetchError ? err : new FetchError('fetch_error', String(err));
      c.stats.noteFetchDuration(performance.now() - startedPerf);
      c.stats.noteFailure(e.reason);
      this.missed(c, tick, scheduledAt, e.reason, e.message, e.attempts);
    }
  }

  /**
   * One cycle of a many-item source (devices): each item that failed is an
   * `item_failed` event, the cycle a `cycle` event; a cycle that recorded
   * nothing at all is a missed tick (thrown back to fetch()).
   */
  private async cycle(c: Channel, tick: number, scheduledAt: number, deadline: number, push: (target: Channel, body: Buffer, onWritten?: () => void) => void): Promise<void> {
    const started = performance.now();
    const report = await c.source!.cycle!(this.fetchAbort.signal, deadline, (record) => {
      const target = record.output === undefined ? c : c.outputs?.get(record.output);
      if (!target) throw new Error(`${c.name}: the source wrote to ${record.output}, which it did not declare`);
      push(target, record.body, record.onWritten);
    });
    for (const f of report.failures) {
      const { item, reason, message, ...detail } = f;
      this.events.emit('item_failed', { stream: c.name, tick, item, reason, message, ...detail }, 'debug', `${c.name}: ${item}: ${reason}: ${message}`);
    }
    const failed = report.failures.length;
    const summary = { stream: c.name, tick, scheduled_at: scheduledAt, items: report.items, records: report.records, failed, ms: Math.round(performance.now() - started) };
    const level = failed && c.stats.shouldWarn('item_failed', this.clock.now()) ? 'warn' : 'debug';
    this.events.emit('cycle', summary, level, `${c.name}: cycle of ${report.items} items, ${failed} failed (see item_failed events)`);
    if (report.records > 0) return;
    const first = report.failures[0];
    if (!first) throw new FetchError('no_items', 'the cycle had nothing to poll (an empty device list: check the filter)');
    throw new FetchError(first.reason, `no item answered (${failed} failed; first: ${first.item}: ${first.message})`);
  }

  private missed(c: Channel, tick: number, scheduledAt: number, reason: string, message: string, attempts?: number, count = 1): void {
    c.stats.noteMissed(reason, count);
    c.stats.failingTicks += count;
    // Log a failure when its reason changes, and at most once a minute otherwise, so
    // a flapping upstream cannot flood the log; every missed tick still goes to the events stream.
    const level = c.stats.shouldWarn(reason, this.clock.now()) ? 'warn' : 'debug';
    // A run of ticks missed together (a stalled process) is one event with its count, not one per tick.
    const run = count > 1 ? { count, last_tick: tick + count - 1 } : {};
    this.events.emit('missed_tick', { stream: c.name, tick, scheduled_at: scheduledAt, reason, message, attempts, ...run }, level, `${c.name}: ${count > 1 ? `${count} ticks` : 'tick'} missed (${reason}): ${message}`);
  }

  /** Writes a channel's queue into its windows, in order, until the recorder drains. */
  private async consume(c: Channel): Promise<void> {
    let writeFailing = false;
    for (;;) {
      // Rotation happens here, between two writes, so it never closes a window under one.
      if (c.rotateWaiters?.length) {
        const waiters = c.rotateWaiters;
        c.rotateWaiters = [];
        await c.writer.close();
        this.collectWindows(c);
        waiters.forEach((w) => w());
      }
      const item = c.queue.peek();
      if (!item) {
        if (c.draining) return;
        await this.waitForItem(c);
        await this.closeDueWindow(c);
        continue;
      }
      try {
        await c.writer.append(item.line, item.receivedAt);
        if (writeFailing) this.events.emit('write_recovered', { stream: c.name }, 'info');
        writeFailing = false;
        c.queue.shift();
        c.stats.records++;
        // A source's own callback (checkpoint, ack) must not pass for a failed write of the next record.
        try {
          item.onWritten?.();
        } catch (err) {
          this.log.error({ stream: c.name, err }, 'a source failed to take note that its record was written');
        }
        for (const sink of c.wants ?? []) this.sinks.get(sink)?.offer(c.name, item.receivedAt, item.line, item.tick);
        c.stats.bytes += item.line.length;
        this.collectWindows(c);
      } catch (err) {
        this.collectWindows(c); // a window closed before the failure still goes to compression
        const e = err as NodeJS.ErrnoException;
        if (!writeFailing) {
          // Not for the events stream itself: its own write is what failed.
          const fields = { stream: c.name, code: e.code, message: e.message, queued: c.queue.depth };
          if (c.name !== EVENTS_STREAM) this.events.emit('write_error', fields, 'error', `${c.name}: cannot write window file, retrying`);
          else this.log.error(fields, 'events: cannot write window file, retrying');
        }
        writeFailing = true;
        if (this.hurry) return; // a second signal: what is queued now stays unwritten, reported at stop
        await new Promise((r) => setTimeout(r, WRITE_RETRY_MS));
      }
    }
  }

  private waitForItem(c: Channel): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => c.queue.wake(), 1000);
      c.queue.whenNotEmpty().then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async closeDueWindow(c: Channel): Promise<void> {
    await c.writer.syncIfDue();
    await c.writer.closeIfDue(this.clock.now(), CLOSE_SLACK_MS);
    this.collectWindows(c);
  }

  /** Closes every open window now (a control command); they are compressed as usual. */
  async rotate(): Promise<number> {
    const open = [...this.channels.values()].filter((c) => c.writer.openWindow && !c.draining);
    await Promise.all(
      open.map(
        (c) =>
          new Promise<void>((resolve) => {
            (c.rotateWaiters ??= []).push(resolve);
            c.queue.wake();
          }),
      ),
    );
    this.events.emit('rotation', { reason: 'command', windows: open.length, streams: open.map((c) => c.name) });
    return open.length;
  }

  /** Pauses or resumes a data stream; undefined when there is none of that name. */
  setPaused(name: string, paused: boolean): boolean | undefined {
    const c = this.channels.get(name);
    if (!c?.source) return undefined;
    if (Boolean(c.paused) !== paused) {
      c.paused = paused;
      this.events.emit(paused ? 'stream_paused' : 'stream_resumed', { stream: name }, 'info', `${name}: ${paused ? 'paused' : 'resumed'} by a control command`);
    }
    return paused;
  }

  /** Hands the writer's closed windows to compression and reports a failed fsync. */
  private collectWindows(c: Channel, compress = true): void {
    for (const w of c.writer.takeClosed()) if (compress) this.compress(w, c.name !== EVENTS_STREAM);
    const err = c.writer.takeSyncError() as NodeJS.ErrnoException | undefined;
    if (err) {
      const fields = { stream: c.name, code: err.code, message: err.message };
      if (c.name === EVENTS_STREAM || this.eventsClosed) this.log.error(fields, 'cannot force a window file to disk');
      else this.events.emit('sync_error', fields, 'error', `${c.name}: cannot force the window file to disk (records are written; at risk only on power loss)`);
    }
  }

  private compress(w: ClosedWindow, report = true, attempt = 1): void {
    const { config } = this.loaded;
    const job = this.pool
      .submit({ jsonPath: w.jsonPath, zipPath: path.join(w.dir, zipName(w.base)), entryName: jsonName(w.base), level: config.compression.level, comment: encodeZipComment(w), mtime: w.last })
      .then((o) => {
        const fields = { stream: w.stream, file: zipName(w.base), records: w.records, first: w.first, last: w.last, bytes: w.bytes, zip_bytes: o.bytesOut, ms: o.ms && Math.round(o.ms) };
        if (o.ok) {
          if (o.ms !== undefined) this.compressionSeconds.observe(o.ms / 1000);
          if (report) this.events.emit('window_compressed', fields, 'debug');
          else this.log.debug({ event: 'window_compressed', ...fields }, 'window_compressed (events window, after the events stream closed)');
          return;
        }
        // The .json stays in place whatever happens; retry while running (the
        // disk may have filled up and be freed), else the next start recovers it.
        if (this.stopped) this.compressFailures++;
        const retryIn = this.stopped ? undefined : Math.min(COMPRESS_RETRY_MAX_MS, COMPRESS_RETRY_MS * 2 ** (attempt - 1));
        const failed = { ...fields, error: o.error, attempts: o.attempts, kept: jsonName(w.base), retry_in_ms: retryIn };
        const message = `cannot compress ${jsonName(w.base)}; it stays and is ${retryIn ? `retried in ${Math.round(retryIn / 1000)} s` : 'compressed at the next start'}`;
        if (report) this.events.emit('compress_failed', failed, 'error', message);
        else this.log.error(failed, message);
        if (retryIn) {
          const timer = setTimeout(() => {
            this.compressRetries.delete(w);
            if (!this.stopped) this.compress(w, report, attempt + 1);
          }, retryIn);
          timer.unref();
          this.compressRetries.set(w, timer);
        }
      });
    const guarded = job.catch((err) => this.log.error({ err, file: jsonName(w.base) }, 'compression could not be scheduled; the window is compressed at the next start'));
    this.compressions.add(guarded);
    guarded.finally(() => this.compressions.delete(guarded));
  }

  /**
   * Stops the recorder (DESIGN 2.6). `hurry()` (a second signal) skips
   * compression; the deadline does the same on its own. Returns once every
   * fetched record is in a closed, fsynced window file.
   */
  stop(reason: string, deadlineMs = this.loaded.config.shutdown.deadline): Promise<StopResult> {
    this.stopping ??= this.shutdown(reason, deadlineMs);
    return this.stopping;
  }

  hurryStop(): void {
    if (this.hurry) return;
    this.hurry = true;
    this.resolveHurried();
    this.log.warn('second signal: skipping compression; window files are compressed at the next start');
  }

  private async shutdown(reason: string, deadlineMs: number): Promise<StopResult> {
    const { config } = this.loaded;
    const began = this.clock.now();
    let deadlineReached = false;
    const deadline = setTimeout(() => {
      deadlineReached = true;
      this.log.error(`shutdown deadline of ${deadlineMs} ms reached: skipping what is left of compression`);
      this.hurryStop();
    }, deadlineMs);
    deadline.unref();

    // 1. no new ticks
    this.stopped = true;
    for (const { ticker } of this.tickers.values()) ticker.stop();
    for (const c of this.channels.values()) c.stopRun?.abort();
    // 2. in-flight fetches finish within the grace period, then are aborted
    const inFlight = [...this.channels.values()].map((c) => c.inFlight).filter(Boolean) as Promise<void>[];
    if (inFlight.length > 0) {
      const settled = await Promise.race([Promise.allSettled(inFlight).then(() => true), sleep(config.shutdown.grace).then(() => false)]);
      if (!settled) this.fetchAbort.abort();
      await Promise.allSettled(inFlight);
    }
    this.fetchAbort.abort();
    // 3. drain every data queue into its windows, 4. close and fsync the windows
    const dataChannels = [...this.channels.values()].filter((c) => c.name !== EVENTS_STREAM);
    for (const c of dataChannels) {
      c.draining = true;
      c.queue.wake();
    }
    await Promise.all(dataChannels.map((c) => c.consumer));
    const unwritten = dataChannels.reduce((n, c) => n + c.queue.depth, 0);
    for (const c of dataChannels) {
      await c.writer.close();
      this.collectWindows(c, !this.hurry);
    }
    // The database and the bus get up to half the deadline; what they do not take is read back from the window files at the next start.
    let sinkWaiting = 0;
    if (!this.hurry) for (const sink of this.sinks.values()) sinkWaiting += (await sink.close(began + deadlineMs / 2)).unwritten;
    // Windows waiting for a compression retry get one last try now.
    for (const [w, timer] of this.compressRetries) {
      clearTimeout(timer);
      if (!this.hurry) this.compress(w);
    }
    this.compressRetries.clear();
    // 5. compress
    if (!this.hurry) await Promise.race([this.pool.drain(), this.hurried]);
    if (!this.hurry) await Promise.race([Promise.allSettled([...this.compressions]), this.hurried]);
    // 6. the stop event, then the events window itself
    const compressed = !this.hurry && this.pool.backlog === 0 && this.compressFailures === 0;
    this.events.emit('stop', {
      reason,
      uptime_ms: this.clock.now() - this.startedAt,
      shutdown_ms: this.clock.now() - began,
      unwritten_records: unwritten,
      sink_waiting: sinkWaiting || undefined,
      compressed,
      deadline_reached: deadlineReached || undefined,
      streams: Object.fromEntries(dataChannels.map((c) => [c.name, c.stats.summary()])),
    }, unwritten > 0 ? 'error' : 'info');
    const events = this.channels.get(EVENTS_STREAM)!;
    events.draining = true;
    events.queue.wake();
    await events.consumer;
    this.eventsClosed = true;
    await events.writer.close();
    this.collectWindows(events, !this.hurry);
    if (!this.hurry) await Promise.race([this.pool.drain(), this.hurried]);
    await Promise.race([Promise.allSettled([...this.compressions]), this.hurried]);
    await this.pool.close();
    for (const c of this.channels.values()) c.source?.close();
    clearTimeout(deadline);
    // Last: /status and /metrics answer throughout the stop.
    await this.control?.close();
    this.releaseLock?.();
    return { complete: unwritten === 0 && events.queue.depth === 0, compressed: compressed && !this.hurry, deadlineReached };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
