/**
 * The CSV sink: per stream with `csv:` set, the records' rows go into CSV
 * windows beside the NDJSON ones (`<base>.csv`, zipped to `<base>_csv.zip`),
 * windowed like them (clock-aligned, the stream's window length, the size
 * cap) and written by the same WindowWriter, so fsync policy, torn-write
 * handling and crash recovery are the NDJSON windows' own.
 *
 * A record's rows are written in one append, in the order the records were
 * written to the NDJSON window. Each stream has one loop of its own, like an
 * output lane: it writes what waits, and when nothing does it closes a window
 * whose end has passed, so a quiet stream's CSV still closes on time.
 */
import type { Sink, SinkContext, SinkFeed } from '../kind.js';
import { unsafeFileMessage } from '../../fs/safe-files.js';
import { WindowWriter } from '../window-writer.js';
import { compileLayout, recordRows, type CsvLayout, type CsvSettings } from './csv-row.js';

/** How long after its end a window is closed when no record closes it first (as the NDJSON lanes). */
const CLOSE_SLACK_MS = 1000;
/** A quiet stream still looks at its window this often. */
const IDLE_CHECK_MS = 500;
const WRITE_RETRY_MS = 1000;
/** Records (and their bytes) waiting per stream before more are refused (counted and reported): memory stays bounded if writes keep failing. */
const MAX_PENDING = 10_000;
const MAX_PENDING_BYTES = 256 * 1024 ** 2;
/** After the first rejected record of a stream is reported, further ones are reported together at most this often. */
const REJECT_REPORT_MS = 10_000;
/** How long a stream taken out by a reload may take to write what waits. */
const REMOVE_DEADLINE_MS = 30_000;
/** At a stop, writes are retried until they have failed this long (as the NDJSON lanes do), not until the deadline. */
const STOP_WRITE_RETRY_MS = 5000;

interface Pending {
  ts: number;
  line: Buffer;
}

class CsvStream {
  readonly writer: WindowWriter;
  private readonly pending: Pending[] = [];
  private pendingBytes = 0;
  private wake: (() => void) | undefined;
  private closing = false;
  private deadline = Infinity;
  private readonly loop: Promise<void>;
  private writeFailing = false;
  /** Since when (performance.now()) writes have failed: bounds their retries at a stop. */
  private failingSince = 0;
  /** Records whose rows path is not an array: all of them, and those not yet in an event. */
  private rejected = { total: 0, unreported: 0, found: '', lastReport: 0 };
  /** Records refused because too many waited (never silently: reported at close). */
  private overflow = 0;

  constructor(
    readonly feed: SinkFeed,
    private readonly layout: CsvLayout,
    private readonly ctx: SinkContext,
    /** A stream replaced by a reload: its windows are closed before this one writes. */
    after: Promise<unknown>,
  ) {
    const { output, dir, now } = ctx;
    const onUnsafeFile = (u: { file: string; found: string; window: string }) =>
      ctx.note('unsafe_file', { stream: feed.stream, sink: 'csv', file: u.file, found: u.found, action: 'left_alone', window: u.window }, 'error', `${unsafeFileMessage(u.file, u.found)}; the window is written as ${u.window}`);
    this.writer = new WindowWriter({ dir, stream: feed.stream, windowMs: feed.windowMs, maxBytes: output.maxWindowBytes, fsync: output.fsync, syncIntervalMs: output.fsyncIntervalMs, now, ext: 'csv', header: layout.header, onUnsafeFile });
    this.loop = after.then(() => this.run());
  }

  offer(ts: number, line: Buffer): void {
    if (this.closing) {
      this.overflow++; // nothing should come after the close began; if it does, it is counted
      return;
    }
    if (this.pending.length >= MAX_PENDING || this.pendingBytes + line.length > MAX_PENDING_BYTES) {
      if (this.overflow++ === 0) this.ctx.note('csv_overflow', { stream: this.feed.stream, waiting: this.pending.length, waiting_bytes: this.pendingBytes }, 'error', `${this.feed.stream}: the CSV writer is too far behind; further records get no CSV rows (they are in the NDJSON windows)`);
      return;
    }
    this.pending.push({ ts, line });
    this.pendingBytes += line.length;
    this.wake?.();
  }

  /** Writes what waits (until `deadline`), closes the window and hands it to compression; how many records got no rows. */
  async close(deadline: number): Promise<number> {
    this.closing = true;
    this.deadline = deadline;
    this.wake?.();
    await this.loop;
    await this.writer.close();
    this.collect();
    this.reportRejected(true);
    const unwritten = this.pending.length + this.overflow;
    if (this.overflow) this.ctx.note('csv_overflow', { stream: this.feed.stream, records: this.overflow }, 'error');
    return unwritten;
  }

