/**
 * The recorder: what is global to a run. It turns the configuration into a
 * topology of stream units (topology.ts), starts them (recover → sinks →
 * control → lanes → start event → sources), applies a reload as the
 * difference between two topologies, answers the control commands, and stops
 * in the one sequence of shutdown.ts. A record's own path is in
 * stream-unit.ts and output-lane.ts.
 */
import { setMaxListeners } from 'node:events';
import path from 'node:path';
import { systemClock, type Clock } from '../clock/clock.js';
import { recoverDirectory, type RecoveryResult } from '../compress/recovery.js';
import { unsafeFileMessage } from '../fs/safe-files.js';
import { EVENTS_STREAM, type LoadedConfig } from '../config/loader.js';
import { ConfigError } from '../config/errors.js';
import { checkRuntimeRoom, readRuntimeStreams, writeRuntimeStreams } from '../config/runtime-streams.js';
import { streamNameProblem } from '../config/schema-types.js';
import type { ControlServer } from '../control/control-server.js';
import type { RecorderView } from '../control/view.js';
import type { Logger } from '../logging/logger.js';
import type { NoteEvent } from '../logging/note-event.js';
import { jsonName, parseOutputFile } from '../sinks/window-naming.js';
import type { Shard } from '../sources/probe/probe-targets.js';
import { controlView } from './control-view.js';
import { DiskGuard, type FreeSpace } from './disk-guard.js';
import { startEvent } from './start-event.js';
import { EventLog } from './event-log.js';
import { OutputLane, type LaneContext } from './output-lane.js';
import { prepareOutputDir } from './output-dir.js';
import { lockOutputDir } from './lock-file.js';
import { startControlPlane } from './control-plane.js';
import { Hurry, shutdown, type StopResult } from './shutdown.js';
import { SinkSet } from './sink-set.js';
import type { StreamStats } from './stream-stats.js';
import type { StreamUnit } from './stream-unit.js';
import { kindBuilder, settingsNeedingRestart, Topology, type SourceBuilder, type StreamsDiff } from './topology.js';
import { WindowCompressor } from './window-compressor.js';
import { ArchiveIndex, type IndexCheck } from '../archive/index/index-writer.js';
import { retentionPolicy } from '../config/retention.js';
import { Retention } from './retention.js';
import { WindowHooks } from './window-hooks.js';
import { windowHookFor, type WindowHookSettings } from '../config/on-window.js';
import { HOOK_PENDING, RUN_MARKS_NONE } from '../archive/index/index-format.js';
import type { ClosedWindow } from '../sinks/window-writer.js';
import { zipName } from '../sinks/window-naming.js';

export type { StopResult } from './shutdown.js';

export interface RecorderOptions {
  log: Logger;
  clock?: Clock;
  version?: string;
  /** This process's share of the probe targets (`nsr run --shard k/N`). */
  shard?: Shard;
  /** Replaces the source kinds' build functions (tests drive fetches by hand through this). */
  buildSource?: SourceBuilder;
  /** Retention's hook for the disk guard (output.min_free): frees up to the bytes asked, resolves with the bytes freed. Also settable later as `recorder.diskGuard.freeSpace`. */
  freeSpace?: FreeSpace;
}

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
  /** Settings outside `streams` that changed: they take effect at the next start. */
  restart_required: string[];
}

/** How long the start waits for its start event to be written before the sources begin (a full disk must not hold the start). */
const START_EVENT_WAIT_MS = 2000;

