/**
 * Closed windows on their way into zips: submitted to the compression pool,
 * reported, and retried with back-off while the recorder runs (the disk may
 * have filled up and be freed). A window whose compression failed keeps its
 * `.json`; the next start compresses it.
 */
import path from 'node:path';
import { CompressionPool } from '../compress/compression-pool.js';
import { gzipProgram } from '../compress/gzip-program.js';
import { encodeZipComment } from '../compress/zip-meta.js';
import type { Logger } from '../logging/logger.js';
import type { NoteEvent } from '../logging/note-event.js';
import { jsonName, zipName } from '../sinks/window-naming.js';
import type { ClosedWindow } from '../sinks/window-writer.js';
import { COMPRESS_SECONDS_BUCKETS, DurationHistogram } from './histogram.js';

/** First pause before compressing a window again after its job failed; doubles up to the max. */
const COMPRESS_RETRY_MS = 5000;
const COMPRESS_RETRY_MAX_MS = 300_000;

export interface WindowCompressorOptions {
  workers: number;
  level: number;
  /** `compression.program`: gzip, node, or a path (compress/gzip-program.ts). */
  program: string;
  log: Logger;
  note: NoteEvent;
  /** A window is in its zip (the `.json` is gone): the archive index, the hooks and retention hear of it here. */
  onZipped?: (w: ClosedWindow, zipBytes: number) => void;
}

export class WindowCompressor {
  private readonly pool: CompressionPool;
  private readonly jobs = new Set<Promise<unknown>>();
  /** Windows handed over and not zipped yet (waiting, compressing, failed and waiting for a retry): their files count against a disk budget. */
  private readonly unzipped = new Set<ClosedWindow>();
  /** Windows whose compression failed, waiting to be tried again. */
  private readonly retries = new Map<ClosedWindow, NodeJS.Timeout>();
  /** Set when the stop begins: failures are counted (the .json waits for the next start), not retried. */
  private stopped = false;
  /** Compressions that failed after the stop began. */
  failures = 0;
  /** How long compressing a window took (seconds), for /metrics. */
  readonly seconds = new DurationHistogram(COMPRESS_SECONDS_BUCKETS);

  constructor(private readonly opts: WindowCompressorOptions) {
    this.pool = new CompressionPool({
      workers: opts.workers,
      gzip: gzipProgram(opts.program),
      onWorkerExit: ({ pid, code, signal, error }) => opts.note('compression_worker_died', { pid, code, signal, error }, 'warn'),
      onGzipUnavailable: (error) => opts.note('compression_program_unavailable', { program: opts.program, error }, 'warn', `${error}; windows are compressed by nsr's own worker from now on`),
    });
  }

  /** Windows waiting for or in compression, those waiting for a retry included. */
  get backlog(): number {
    return this.pool.backlog + this.retries.size;
  }

  /** `report`: false for the events stream's own windows once that stream is closed (logged only). */
  /** Bytes of the window files handed over and not zipped yet, per stream. */
  unzippedBytes(into = new Map<string, number>()): Map<string, number> {
    for (const w of this.unzipped) into.set(w.stream, (into.get(w.stream) ?? 0) + w.bytes);
    return into;
  }

  compress(w: ClosedWindow, report = true, attempt = 1): void {
    const { note, log, level } = { ...this.opts, level: this.opts.level };
    this.unzipped.add(w);
    const job = this.pool
      .submit({ jsonPath: w.jsonPath, zipPath: path.join(w.dir, zipName(w.base, w.ext)), entryName: jsonName(w.base, w.ext), level, comment: encodeZipComment(w), mtime: w.last, bytes: w.bytes })
      .then((o) => {
        const fields = { stream: w.stream, file: zipName(w.base, w.ext), records: w.records, first: w.first, last: w.last, bytes: w.bytes, zip_bytes: o.bytesOut, ms: o.ms && Math.round(o.ms) };
        if (o.ok) {
          this.unzipped.delete(w);
          if (o.ms !== undefined) this.seconds.observe(o.ms / 1000);
          try {
            this.opts.onZipped?.(w, o.bytesOut ?? 0);
          } catch (err) {
            log.error({ err, file: zipName(w.base, w.ext) }, 'a zipped window could not be taken note of');
          }
          if (report) note('window_compressed', fields, 'debug');
          else log.debug({ event: 'window_compressed', ...fields }, 'window_compressed (events window, after the events stream closed)');
          return;
        }
        if (this.stopped) this.failures++;
        const retryIn = this.stopped ? undefined : Math.min(COMPRESS_RETRY_MAX_MS, COMPRESS_RETRY_MS * 2 ** (attempt - 1));
        const failed = { ...fields, error: o.error, attempts: o.attempts, kept: jsonName(w.base, w.ext), retry_in_ms: retryIn };
        const message = `cannot compress ${jsonName(w.base, w.ext)}; it stays and is ${retryIn ? `retried in ${Math.round(retryIn / 1000)} s` : 'compressed at the next start'}`;
        if (report) note('compress_failed', failed, 'error', message);
        else log.error(failed, message);
        if (retryIn) {
          const timer = setTimeout(() => {
            this.retries.delete(w);
            if (!this.stopped) this.compress(w, report, attempt + 1);
          }, retryIn);
          timer.unref();
          this.retries.set(w, timer);
        }
      });
    const guarded = job.catch((err) => log.error({ err, file: jsonName(w.base, w.ext) }, 'compression could not be scheduled; the window is compressed at the next start'));
    this.jobs.add(guarded);
    guarded.finally(() => this.jobs.delete(guarded));
  }

  /** The stop begins: windows waiting for a retry get one last try now (none when hurried). */
  beginStop(hurry: boolean): void {
    this.stopped = true;
    for (const [w, timer] of this.retries) {
      clearTimeout(timer);
      if (!hurry) this.compress(w);
    }
    this.retries.clear();
  }

  /** Resolves when every job submitted so far has ended, or when `hurried` does. */
  async drain(hurried: Promise<void>): Promise<void> {
    await Promise.race([this.pool.drain(), hurried]);
    await Promise.race([Promise.allSettled([...this.jobs]), hurried]);
  }

  /** Nothing waits and nothing failed since the stop began. */
  get allDone(): boolean {
    return this.pool.backlog === 0 && this.failures === 0;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
