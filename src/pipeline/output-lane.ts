/**
 * One output of a stream, from its queue to the zip: records wait in a
 * bounded queue, are appended to the window file in order, then (and only
 * then) the source hears they are written and the sinks get them; closed
 * windows go to compression. A stream has one lane of its own and one per
 * extra output (a joined view); the events stream is a lane too.
 */
import { recordEncoder, type RecordEncoder } from './record.js';
import { unsafeFileMessage } from '../fs/safe-files.js';
import { BoundedQueue } from './bounded-queue.js';
import { StreamStats } from './stream-stats.js';
import type { Payload } from './payload.js';
import type { Logger } from '../logging/logger.js';
import type { NoteEvent } from '../logging/note-event.js';
import type { Sink } from '../sinks/kind.js';
import { WindowWriter, type WindowWriterOptions } from '../sinks/window-writer.js';
import type { RecordShape } from '../sources/source.js';
import type { WindowCompressor } from './window-compressor.js';
import type { DiskGate } from './disk-guard.js';
import { isRunMark } from '../logging/run-marks.js';
import { noteRecordBytes } from './young-gc.js';

/** How long after its end a window is closed when no record closes it first. */
const CLOSE_SLACK_MS = 1000;
/** Pause before retrying a failed write (disk full, I/O error). */
const WRITE_RETRY_MS = 1000;
/** A quiet lane still looks at its window this often, to close it on time. */
const IDLE_CHECK_MS = 1000;
/**
 * At a stop, writes are retried until they have failed for this long (a
 * failure that began long before the stop gets one more try), not until the
 * deadline: what is still queued then is reported unwritten (the stop exits 1).
 */
const STOP_WRITE_RETRY_MS = 5000;

export interface LaneContext {
  log: Logger;
  /** The events stream; for the events lane itself, errors are only logged (its own write is what failed). */
  note: NoteEvent;
  compressor: WindowCompressor;
  now(): number;
  /** A second signal or the deadline: a failing write stops retrying, what is queued stays unwritten (and is reported). */
  hurried(): boolean;
  queue: { maxRecords: number; maxBytes: number };
  window: Omit<WindowWriterOptions, 'stream' | 'windowMs' | 'now'>;
  /** The disk guard (output.min_free), when set: while it is low, data lanes hold their records in their queues. */
  disk?: DiskGate;
}

export interface LaneClose {
  /** Asked once the window is closed: false (a hurried stop) leaves it for the next start. */
  compress?: () => boolean;
  /** The recorder's stop, not a reload: writes failing for a while are given up and reported. */
  atStop?: boolean;
  /** Called once the queue is written (or given up), before the window is closed. */
  onDrained?: () => void;
}