export class Recorder {
  private readonly eventsLane: OutputLane;
  private readonly events: EventLog;
  private readonly compressor: WindowCompressor;
  /** Set when output.min_free is: holds the data lanes' records while the disk is below it. */
  private readonly guard: DiskGuard | undefined;
  private readonly sinks: SinkSet;
  private readonly topology: Topology;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly outputDir: string;
  /** Every fetch listens on this one signal, aborted when the shutdown's grace period is over. */
  private readonly fetchAbort = new AbortController();
  private readonly hurry = new Hurry();
  private releaseLock: (() => void) | undefined;
  private control: ControlServer | undefined;
  private stopping: Promise<StopResult> | undefined;
  private eventsClosed = false;
  /** Reloads run one at a time. */
  private reloading: Promise<unknown> = Promise.resolve();
  private startedAt = 0;
  /** The archive index of the output directory (opened at start). */
  private index: ArchiveIndex | undefined;
  private retention: Retention | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  /** Resolved once the sinks have started: retention waits for it (a sink's read-back point is known from then on). */
  private sinksStarted: () => void = () => undefined;
  /** The on_window commands, run for each zipped window of a stream that has one. */
  private readonly hooks: WindowHooks;
  /** When the sources started: a stream that has not recorded yet is fresh for a while from here. */
  private tickingAt = 0;

  constructor(private loaded: LoadedConfig, private readonly opts: RecorderOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log;
    setMaxListeners(0, this.fetchAbort.signal); // many streams listen: not a leak
    const { config } = loaded;
    this.outputDir = path.resolve(config.output.dir);
    const note: NoteEvent = (event, fields, level, message) => this.events.emit(event, fields, level, message);
    this.compressor = new WindowCompressor({ workers: config.compression.workers, level: config.compression.level, program: config.compression.program, log: this.log, note, onZipped: (w, zipBytes) => this.zipped(w, zipBytes) });
    const minFree = config.output.min_free;
    if (minFree?.bytes || minFree?.percent) {
      const queued = () => [...this.units.values()].reduce((n, u) => n + u.lanes.reduce((m, l) => m + l.queue.depth, 0), 0);
      this.guard = new DiskGuard({ dir: this.outputDir, minFree, note, log: this.log, freeSpace: opts.freeSpace, queued });
    }
    const lanes: LaneContext = {
      log: this.log,
      note,
      compressor: this.compressor,
      now: () => this.clock.now(),
      hurried: () => this.hurry.on,
      queue: { maxRecords: config.queue.max_records, maxBytes: config.queue.max_bytes },
      window: {
        dir: this.outputDir,
        maxBytes: config.output.max_window_size,
        fsync: config.output.fsync,
        syncIntervalMs: config.output.fsync_interval,
        onOpen: (file, start, windowMs) => this.index?.opened(file, start, windowMs),
      },
      disk: this.guard,
    };
    this.eventsLane = new OutputLane(EVENTS_STREAM, config.output.window, undefined, lanes, false);
    // Events are small and must never be refused: their queue accepts past its bound.
    // After the events window is closed at shutdown, late events (a compression finishing) can only be logged.
    this.events = new EventLog((p) => this.eventsClosed || this.eventsLane.pushLine(p), this.log, () => this.clock.now());
    const { postgres, mysql, amqp } = loaded;
    const build = opts.buildSource ?? kindBuilder({ source: (name) => this.units.get(name)?.source, shard: opts.shard, postgres, mysql, amqp, outputDir: this.outputDir });
    this.sinks = new SinkSet(
      { dir: this.outputDir, note, compress: (w) => this.compressor.compress(w), now: () => this.clock.now(), output: { maxWindowBytes: config.output.max_window_size, fsync: config.output.fsync, fsyncIntervalMs: config.output.fsync_interval } },
      { postgres, mysql, amqp },
    );
    this.hooks = new WindowHooks({
      settingsFor: (stream) => this.hookFor(stream),
      note,
      log: this.log,
      onSuccess: (w) => this.index?.hookDone(w.file),
      // Its stream has no command any more (a reload): retention need not wait for it (as at the next start).
      onDropped: (w, reason) => reason === 'hook_removed' && this.index?.hookDone(w.file),
    });
    this.topology = new Topology(build, { ...lanes, clock: this.clock, abort: this.fetchAbort.signal }, this.sinks);
    this.topology.init(loaded.streams);
  }

