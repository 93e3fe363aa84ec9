/**
 * Retention: removes the oldest zipped windows when they are older than
 * `max_age`, when a stream holds more than its `max_bytes`, when the output
 * directory holds more than the total `max_bytes`, and (asked by the disk
 * guard) when free space is short. It works from the archive index, never
 * from the directory, and each removal is written there before the file goes
 * and reported as a `retention_deleted` event (so `nsr stats` can tell the
 * gap is retention's).
 *
 * An events window goes only once no data window its events may explain is
 * left (its last event is older than every data record kept): the reasons
 * for the gaps of what is kept are kept with it.
 *
 * Never removed: an open window and a window not yet zipped (only zips are
 * candidates), a window a sink still has to read back, a window whose
 * on_window hook has not succeeded. Those are skipped (a younger window may go
 * instead when a budget needs it) and reported once as `retention_blocked`.
 */
import type { ArchiveIndex } from '../archive/index/index-writer.js';
import { HOOK_PENDING, zipStream, type IndexedZip } from '../archive/index/index-format.js';
import type { RetentionPolicy } from '../config/retention.js';
import type { NoteEvent } from '../logging/note-event.js';
import { EVENTS_STREAM } from '../config/defaults.js';

export interface RetentionOptions {
  index: ArchiveIndex;
  /** `output.retention`: max_age for streams without their own, max_bytes for the total. */
  global: RetentionPolicy | undefined;
  /** A stream's own `retention` (undefined: the global one applies). */
  policyOf(stream: string): RetentionPolicy | undefined;
  /** Bytes of window files not zipped yet (open, waiting for compression), per stream: counted, never removed. */
  unzippedBytes(): Map<string, number>;
  /** The oldest record a sink may still read back from the windows of `stream` (undefined: none). */
  readBackFrom(stream: string): number | undefined;
  note: NoteEvent;
  now(): number;
  /**
   * Resolves once the sinks have started: before, \`readBackFrom\` knows nothing
   * of what the last run left a sink to read back (a database that does not
   * answer holds its sink's start for its connection timeout).
   */
  ready?: Promise<unknown>;
}

type Reason = 'max_age' | 'max_bytes' | 'total_bytes' | 'min_free';

interface Candidate extends IndexedZip {
  stream: string;
}

export class Retention {
  private running: Promise<number> | undefined;
  /** Blocks reported and not yet lifted, so each is one event, not one per check. */
  private readonly blocked = new Set<string>();
  removed = 0;
  private stopped = false;

  constructor(private readonly opts: RetentionOptions) {}

  /** True when some limit is set: otherwise nothing is ever removed (min_free included). */
  static wanted(global: RetentionPolicy | undefined, streams: Iterable<RetentionPolicy | undefined>): boolean {
    return global !== undefined || [...streams].some((p) => p !== undefined);
  }

