/**
 * Reading the events stream for `nsr stats`: first the start and stop events on their own
 * (the runs of nsr: the interval in effect, whether nsr ran when the range begins), then
 * every event alongside the records, in the order of their tick.
 */
import type { StreamCatalog, WindowInfo } from '../catalog.js';
import { mayHoldRunMark, RETENTION_MARK, START_MARK, STOP_MARK } from '../../logging/run-marks.js';
import { readRecords, type ArchiveProblem, type ArchivedRecord } from '../records.js';

export interface RunMark {
  at: number;
  kind: 'start' | 'stop';
  /** start only: the stream's interval, when this run recorded the stream. */
  intervalMs?: number;
  /** start only: the stream writes many records a tick (one per device). */
  manyPerTick?: boolean;
}

/** The start and stop events, in order (there are only as many as nsr was started). */
export async function readRuns(
  events: StreamCatalog,
  stream: string,
  onProblem: (p: ArchiveProblem) => void,
  onWindow: (w: WindowInfo, i: number, n: number) => void,
  removed: RemovedSpan[] = [],
  from = -Infinity,
): Promise<RunMark[]> {
  // Only windows that may hold a run mark: those known to hold none (their zip's count, their index line) are not
  // opened (logging/run-marks.ts). Before the range only the newest start (and any stop after it) matters: the
  // windows before it are read newest first until one holds a start, not a year of them.
  const marked = events.windows.filter(mayHoldRunMark);
  const before = marked.filter((w) => w.records > 0 && w.last < from);
  const earlierSet = new Set(before);
  const rest = marked.filter((w) => !earlierSet.has(w));
  const earlier: RunMark[][] = [];
  for (let i = before.length - 1; i >= 0; i--) {
    const marks = await runsIn({ stream: events.stream, windows: [before[i]] }, stream, onProblem, onWindow, removed);
    earlier.unshift(marks);
    if (marks.some((m) => m.kind === 'start')) break;
  }
  return [...earlier.flat(), ...(await runsIn({ stream: events.stream, windows: rest }, stream, onProblem, onWindow, removed))];
}

async function runsIn(events: StreamCatalog, stream: string, onProblem: (p: ArchiveProblem) => void, onWindow: (w: WindowInfo, i: number, n: number) => void, removed: RemovedSpan[]): Promise<RunMark[]> {
  const runs: RunMark[] = [];
  for await (const { line, timestamp } of readRecords(events, { onProblem, onWindow })) {
    // Written when the window went, long after its records: collected here, not in tick order.
    if (line.includes(RETENTION_MARK)) {
      const f = parseEvent(line);
      if (f?.stream === stream && typeof f.first === 'number' && typeof f.last === 'number') removed.push({ first: f.first, last: f.last, reason: String(f.reason ?? '') });
      continue;
    }
    const isStart = line.includes(START_MARK);
    if (!isStart && !line.includes(STOP_MARK)) continue;
    if (!isStart) {
      runs.push({ at: timestamp, kind: 'stop' });
      continue;
    }
    const fields = parseEvent(line);
    const mine = (fields?.streams as Record<string, { interval_ms?: unknown; records_per_tick?: unknown }> | undefined)?.[stream];
    const ms = typeof mine?.interval_ms === 'number' && mine.interval_ms > 0 ? mine.interval_ms : undefined;
    runs.push({ at: timestamp, kind: 'start', intervalMs: ms, manyPerTick: mine?.records_per_tick === 'many' });
  }
  return runs;
}

/** A window of the stream that retention removed (`retention_deleted`): its records' span. */
export interface RemovedSpan {
  first: number;
  last: number;
  reason: string;
}


function parseEvent(line: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line.toString('utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface ParsedEvent {
  /** Where the event belongs in time: a missed tick's scheduled time, else when it was written. */
  key: number;
  event: string;
  fields: Record<string, unknown>;
}

/**
 * The events stream read alongside the records. A missed tick is written after
 * its tick (when the fetch gave up, at most about an interval later), so events
 * are read up to `lookahead` past each record and handed to `apply` in the
 * order of their tick. Only the events of one lookahead are ever held: an
 * event is applied as soon as no later event can belong before it, so a long
 * outage without records (millions of missed ticks) streams through.
 */
export class EventCursor {
  private readonly it: AsyncIterator<ArchivedRecord> | undefined;
  private next: ArchivedRecord | undefined;
  private done: boolean;
  private pending: ParsedEvent[] = [];
  private readonly mine: Buffer;
  private readonly anyStream = Buffer.from('"stream":"');

  constructor(
    events: StreamCatalog | undefined,
    stream: string,
    range: { from?: number; to?: number },
    onProblem: (p: ArchiveProblem) => void,
    private readonly apply: (e: ParsedEvent) => void,
  ) {
    this.it = events ? readRecords(events, { ...range, onProblem })[Symbol.asyncIterator]() : undefined;
    this.done = !this.it;
    this.mine = Buffer.from(`"stream":${JSON.stringify(stream)}`);
  }

  /** Applies every event that belongs at or before `t` (Infinity: all that are left). */
  async advance(t: number, lookahead: number): Promise<void> {
    while (!this.done) {
      if (!this.next) {
        const r = await this.it!.next();
        if (r.done) {
          this.done = true;
          break;
        }
        this.next = r.value;
      }
      if (this.next.timestamp > t + lookahead) break;
      const written = this.next.timestamp;
      this.accept(this.next);
      this.next = undefined;
      this.flush(Math.min(t, written - lookahead));
    }
    this.flush(t);
  }

  private flush(upTo: number): void {
    let n = 0;
    while (n < this.pending.length && this.pending[n].key <= upTo) this.apply(this.pending[n++]);
    if (n > 0) this.pending.splice(0, n);
  }

  private accept({ line, timestamp }: ArchivedRecord): void {
    // Events of other streams are skipped without parsing them.
    if (line.includes(this.anyStream) && !line.includes(this.mine)) return;
    const fields = parseEvent(line);
    if (!fields || typeof fields.event !== 'string') return;
    const key = fields.event === 'missed_tick' && typeof fields.scheduled_at === 'number' ? fields.scheduled_at : timestamp;
    const e: ParsedEvent = { key, event: fields.event, fields };
    let i = this.pending.length;
    while (i > 0 && this.pending[i - 1].key > key) i--;
    this.pending.splice(i, 0, e);
  }
}