  private get units(): Map<string, StreamUnit> {
    return this.topology.units;
  }

  /** The disk guard, when output.min_free is set: retention plugs in as `diskGuard.freeSpace = …`. */
  get diskGuard(): DiskGuard | undefined {
    return this.guard;
  }

  get streams(): ReadonlyMap<string, { stats: StreamStats; queueDepth: number }> {
    const lanes = [this.eventsLane, ...[...this.units.values()].flatMap((u) => u.lanes)];
    return new Map(lanes.map((l) => [l.name, { stats: l.stats, queueDepth: l.queue.depth }]));
  }

  async start(): Promise<void> {
    prepareOutputDir(this.outputDir);
    this.releaseLock = lockOutputDir(this.outputDir);
    this.startedAt = this.clock.now();
    const units = [...this.units.values()];
    try {
      // Recovery reads the directory before any window of this run is opened, so
      // it can only ever see what an earlier run left.
      const leftovers = await recoverDirectory(this.outputDir);
      this.openIndex();
      await this.sinks.start(units);
      this.sinksStarted();
      if (this.loaded.control.enabled) await this.startControl();
      for (const u of units) await u.open(true);
      this.eventsLane.start();
      for (const u of units) u.startLanes();
      this.events.emit('start', startEvent(this.loaded, units, { version: this.opts.version, outputDir: this.outputDir }));
      this.reportRecovery(leftovers);
      // After the start event, which stays the first of a run.
      void this.index?.ready.then((check) => {
        if (check) this.reportIndex(check);
        this.resumeHooks();
      });
    } catch (err) {
      // Nothing has been recorded yet: give the directory back and let the error say why.
      clearInterval(this.retentionTimer);
      this.releaseLock?.();
      this.releaseLock = undefined;
      throw err;
    }
    // The guard looks once before the first fetch (a disk already low holds the first records too).
    this.guard?.start();
    // The start is in the events file before the first fetch: a run killed at once still shows it began.
    await Promise.race([Promise.all([this.eventsLane.written(), this.guard?.check()]), sleep(START_EVENT_WAIT_MS)]);
    this.tickingAt = this.clock.now();
    this.topology.activate();
  }

  /**
   * The archive index is checked against the directory beside the recording
   * (after months that reads a large directory); retention starts once it is.
   */
  private openIndex(): void {
    const note: NoteEvent = (event, fields, level, message) => this.events.emit(event, fields, level, message);
    const index = (this.index = new ArchiveIndex(this.outputDir, note, { hookWanted: (stream) => this.hooks.wants(stream) }));
    const global = retentionPolicy(this.loaded.config.output.retention);
    // Retention waits for the sinks to start: until then they cannot say what they still read back.
    const sinksStarted = new Promise<void>((resolve) => (this.sinksStarted = resolve));
    // Built always: a reload may give a stream a retention of its own (output.retention needs a restart).
    this.retention = new Retention({
      ready: sinksStarted,
      index,
      global,
      policyOf: (stream) => retentionPolicy(this.streamOptions(stream)?.retention as { max_age?: number; max_bytes?: number } | undefined),
      unzippedBytes: () => this.unzippedBytes(),
      readBackFrom: (stream) => this.sinks.readBackFrom(stream),
      note,
      now: () => this.clock.now(),
    });
    // Below output.min_free, the disk guard asks retention for room before it holds the records.
    if (this.guard && !this.guard.freeSpace) this.guard.freeSpace = (need) => this.retention?.freeSpace(need) ?? Promise.resolve(0);
    // Sizes grow with the open windows between zips: a byte limit is checked every second, ages every 10 s.
    let tick = 0;
    this.retentionTimer = setInterval(() => {
      const limits = this.retentionLimits();
      if (limits.any && (limits.bytes || tick++ % 10 === 0)) void this.retention?.enforce();
    }, 1000);
    this.retentionTimer.unref();
    void index.ready.then(() => this.retention?.enforce());
  }

