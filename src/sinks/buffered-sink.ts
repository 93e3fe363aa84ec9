/**
 * What the database and the message-bus sinks share: records reach them after
 * their line is in its window file, wait in a bounded buffer per stream, are
 * written in batches by a SinkWriter, and are retried with back-off while it
 * fails. Nothing is lost when the destination is away: past the buffer, the
 * memory is let go and the stream is read back from its window files when it
 * returns. The oldest record the destination may miss is kept per stream in a
 * state file beside the windows (written after each successful batch and at
 * stop), so a restart, even after SIGKILL, reads back what may be missing.
 * Writers must take a record sent twice without harm (keys, ids).
 */
import path from 'node:path';
import { readCatalog } from '../archive/catalog.js';
import { readOwnFileSync, replaceOwnFileSync, UnsafeFileError } from '../fs/safe-files.js';
import { readRecords } from '../archive/records.js';
import type { NoteEvent } from '../logging/note-event.js';
import type { Sink, SinkFeed } from './kind.js';

export interface Pending {
  ts: number;
  line: Buffer;
  /** The tick it was fetched at (unknown for records read back from the window files). */
  tick?: number;
}

export interface SinkStream {
  name: string;
  /** The source kind of the stream (probe records have a table of their own). */
  kind: string;
  /** The stream's settings for this sink (a routing key, a history table). */
  settings: unknown;
}

export interface SinkWriter {
  /** For events and logs, without credentials. */
  readonly describe: string;
  /**
   * Writes one stream's batch; throws when it could not (the batch is sent
   * again). Records the destination refuses for what they are (they would be
   * refused again) are returned: they stay in the window files, and are reported.
   */
  write(stream: SinkStream, batch: Pending[]): Promise<void | Rejected[]>;
  /** True while the destination asked to wait (back-pressure): a stop then leaves the rest to the next start. */
  holding?(): boolean;
  close(): Promise<void>;
}

export interface Rejected {
  ts: number;
  error: string;
}

export interface BufferedSinkOptions {
  /** `postgres`, `amqp`: in events and the state file's name. */
  sink: string;
  dir: string;
  batch: number;
  flushIntervalMs: number;
  buffer: number;
}


interface StreamState extends SinkStream {
  buffer: Pending[];
  /** Records at or after this time may be missing from the database: read them back from the window files. */
  readBackFrom?: number;
  /** Records let go while a read-back was running: the next read-back starts here. */
  spilledFrom?: number;
  /** Every record older than this is in the database (persisted). */
  insertedBelow?: number;
  inserted: number;
  spilled: number;
}

export interface SinkStats {
  stream: string;
  buffered: number;
  inserted: number;
  read_back_from?: number;
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

export class BufferedSink implements Sink {
  private readonly streams = new Map<string, StreamState>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private down: { since: number; error: string } | undefined;
  private retryAt = 0;
  private backoff = RETRY_MIN_MS;
  private stateWritten = '';
  private unsafeReported = false;
  private closed = false;

  constructor(
    private readonly writer: SinkWriter,
    private readonly opts: BufferedSinkOptions,
    private readonly note: NoteEvent,
  ) {}

  private get stateFile(): string {
    return path.join(this.opts.dir, `.nsr.${this.opts.sink}.json`);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.opts.flushIntervalMs);
  }

  /** The destination could not be reached at start: records wait, and the events say so. */
  unreachable(err: Error): void {
    this.failed(err);
  }

  /** A stream whose records go to the destination; read back from where the last run left it. */
  addStream({ stream: name, kind, settings }: SinkFeed): void {
    if (this.streams.has(name)) return;
    const saved = this.readState()[name];
    const s: StreamState = { name, kind, settings, buffer: [], inserted: 0, spilled: 0, insertedBelow: saved, readBackFrom: saved };
    this.streams.set(name, s);
  }

