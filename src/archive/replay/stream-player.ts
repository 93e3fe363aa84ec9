/**
 * A replayed stream's reader, moved up to the replay time on each request (and
 * by the server's pump between requests). Memory stays constant whatever the
 * archives hold: only the current record and one of lookahead are kept.
 */
import type { StreamCatalog } from '../catalog.js';
import { readRecords, type ArchivedRecord, type ArchiveProblem } from '../records.js';
import { recordBody, shapeFromRecord } from '../record-body.js';
import type { ReplayStreamInfo } from './plan.js';

/** Served in place of a record whose body cannot be cut out of its line. */
export const UNREADABLE = Buffer.from('{"error":"Unreadable record"}');

/** One stream being replayed: its reader, its current record and one record of lookahead. */
export class StreamPlayer {
  current: ArchivedRecord | undefined;
  private body: Buffer | undefined;
  private next: ArchivedRecord | undefined;
  private reader: AsyncGenerator<ArchivedRecord> | undefined;
  private queue: Promise<void> = Promise.resolve();
  cycle = 0;
  served = 0;
  recordsRead = 0;

  constructor(
    readonly info: ReplayStreamInfo,
    private readonly catalog: StreamCatalog,
    private readonly readFrom: number,
    private readonly to: number,
    private readonly onProblem: (p: ArchiveProblem) => void,
  ) {}

  /** Brings the stream up to replay time `t` of loop `cycle`; calls run one after the other. */
  sync(t: number, cycle: number): Promise<void> {
    const run = this.queue.then(async () => {
      if (!this.reader || cycle !== this.cycle) await this.open(cycle);
      while (this.next && this.next.timestamp <= t) {
        this.current = this.next;
        this.body = undefined;
        this.next = await this.pull();
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The current record's body, cut out of the line once. */
  currentBody(): Buffer | undefined {
    if (!this.current) return undefined;
    if (!this.body) {
      try {
        this.body = recordBody(this.current.line, this.info.shape ?? shapeFromRecord(this.current.line));
      } catch (err) {
        this.onProblem({ file: this.current.window.file, problem: `a record at ${this.current.timestamp} cannot be served: ${(err as Error).message}` });
        this.body = UNREADABLE;
      }
    }
    return this.body;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.reader?.return(undefined);
    this.reader = undefined;
  }

  private async open(cycle: number): Promise<void> {
    await this.reader?.return(undefined);
    this.cycle = cycle;
    this.current = undefined;
    this.body = undefined;
    // Reading starts at the window holding the record current at `from`, so a
    // replay started inside a window serves that record, not a 503.
    this.reader = readRecords(this.catalog, { from: this.readFrom, to: this.to + 1, onProblem: this.onProblem });
    this.next = await this.pull();
    if (this.next && !this.info.shape) this.info.shape = shapeFromRecord(this.next.line);
  }

  private async pull(): Promise<ArchivedRecord | undefined> {
    if (!this.reader) return undefined;
    try {
      const r = await this.reader.next();
      if (r.done) return undefined;
      this.recordsRead++;
      return r.value;
    } catch (err) {
      this.onProblem({ file: this.info.stream, problem: `reading stopped: ${(err as Error).message}` });
      this.reader = undefined;
      return undefined;
    }
  }
}