  /** Whether any retention limit is set now (a reload may add or remove a stream's own), and a byte limit among them. */
  private retentionLimits(): { any: boolean; bytes: boolean } {
    const policies = [retentionPolicy(this.loaded.config.output.retention), ...this.loaded.streams.map((s) => retentionPolicy(s.options.retention as { max_age?: number; max_bytes?: number } | undefined))];
    return { any: policies.some((p) => p !== undefined), bytes: policies.some((p) => p?.maxBytes !== undefined) };
  }

  private reportIndex(check: IndexCheck): void {
    // A new output directory: the index is simply begun.
    if (check.rebuilt === 'missing' && check.windows === 0) this.log.debug({ ...check }, 'archive index begun');
    else if (check.rebuilt) this.events.emit('index_rebuilt', { reason: check.rebuilt, windows: check.windows, ms: check.ms }, 'warn', `the archive index was ${check.rebuilt}; rebuilt from the zips`);
    else if (check.added || check.gone || check.completed || check.cutBytes) this.events.emit('index_checked', { added: check.added, gone: check.gone, completed_removals: check.completed, cut_bytes: check.cutBytes, windows: check.windows, ms: check.ms }, 'warn');
    else this.log.debug({ ...check }, 'archive index checked');
  }

  /** A stream's on_window command: its own, else output.on_window (`false` on the stream turns it off). */
  private hookFor(stream: string): WindowHookSettings | undefined {
    return windowHookFor(this.loaded.config.output.on_window, this.streamOptions(stream)?.on_window as WindowHookSettings | false | undefined);
  }

  /** Zips whose hook had not succeeded when the last run ended are tried again; a stream that has no hook any more lets them go. */
  private resumeHooks(): void {
    for (const z of this.index?.zips.values() ?? []) {
      if (!z.flags.includes(HOOK_PENDING)) continue;
      const stream = parseOutputFile(z.file)?.stream ?? '';
      if (this.hooks.wants(stream)) this.hooks.submit({ stream, file: z.file, path: path.join(this.outputDir, z.file), records: z.records, first: z.first, last: z.last, bytes: z.bytes, zipBytes: z.zipBytes, windowStart: z.start });
      else {
        this.index!.hookDone(z.file);
        this.events.emit('window_hook_skipped', { stream, file: z.file, reason: 'hook_removed' }, 'warn', `${z.file}: its on_window hook had not succeeded, and the stream has no hook any more: it is no longer waited for`);
      }
    }
  }

  /** The validated options of the stream a lane belongs to (an extra output shares its stream's). */
  private streamOptions(lane: string): Record<string, unknown> | undefined {
    for (const u of this.units.values()) if (u.lanes.some((l) => l.name === lane)) return u.config.options;
    return undefined;
  }

  /** Window files not zipped yet, per stream: the open ones and those waiting for compression. */
  private unzippedBytes(): Map<string, number> {
    const bytes = this.compressor.unzippedBytes();
    for (const lane of [this.eventsLane, ...[...this.units.values()].flatMap((u) => u.lanes)]) {
      const open = lane.writer.openWindow;
      if (open) bytes.set(lane.name, (bytes.get(lane.name) ?? 0) + open.bytes);
    }
    return bytes;
  }

  /** A window is in its zip: into the index, then retention may act. */
  private zipped(w: ClosedWindow, zipBytes: number): void {
    const file = zipName(w.base, w.ext);
    const hook = this.hooks.wants(w.stream);
    // Pending in the index until it succeeds: retention waits, and the next start tries again.
    const flags = (hook ? HOOK_PENDING : '') + (w.marked === 0 ? RUN_MARKS_NONE : '');
    this.index?.zipped({ file, start: w.windowStart, records: w.records, first: w.first, last: w.last, bytes: w.bytes, zipBytes, flags });
    if (hook) this.hooks.submit({ stream: w.stream, file, path: path.join(w.dir, file), records: w.records, first: w.first, last: w.last, bytes: w.bytes, zipBytes, windowStart: w.windowStart });
    if (this.retention && this.retentionLimits().any) void this.retention.enforce();
  }