  /** Applies the age and byte limits; resolves with the bytes removed. One run at a time. */
  enforce(): Promise<number> {
    if (this.stopped) return Promise.resolve(0);
    // Never rejects: the recorder does not await it (an unhandled rejection would end the process).
    this.running ??= this.enforceNow()
      .catch((err) => {
        this.opts.note('retention_failed', { error: (err as Error).message }, 'error', `retention failed: ${(err as Error).message}; it tries again at its next check`);
        return 0;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** No removal starts from now on; resolves once the one running has ended (the index closes after). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }

  /**
   * For the disk guard: removes the oldest windows that retention may remove
   * (of streams with a limit) until `need` bytes are freed; resolves with the bytes freed.
   */
  async freeSpace(need: number): Promise<number> {
    await Promise.all([this.opts.index.ready, this.opts.ready]);
    await this.running;
    if (this.stopped) return 0;
    return this.removeOldest((_z, stream) => this.limited(stream), need, 'min_free');
  }

  /**
   * One pass over the index (bytes and oldest window per stream) decides; only
   * when a limit is passed are the oldest windows picked, a few at a time. A
   * check runs every second and after every zip, over up to a year of windows
   * (~315,000): sorting them all each time took seconds of the event loop.
   */
  private async enforceNow(): Promise<number> {
    await Promise.all([this.opts.index.ready, this.opts.ready]);
    if (this.stopped) return 0;
    const now = this.opts.now();
    let freed = 0;
    const held = new Map<string, { bytes: number; oldest: number }>();
    let total = 0;
    for (const z of this.opts.index.zips.values()) {
      const stream = zipStream(z.file);
      const s = held.get(stream) ?? held.set(stream, { bytes: 0, oldest: Infinity }).get(stream)!;
      s.bytes += z.zipBytes;
      s.oldest = Math.min(s.oldest, endOf(z));
      total += z.zipBytes;
    }
    const gone = (c: Candidate) => {
      held.get(c.stream)!.bytes -= c.zipBytes;
      total -= c.zipBytes;
    };
    const unzipped = this.opts.unzippedBytes();
    // The events stream last: its windows may go once the data they explain has gone.
    const streams = [...held.keys()].sort((a, b) => Number(a === EVENTS_STREAM) - Number(b === EVENTS_STREAM));
    for (const stream of streams) {
      const own = this.opts.policyOf(stream);
      const maxAge = own?.maxAgeMs ?? this.opts.global?.maxAgeMs;
      if (maxAge !== undefined && held.get(stream)!.oldest < now - maxAge) {
        const cutoff = now - maxAge;
        freed += await this.removeOldest((z, s) => s === stream && endOf(z) < cutoff, Infinity, 'max_age', gone);
      }
      if (own?.maxBytes !== undefined) {
        const bytes = held.get(stream)!.bytes + (unzipped.get(stream) ?? 0);
        if (bytes > own.maxBytes) freed += await this.removeOldest((_z, s) => s === stream, bytes - own.maxBytes, 'max_bytes', gone);
      }
    }
    const limit = this.opts.global?.maxBytes;
    if (limit !== undefined) {
      const bytes = total + [...unzipped.values()].reduce((a, b) => a + b, 0) + this.opts.index.bytes;
      if (bytes > limit) freed += await this.removeOldest(() => true, bytes - limit, 'total_bytes', gone);
    }
    return freed;
  }

  /**
   * The zips `keep` accepts, oldest first, a batch at a time (the oldest 64,
   * then 512, …, each batch one pass over the index): a check that removes a
   * window or two does not sort all of them. Windows removed meanwhile are no
   * longer in the index; those already given are not given again.
   */
  private *oldestFirst(keep: (z: IndexedZip, stream: string) => boolean): Generator<Candidate> {
    const given = new Set<string>();
    for (let k = 64; ; k *= 8) {
      const batch = oldestOf(this.opts.index.zips.values(), k, (z, stream) => !given.has(z.file) && keep(z, stream));
      for (const c of batch) {
        given.add(c.file);
        yield c;
      }
      if (batch.length < k) return;
    }
  }

  private limited(stream: string): boolean {
    return this.opts.global !== undefined || this.opts.policyOf(stream) !== undefined;
  }

  /** Removes the oldest windows `keep` accepts until `need` bytes are gone, skipping protected windows. */
  private async removeOldest(keep: (z: IndexedZip, stream: string) => boolean, need: number, reason: Reason, gone?: (c: Candidate) => void): Promise<number> {
    let freed = 0;
    const visited = new Set<string>();
    const reblocked = new Set<string>();
    const explained = this.explainedData();
    // The events explain the data's gaps: an events window stays while data it may explain does.
    const explains = (c: Candidate) => c.stream === EVENTS_STREAM && endOf(c) >= explained.oldestFirst();
    const block = (c: Candidate, key: string, report: () => void) => {
      reblocked.add(key);
      if (this.blocked.has(key)) return;
      this.blocked.add(key);
      report();
    };
    const consider = async (c: Candidate) => {
      visited.add(c.file);
      const protection = this.protection(c);
      if (protection) {
        block(c, `${c.file}:${protection}`, () =>
          this.opts.note('retention_blocked', { stream: c.stream, file: c.file, protected_by: protection, reason }, 'warn', `${c.file}: retention (${reason}) may not remove it yet: ${protection === 'hook_pending' ? 'its on_window hook has not succeeded' : 'a sink still has to read it back'}`),
        );
        return;
      }
      const indexBefore = this.opts.index.bytes;
      try {
        await this.opts.index.remove(c.file, reason);
      } catch (err) {
        // Still there (and in the index): reported once, tried again at each check; the next window may make the room.
        block(c, `${c.file}:failed`, () => this.opts.note('retention_failed', { stream: c.stream, file: c.file, reason, error: (err as Error).message }, 'error', `${c.file}: retention (${reason}) cannot remove it: ${(err as Error).message}`));
        return;
      }
      // The removal's own line in the index counts against what it freed.
      freed += c.zipBytes - (this.opts.index.bytes - indexBefore);
      this.removed++;
      explained.removed(c);
      gone?.(c);
      this.opts.note('retention_deleted', { stream: c.stream, file: c.file, reason, records: c.records, first: c.first, last: c.last, window_start: c.start, bytes: c.bytes, zip_bytes: c.zipBytes });
    };
    const deferred: Candidate[] = [];
    for (const c of this.oldestFirst(keep)) {
      if (freed >= need) break;
      if (explains(c)) deferred.push(c);
      else await consider(c);
    }
    // Once the data windows of this pass are gone, the events windows that explained only them may go too.
    for (const c of deferred) {
      if (freed >= need) break;
      if (!explains(c)) await consider(c);
    }
    // A block is lifted once its window was looked at and not held again (removed, or no longer protected), or has gone.
    for (const key of this.blocked) {
      const file = key.slice(0, key.lastIndexOf(':'));
      if (reblocked.has(key)) continue;
      if (visited.has(file) || !this.opts.index.zips.has(file)) this.blocked.delete(key);
    }
    return freed;
  }

  /**
   * The first record of the oldest data window still there, kept up to date as
   * windows go; read only when an events window is considered (sorted numbers,
   * not windows).
   */
  private explainedData(): { oldestFirst(): number; removed(z: IndexedZip): void } {
    let firsts: Float64Array | undefined;
    const gone = new Map<number, number>();
    let i = 0;
    const isData = (z: IndexedZip) => z.records > 0 && zipStream(z.file) !== EVENTS_STREAM;
    return {
      oldestFirst: () => {
        if (!firsts) {
          const list: number[] = [];
          for (const z of this.opts.index.zips.values()) if (isData(z)) list.push(z.first);
          firsts = Float64Array.from(list).sort();
        }
        for (; i < firsts.length; i++) {
          const n = gone.get(firsts[i]);
          if (!n) break;
          gone.set(firsts[i], n - 1);
        }
        return i < firsts.length ? firsts[i] : Infinity;
      },
      // Counted only once the firsts are read: those read after a removal do not hold it.
      removed: (z) => void (firsts && isData(z) && gone.set(z.first, (gone.get(z.first) ?? 0) + 1)),
    };
  }

  private protection(c: Candidate): 'hook_pending' | 'read_back' | undefined {
    if (c.flags.includes(HOOK_PENDING)) return 'hook_pending';
    const from = this.opts.readBackFrom(c.stream);
    if (from !== undefined && endOf(c) >= from) return 'read_back';
    return undefined;
  }
}

/** When a window's data ends: its last record, or (empty) its start. */
const endOf = (z: IndexedZip) => (z.records > 0 ? z.last : z.start);

/** Whether `a` goes after `b`: later end, then name. */
const younger = (a: IndexedZip, b: IndexedZip) => endOf(a) > endOf(b) || (endOf(a) === endOf(b) && a.file > b.file);

/** The `k` oldest zips `keep` accepts, oldest first: one pass with a heap of `k` (the youngest kept on top). */
function oldestOf(zips: Iterable<IndexedZip>, k: number, keep: (z: IndexedZip, stream: string) => boolean): Candidate[] {
  const heap: Candidate[] = [];
  const swap = (i: number, j: number) => ([heap[i], heap[j]] = [heap[j], heap[i]]);
  for (const z of zips) {
    if (heap.length === k && !younger(heap[0], z)) continue; // not older than the youngest kept
    const stream = zipStream(z.file);
    if (!keep(z, stream)) continue;
    const c = { ...z, stream };
    if (heap.length < k) {
      heap.push(c);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!younger(heap[i], heap[parent])) break;
        swap(i, parent);
        i = parent;
      }
    } else {
      heap[0] = c;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let top = i;
        if (l < heap.length && younger(heap[l], heap[top])) top = l;
        if (r < heap.length && younger(heap[r], heap[top])) top = r;
        if (top === i) break;
        swap(i, top);
        i = top;
      }
    }
  }
  return heap.sort((a, b) => (younger(a, b) ? 1 : younger(b, a) ? -1 : 0));
}