export class OutputLane {
  readonly queue: BoundedQueue<Payload>;
  readonly writer: WindowWriter;
  readonly stats = new StreamStats();
  /** Where each record also goes once written (postgres, amqp, csv, …). */
  readonly sinks: Sink[] = [];
  private readonly encode: RecordEncoder | undefined;
  private consumer: Promise<void> | undefined;
  private closing = false;
  /** Closing for the recorder's stop (not a reload): writes that keep failing are given up after a while. */
  private atStop = false;
  /** Since when (performance.now(), immune to clock steps) writes have failed: bounds their retries at a stop. */
  private failingSince = 0;
  private rotateWaiters: (() => void)[] = [];
  /** Ends a wait for the disk guard early (a close, a rotation, the idle check). */
  private diskWake: AbortController | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    windowMs: number,
    shape: RecordShape | undefined,
    private readonly ctx: LaneContext,
    /** False for the events lane: its own troubles cannot be events. */
    private readonly reportsEvents = true,
  ) {
    this.encode = shape && recordEncoder(shape);
    this.queue = new BoundedQueue<Payload>(ctx.queue.maxRecords, ctx.queue.maxBytes, (p) => p.line.length);
    // The events lane counts its run marks per window: `nsr stats` opens only the events windows that hold one.
    const countMarked = reportsEvents ? undefined : isRunMark;
    this.writer = new WindowWriter({ ...ctx.window, stream: name, windowMs, now: ctx.now, countMarked, onUnsafeFile: (u) => this.unsafeFile(u) });
  }

  /** A record on its way to the window file; its timestamp is when it arrived unless it brings its own (DESIGN 2.1). */
  push(tick: number, scheduledAt: number, body: Buffer, onWritten?: () => void, timestamp?: number): void {
    const receivedAt = timestamp ?? this.ctx.now();
    const line = this.encode!(receivedAt, body);
    this.queue.push({ stream: this.name, tick, scheduledAt, receivedAt, line, onWritten });
    noteRecordBytes(line.length);
    if (receivedAt < this.stats.lastRecordAt) {
      this.ctx.note('clock_backwards', { stream: this.name, previous: this.stats.lastRecordAt, now: receivedAt }, 'warn', 'the wall clock went backwards');
    }
    this.stats.lastRecordAt = receivedAt;
  }

  /** A line made elsewhere (the events stream's). */
  pushLine(payload: Payload): void {
    this.queue.push(payload);
  }

  start(): void {
    this.consumer ??= this.consume();
  }

  /**
   * Writes what is queued, closes the window and hands it to compression
   * (unless `compress()` says no by then: a hurried stop leaves it for the next start).
   * Resolves with how many records stayed unwritten.
   */
  async close(opts: LaneClose = {}): Promise<number> {
    const { compress = () => true } = opts;
    this.closing = true;
    this.atStop = opts.atStop ?? false;
    this.queue.wake();
    this.diskWake?.abort();
    await this.consumer;
    // Nothing more is written from here: what arrives now (a late event) must know it.
    opts.onDrained?.();
    await this.writer.close();
    this.collectWindows(compress());
    return this.queue.depth;
  }

  /** Resolves once every record queued so far is in the window file (the start event is written before the first fetch). */
  written(): Promise<void> {
    if (this.queue.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Closes the open window between two writes (a control command); resolves once it is closed. */
  rotate(): Promise<void> {
    if (!this.writer.openWindow || this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      this.rotateWaiters.push(resolve);
      this.queue.wake();
      this.diskWake?.abort();
    });
  }

  /** Writes the queue into windows, in order, until the lane closes and its queue is empty. */
  private async consume(): Promise<void> {
    for (;;) {
      // Rotation happens here, between two writes, so it never closes a window under one.
      if (this.rotateWaiters.length) {
        const waiters = this.rotateWaiters;
        this.rotateWaiters = [];
        await this.writer.close();
        this.collectWindows();
        waiters.forEach((w) => w());
      }
      const item = this.queue.peek();
      if (!item) {
        if (this.idleWaiters.length) this.idleWaiters.splice(0).forEach((w) => w());
        if (this.closing) return;
        await this.waitForItem();
        await this.writer.syncIfDue();
        await this.writer.closeIfDue(this.ctx.now(), CLOSE_SLACK_MS);
        this.collectWindows();
        continue;
      }
      if (this.holdsForDisk()) {
        await this.waitForDisk();
        continue;
      }
      try {
        await this.writer.append(item.line, item.receivedAt);
        if (this.stats.writeFailingSince !== undefined) this.ctx.note('write_recovered', { stream: this.name }, 'info');
        this.stats.writeFailingSince = undefined;
        this.stats.writeError = undefined;
      } catch (err) {
        this.collectWindows(); // a window closed before the failure still goes to compression
        const e = err as NodeJS.ErrnoException;
        if (this.stats.writeFailingSince === undefined) {
          const fields = { stream: this.name, code: e.code, message: e.message, queued: this.queue.depth };
          if (this.reportsEvents) this.ctx.note('write_error', fields, 'error', `${this.name}: cannot write window file, retrying`);
          else this.ctx.log.error(fields, `${this.name}: cannot write window file, retrying`);
          // /healthz reports the lane from now until a write succeeds.
          this.stats.writeFailingSince = this.ctx.now();
          this.failingSince = performance.now();
        }
        this.stats.writeError = { code: e.code, message: e.message };
        if (this.ctx.hurried() || this.giveUpAtStop()) return; // what is queued now stays unwritten, reported at stop
        await new Promise((r) => setTimeout(r, WRITE_RETRY_MS));
        continue;
      }
      this.queue.shift();
      this.stats.records++;
      this.stats.bytes += item.line.length;
      // A source's own callback (checkpoint, ack) must not pass for a failed write of the next record.
      try {
        item.onWritten?.();
      } catch (err) {
        this.ctx.log.error({ stream: this.name, err }, 'a source failed to take note that its record was written');
      }
      for (const sink of this.sinks) sink.offer(this.name, item.receivedAt, item.line, item.tick);
      this.collectWindows();
    }
  }

  /**
   * The disk is below output.min_free: records wait in the queue. Not in the
   * events lane (events are small, and must record disk_low itself), nor once
   * the lane closes (a stop, a hurried stop, a reload taking the stream out):
   * records in memory would be lost or the stop held up, and min_free is a
   * margin, not a full disk.
   */
  private holdsForDisk(): boolean {
    return this.reportsEvents && this.ctx.disk?.low === true && !this.closing && !this.ctx.hurried();
  }

  /** Waits for the guard, up to IDLE_CHECK_MS; meanwhile the open window still closes on time and goes to compression (its zip then frees most of the .json's space). */
  private async waitForDisk(): Promise<void> {
    const wake = new AbortController();
    this.diskWake = wake;
    const timer = setTimeout(() => wake.abort(), IDLE_CHECK_MS);
    await this.ctx.disk!.whenOk(wake.signal);
    clearTimeout(timer);
    this.diskWake = undefined;
    await this.writer.syncIfDue();
    await this.writer.closeIfDue(this.ctx.now(), CLOSE_SLACK_MS);
    this.collectWindows();
  }

  /** At a stop, writes failing for STOP_WRITE_RETRY_MS are given up (and reported): retrying until the deadline would only delay the same report. */
  private giveUpAtStop(): boolean {
    const failingMs = performance.now() - this.failingSince;
    if (!this.atStop || failingMs < STOP_WRITE_RETRY_MS) return false;
    const fields = { stream: this.name, unwritten: this.queue.depth, code: this.stats.writeError?.code, failing_ms: Math.round(failingMs) };
    const message = `${this.name}: the window file still cannot be written at the stop; ${this.queue.depth} records stay unwritten`;
    if (this.reportsEvents) this.ctx.note('write_abandoned', fields, 'error', message);
    else this.ctx.log.error(fields, message);
    return true;
  }

  /** A symlink or the like at a window's name: reported; the window took the next free name. */
  private unsafeFile(u: { file: string; found: string; window: string }): void {
    const fields = { stream: this.name, file: u.file, found: u.found, action: 'left_alone', window: u.window };
    const message = `${unsafeFileMessage(u.file, u.found)}; the window is written as ${u.window}`;
    if (this.reportsEvents) this.ctx.note('unsafe_file', fields, 'error', message);
    else this.ctx.log.error(fields, message);
  }

  private waitForItem(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.queue.wake(), IDLE_CHECK_MS);
      this.queue.whenNotEmpty().then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Hands the writer's closed windows to compression and reports a failed fsync. */
  private collectWindows(compress = true): void {
    for (const w of this.writer.takeClosed()) if (compress) this.ctx.compressor.compress(w, this.reportsEvents);
    const err = this.writer.takeSyncError() as NodeJS.ErrnoException | undefined;
    if (!err) return;
    const fields = { stream: this.name, code: err.code, message: err.message };
    if (this.reportsEvents) this.ctx.note('sync_error', fields, 'error', `${this.name}: cannot force the window file to disk (records are written; at risk only on power loss)`);
    else this.ctx.log.error(fields, 'cannot force a window file to disk');
  }
}