  private reportRecovery({ actions, windows, unsafe }: RecoveryResult): void {
    for (const a of actions) this.events.emit('recovery', { ...a }, a.action === 'unreadable' ? 'error' : 'warn');
    for (const u of unsafe) this.events.emit('unsafe_file', { ...u, action: 'left_alone' }, 'error', unsafeFileMessage(u.file, u.found));
    for (const w of windows) {
      this.events.emit('recovery', { action: 'compress_leftover', file: jsonName(w.base, w.ext), stream: w.stream, records: w.records }, 'warn');
      this.compressor.compress(w);
    }
  }

  /** Starts the control server and writes its URL into the lock, where `nsr status` finds it. */
  private async startControl(): Promise<void> {
    const { server, removeToken } = await startControlPlane(this.outputDir, this.controlView(), this.loaded.control, this.log);
    this.control = server;
    const release = this.releaseLock;
    this.releaseLock = () => {
      removeToken();
      release?.();
    };
  }

  /**
   * Reloads the configuration file (SIGHUP, POST /reload). Streams that were
   * added start at the next tick; removed ones finish their fetch, write what
   * they hold and close their window; changed ones do both. Other streams are
   * not touched. An invalid file, or a stream that cannot be built, throws and
   * changes nothing. Settings outside `streams` need a restart: they are named
   * in the result.
   */
  reload(): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadResult> {
    if (this.stopping) throw new Error('the recorder is stopping');
    const { loadConfig } = await import('../config/loader.js');
    let next: LoadedConfig;
    let diff: StreamsDiff;
    try {
      next = loadConfig(this.loaded.file);
      diff = await this.topology.apply(this.loaded.streams, next.streams);
    } catch (err) {
      this.events.emit('reload_rejected', { error: (err as Error).message }, 'error', 'reload rejected; the running configuration stays');
      throw err;
    }
    const restart = settingsNeedingRestart(this.loaded.config, next.config);
    this.loaded = { ...this.loaded, streams: next.streams, config: { ...this.loaded.config, streams: next.config.streams } };
    this.hooks.settingsChanged();
    const result = { ...diff, restart_required: restart };
    this.events.emit('reload', result, 'info', `configuration reloaded: ${diff.added.length} added, ${diff.removed.length} removed, ${diff.changed.length} changed`);
    return result;
  }

  /**
   * Adds a stream at run time (a control command). It is checked like one in
   * the configuration file, kept in the runtime file (so it survives a
   * restart), and started by a reload.
   */
  async addStream(name: string, raw: Record<string, unknown>): Promise<ReloadResult> {
    const { loadConfig } = await import('../config/loader.js');
    const badName = streamNameProblem(name);
    if (badName) throw new ConfigError(`streams.${name}: ${badName}`);
    if (this.topology.has(name) || name === EVENTS_STREAM) {
      throw new ConfigError(`a stream "${name}" exists already: remove it first or choose another name`);
    }
    const rt = readRuntimeStreams(this.outputDir);
    checkRuntimeRoom(rt, name, this.loaded.file);
    // Checked like the file's streams, and for secrets the file does not allow (runtime-secrets.ts), before anything is kept.
    const candidate = { added: { ...rt.added, [name]: raw }, removed: rt.removed.filter((n) => n !== name) };
    loadConfig(this.loaded.file, process.env, candidate); // throws ConfigError naming streams.<name>.<key>
    writeRuntimeStreams(this.outputDir, candidate);
    return this.reload();
  }