  private async run(): Promise<void> {
    for (;;) {
      const next = this.pending[0];
      if (!next) {
        if (this.closing) return;
        await this.idle();
        this.reportRejected(false);
        await this.writer.syncIfDue();
        await this.writer.closeIfDue(this.ctx.now(), CLOSE_SLACK_MS);
        this.collect();
        continue;
      }
      // What waits is reported as unwritten: at the deadline, or once writes have failed for a while.
      if (this.closing && (this.ctx.now() >= this.deadline || (this.writeFailing && performance.now() - this.failingSince >= STOP_WRITE_RETRY_MS))) return;
      const out = rowsOf(this.layout, next.line);
      if ('rejected' in out) this.reject(out.rejected);
      else if (out.rows > 0 && !(await this.write(out.text, next.ts, out.rows))) continue;
      this.pendingBytes -= this.pending.shift()!.line.length;
      this.collect();
    }
  }

  /** One record's rows into the window; false after a failed write (retried after a pause). */
  private async write(text: Buffer, ts: number, rows: number): Promise<boolean> {
    try {
      await this.writer.append(text, ts, rows);
      if (this.writeFailing) this.ctx.note('write_recovered', { stream: this.feed.stream, sink: 'csv' }, 'info');
      this.writeFailing = false;
      return true;
    } catch (err) {
      this.collect(); // a window closed before the failure still goes to compression
      const e = err as NodeJS.ErrnoException;
      if (!this.writeFailing) {
        this.ctx.note('write_error', { stream: this.feed.stream, sink: 'csv', code: e.code, message: e.message, queued: this.pending.length }, 'error', `${this.feed.stream}: cannot write the CSV window, retrying`);
        this.failingSince = performance.now();
      }
      this.writeFailing = true;
      await new Promise((r) => setTimeout(r, WRITE_RETRY_MS));
      return false;
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, IDLE_CHECK_MS);
      this.wake = done;
    });
  }

  private reject(found: string): void {
    const r = this.rejected;
    r.total++;
    r.unreported++;
    r.found = found;
    this.reportRejected(false);
  }

  /** The first rejected record at once, later ones together at most every REJECT_REPORT_MS, the rest at close. */
  private reportRejected(final: boolean): void {
    const r = this.rejected;
    const now = this.ctx.now();
    if (r.unreported === 0 || (!final && r.total > r.unreported && now - r.lastReport < REJECT_REPORT_MS)) return;
    const { stream } = this.feed;
    const rows = this.layout.rows?.text;
    this.ctx.note('csv_rejected', { stream, rows, found: r.found, records: r.unreported, total: r.total }, 'warn', `${stream}: ${r.unreported} record(s) have no array at ${JSON.stringify(rows)} (found ${r.found}): no CSV rows for them; they are in the NDJSON windows`);
    r.unreported = 0;
    r.lastReport = now;
  }

  private collect(): void {
    for (const w of this.writer.takeClosed()) this.ctx.compress(w);
    const err = this.writer.takeSyncError() as NodeJS.ErrnoException | undefined;
    if (err) this.ctx.note('sync_error', { stream: this.feed.stream, sink: 'csv', code: err.code, message: err.message }, 'error', `${this.feed.stream}: cannot force the CSV window to disk`);
  }
}

/** A line that is not the JSON it should be (a record is validated before it is written) costs its rows, not the stream. */
function rowsOf(layout: CsvLayout, line: Buffer): ReturnType<typeof recordRows> | { rejected: string } {
  try {
    return recordRows(layout, line);
  } catch {
    return { rejected: 'invalid JSON' };
  }
}

export class CsvSink implements Sink {
  private readonly streams = new Map<string, CsvStream>();

  constructor(private readonly ctx: SinkContext) {}

  addStream(feed: SinkFeed): void {
    const layout = compileLayout(feed.settings as CsvSettings);
    // Present already (a reload that did not remove it first): the old windows close before the new ones open.
    const old = this.streams.get(feed.stream);
    const after = old ? old.close(this.ctx.now() + REMOVE_DEADLINE_MS) : Promise.resolve();
    this.streams.set(feed.stream, new CsvStream(feed, layout, this.ctx, after));
  }

  async removeStream(stream: string): Promise<void> {
    const s = this.streams.get(stream);
    if (!s) return;
    this.streams.delete(stream);
    await s.close(this.ctx.now() + REMOVE_DEADLINE_MS);
  }

  offer(stream: string, ts: number, line: Buffer): void {
    this.streams.get(stream)?.offer(ts, line);
  }

  async close(deadline: number): Promise<{ unwritten: number }> {
    const counts = await Promise.all([...this.streams.values()].map((s) => s.close(deadline)));
    return { unwritten: counts.reduce((a, b) => a + b, 0) };
  }
}

export function startCsvSink(ctx: SinkContext): CsvSink {
  return new CsvSink(ctx);
}