  /** A record whose line is in its window file. */
  offer(name: string, ts: number, line: Buffer, tick?: number): void {
    const s = this.streams.get(name);
    if (!s) return;
    if (s.buffer.length >= this.opts.buffer) {
      // Memory stays bounded: these records are in the window files and are read back from there.
      const first = s.readBackFrom === undefined && s.spilledFrom === undefined;
      // Kept apart from a read-back that may be running (and moving readBackFrom on): it starts the next one.
      s.spilledFrom = Math.min(s.spilledFrom ?? Infinity, s.buffer[0].ts);
      s.spilled += s.buffer.length;
      // Reported once until the read-back, not at every refill of the buffer.
      if (first) this.note('sink_spilled', { sink: this.opts.sink, stream: name, records: s.buffer.length, read_back_from: s.spilledFrom }, 'warn', `${name}: ${this.writer.describe} is away and ${s.buffer.length} records are waiting; they will be read back from the window files`);
      s.buffer = [];
    }
    s.buffer.push({ ts, line, tick });
    if (s.buffer.length >= this.opts.batch && !this.down) void this.flush();
  }

  /** Records from here on may be missing at the destination: their windows are read back (and kept by retention). */
  readBackFrom(stream: string): number | undefined {
    const s = this.streams.get(stream);
    return s && oldest(s.readBackFrom, s.spilledFrom, s.buffer[0]?.ts, s.insertedBelow);
  }

  stats(): SinkStats[] {
    return [...this.streams.values()].map((s) => ({ stream: s.name, buffered: s.buffer.length, inserted: s.inserted, read_back_from: oldest(s.readBackFrom, s.spilledFrom) }));
  }

  /** Writes what waits, one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.flushNow().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    if (this.down && Date.now() < this.retryAt) return;
    try {
      for (const s of this.streams.values()) {
        if (s.readBackFrom === undefined && s.spilledFrom !== undefined) {
          s.readBackFrom = s.spilledFrom;
          s.spilledFrom = undefined;
        }
        if (s.readBackFrom !== undefined) await this.readBack(s);
        while (s.buffer.length) {
          const batch = s.buffer.slice(0, this.opts.batch);
          await this.insert(s, batch);
          s.buffer.splice(0, batch.length);
          s.insertedBelow = oldest(s.readBackFrom, s.spilledFrom, s.buffer[0]?.ts) ?? batch[batch.length - 1].ts + 1;
        }
      }
      this.recovered();
    } catch (err) {
      this.failed(err as Error);
    }
    this.saveState();
  }

  /** Reads the stream's window files from `readBackFrom` on and inserts every record (those already there are skipped by the database). */
  private async readBack(s: StreamState): Promise<void> {
    const from = s.readBackFrom!;
    const [catalog] = await readCatalog(this.opts.dir, { streams: [s.name], range: { from } });
    let batch: Pending[] = [];
    let count = 0;
    if (catalog) {
      for await (const r of readRecords(catalog, { from })) {
        batch.push({ ts: r.timestamp, line: r.line });
        if (batch.length >= this.opts.batch) {
          await this.insert(s, batch);
          count += batch.length;
          s.readBackFrom = s.insertedBelow = batch[batch.length - 1].ts;
          this.saveState();
          batch = [];
        }
      }
    }
    if (batch.length) await this.insert(s, batch);
    count += batch.length;
    s.readBackFrom = undefined;
    s.insertedBelow = oldest(s.spilledFrom, s.buffer[0]?.ts) ?? (batch.length ? batch[batch.length - 1].ts + 1 : from);
    this.note('sink_read_back', { sink: this.opts.sink, stream: s.name, from, records: count }, 'info', `${s.name}: ${count} records read back from the window files into ${this.writer.describe}`);
  }

  private async insert(s: StreamState, batch: Pending[]): Promise<void> {
    const rejected = (await this.writer.write(s, batch)) ?? [];
    s.inserted += batch.length - rejected.length;
    if (rejected.length) {
      this.note('sink_rejected', { sink: this.opts.sink, stream: s.name, records: rejected.length, first: rejected.slice(0, 5) }, 'error', `${s.name}: ${this.writer.describe} refused ${rejected.length} records (${rejected[0].error}); they stay in the window files`);
    }
  }