  /** Removes a stream at run time, from the file's streams or the runtime ones; kept across restarts. */
  async removeStream(name: string): Promise<ReloadResult | undefined> {
    if (!this.units.has(name)) return undefined;
    const rt = readRuntimeStreams(this.outputDir);
    const { [name]: _gone, ...added } = rt.added;
    const fromFile = !Object.hasOwn(rt.added, name);
    writeRuntimeStreams(this.outputDir, { added, removed: fromFile ? [...new Set([...rt.removed, name])] : rt.removed });
    return this.reload();
  }

  /** Closes every open window now (a control command); they are compressed as usual. */
  async rotate(): Promise<number> {
    const open = [this.eventsLane, ...[...this.units.values()].flatMap((u) => u.lanes)].filter((l) => l.writer.openWindow);
    await Promise.all(open.map((l) => l.rotate()));
    this.events.emit('rotation', { reason: 'command', windows: open.length, streams: open.map((l) => l.name) });
    return open.length;
  }

  /** Pauses or resumes a data stream; undefined when there is none of that name. */
  setPaused(name: string, paused: boolean): boolean | undefined {
    const unit = this.units.get(name);
    if (!unit) return undefined;
    if (unit.setPaused(paused)) this.events.emit(paused ? 'stream_paused' : 'stream_resumed', { stream: name }, 'info', `${name}: ${paused ? 'paused' : 'resumed'} by a control command`);
    return paused;
  }

  /**
   * Stops the recorder (DESIGN 2.6, shutdown.ts). `hurryStop()` (a second
   * signal) skips compression; the deadline does the same on its own. Returns
   * once every fetched record is in a closed, fsynced window file.
   */
  stop(reason: string, deadlineMs = this.loaded.config.shutdown.deadline): Promise<StopResult> {
    this.stopping ??= this.reloading.then(() =>
      shutdown(
        {
          units: [...this.units.values()],
          eventsLane: this.eventsLane,
          sinks: this.sinks,
          compressor: this.compressor,
          note: (event, fields, level, message) => this.events.emit(event, fields, level, message),
          log: this.log,
          hurry: this.hurry,
          now: () => this.clock.now(),
          startedAt: this.startedAt,
          graceMs: this.loaded.config.shutdown.grace,
          abortFetches: () => this.fetchAbort.abort(),
          closeEvents: () => (this.eventsClosed = true),
          release: async () => {
            this.guard?.stop();
            clearInterval(this.retentionTimer);
            await this.retention?.stop();
            // A hook still running is ended; its window stays pending and is tried again at the next start.
            await this.hooks.stop(this.loaded.config.shutdown.grace);
            this.index?.close();
            await this.control?.close();
            this.releaseLock?.();
            // With nothing more to write, the index says the directory holds what it lists: readers need not list it.
            if (!this.hurry.on) await this.index?.seal();
          },
        },
        reason,
        deadlineMs,
      ),
    );
    return this.stopping;
  }

  hurryStop(): void {
    if (this.hurry.set()) this.log.warn('second signal: skipping compression; window files are compressed at the next start');
  }

  /** Live, read-only references for the control plane (see src/control/view.ts). */
  controlView(): RecorderView {
    return controlView({
      version: this.opts.version ?? 'unknown',
      outputDir: this.outputDir,
      now: () => this.clock.now(),
      startedAt: () => this.startedAt,
      tickingAt: () => this.tickingAt,
      stopping: () => this.stopping !== undefined,
      units: () => this.units.values(),
      eventsLane: this.eventsLane,
      compressionBacklog: () => this.compressor.backlog,
      disk: this.guard && (() => this.guard!.view()),
      compressionSeconds: this.compressor.seconds,
      recentEvents: () => this.events.recent(),
      commands: {
        rotate: () => this.rotate(),
        setPaused: (name, paused) => this.setPaused(name, paused),
        reload: () => this.reload(),
        addStream: (name, raw) => this.addStream(name, raw),
        removeStream: (name) => this.removeStream(name),
      },
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