  private failed(err: Error): void {
    this.retryAt = Date.now() + this.backoff;
    this.backoff = Math.min(RETRY_MAX_MS, this.backoff * 2);
    if (this.down) return;
    this.down = { since: Date.now(), error: err.message };
    const buffered = [...this.streams.values()].reduce((n, s) => n + s.buffer.length, 0);
    this.note('sink_error', { sink: this.opts.sink, to: this.writer.describe, message: err.message, buffered }, 'error', `cannot write to ${this.writer.describe} (${err.message}); records wait and are retried`);
  }

  private recovered(): void {
    this.backoff = RETRY_MIN_MS;
    if (!this.down) return;
    this.note('sink_recovered', { sink: this.opts.sink, to: this.writer.describe, down_ms: Date.now() - this.down.since }, 'info', `writing to ${this.writer.describe} again`);
    this.down = undefined;
  }

  private readState(): Record<string, number> {
    try {
      const text = readOwnFileSync(this.stateFile);
      return text === undefined ? {} : (JSON.parse(text.toString('utf8')).inserted_below ?? {});
    } catch (err) {
      if (err instanceof UnsafeFileError) this.unsafeState(err);
      return {};
    }
  }

  /** The marks, written whole under a fresh temporary and renamed (never half a file, never through a link). */
  private saveState(): void {
    const marks = Object.fromEntries([...this.streams.values()].map((s) => [s.name, oldest(s.readBackFrom, s.spilledFrom, s.buffer[0]?.ts) ?? s.insertedBelow]).filter(([, v]) => v !== undefined));
    const text = JSON.stringify({ to: this.writer.describe, inserted_below: { ...this.readState(), ...marks } });
    if (text === this.stateWritten) return;
    try {
      replaceOwnFileSync(this.stateFile, text);
      this.stateWritten = text;
    } catch (err) {
      if (err instanceof UnsafeFileError) this.unsafeState(err);
      else this.note('sink_state_error', { sink: this.opts.sink, message: (err as Error).message }, 'error');
    }
  }

  /** A link (or the like) where the state file goes: left alone, reported once; the marks then live in memory only. */
  private unsafeState(err: UnsafeFileError): void {
    if (this.unsafeReported) return;
    this.unsafeReported = true;
    this.note('unsafe_file', { sink: this.opts.sink, file: path.basename(err.file), found: err.found, action: 'left_alone' }, 'error', `${err.message}; until it is removed, what ${this.writer.describe} may be missing is not kept across a restart`);
  }

  /**
   * At stop, after the last records are in their window files: writes what
   * waits, until `deadline` or until the database fails; what is still waiting
   * then is read back from the window files at the next start.
   */
  async close(deadline: number): Promise<{ unwritten: number }> {
    if (this.closed) return { unwritten: 0 };
    this.closed = true;
    clearInterval(this.timer);
    this.retryAt = 0; // one more try now, whatever the back-off
    while (Date.now() < deadline) {
      // A write that hangs (a half-open connection) does not hold the stop past its deadline.
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
      const waiting = [...this.streams.values()].some((s) => s.buffer.length || s.readBackFrom !== undefined || s.spilledFrom !== undefined);
      // A database that is away does not hold up the stop: the mark brings the rest in at the next start.
      if (!waiting || this.down || this.writer.holding?.()) break;
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
    }
    this.saveState();
    const unwritten = [...this.streams.values()].reduce((n, s) => n + s.buffer.length, 0);
    await this.writer.close().catch(() => {});
    return { unwritten };
  }
}

/** The oldest of the times given, undefined when none is. */
function oldest(...times: (number | undefined)[]): number | undefined {
  const known = times.filter((t): t is number => t !== undefined);
  return known.length ? Math.min(...known) : undefined;
}

/** The record line without its newline. */
export function lineText(line: Buffer): string {
  const end = line[line.length - 1] === 0x0a ? line.length - 1 : line.length;
  return line.toString('utf8', 0, end);
}
