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
import { HOOK_PENDING, type IndexedZip } from '../archive/index/index-format.js';
import type { RetentionPolicy } from '../config/retention.js';
import type { NoteEvent } from '../logging/note-event.js';
import { parseOutputFile } from '../sinks/window-naming.js';
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
    const limited = this.candidates().filter((c) => this.limited(c.stream));
    return this.removeOldest(limited, need, 'min_free');
  }

  private async enforceNow(): Promise<number> {
    await Promise.all([this.opts.index.ready, this.opts.ready]);
    if (this.stopped) return 0;
    const all = this.candidates();
    const now = this.opts.now();
    let freed = 0;
    const byStream = new Map<string, Candidate[]>();
    for (const c of all) (byStream.get(c.stream) ?? byStream.set(c.stream, []).get(c.stream)!).push(c);
    const unzipped = this.opts.unzippedBytes();
    // The events stream last: its windows may go once the data they explain has gone.
    const streams = [...byStream].sort(([a], [b]) => Number(a === EVENTS_STREAM) - Number(b === EVENTS_STREAM));
    for (const [stream, list] of streams) {
      const own = this.opts.policyOf(stream);
      const maxAge = own?.maxAgeMs ?? this.opts.global?.maxAgeMs;
      if (maxAge !== undefined) {
        const old = list.filter((c) => endOf(c) < now - maxAge);
        freed += await this.removeOldest(old, Infinity, 'max_age');
      }
      if (own?.maxBytes !== undefined) {
        const held = sum(list.filter((c) => this.opts.index.zips.has(c.file))) + (unzipped.get(stream) ?? 0);
        if (held > own.maxBytes) freed += await this.removeOldest(list.filter((c) => this.opts.index.zips.has(c.file)), held - own.maxBytes, 'max_bytes');
      }
    }
    const total = this.opts.global?.maxBytes;
    if (total !== undefined) {
      const present = all.filter((c) => this.opts.index.zips.has(c.file));
      const held = sum(present) + [...unzipped.values()].reduce((a, b) => a + b, 0) + this.opts.index.bytes;
      if (held > total) freed += await this.removeOldest(present, held - total, 'total_bytes');
    }
    return freed;
  }

  /** Every zip of the index with its stream, oldest first. */
  private candidates(): Candidate[] {
    const out: Candidate[] = [];
    for (const z of this.opts.index.zips.values()) {
      const stream = parseOutputFile(z.file)?.stream;
      if (stream) out.push({ ...z, stream });
    }
    return out.sort((a, b) => endOf(a) - endOf(b) || a.file.localeCompare(b.file));
  }

  private limited(stream: string): boolean {
    return this.opts.global !== undefined || this.opts.policyOf(stream) !== undefined;
  }

  /** Removes from `list` (oldest first) until `need` bytes are gone, skipping protected windows. */
  private async removeOldest(list: Candidate[], need: number, reason: Reason): Promise<number> {
    let freed = 0;
    const lifted = new Set(this.blocked);
    const explained = this.explainedData();
    // The events explain the data's gaps: an events window stays while data it may explain does.
    const explains = (c: Candidate) => c.stream === EVENTS_STREAM && endOf(c) >= explained.oldestFirst();
    const consider = async (c: Candidate) => {
      const protection = this.protection(c);
      if (protection) {
        const key = `${c.file}:${protection}`;
        lifted.delete(key);
        if (!this.blocked.has(key)) {
          this.blocked.add(key);
          this.opts.note('retention_blocked', { stream: c.stream, file: c.file, protected_by: protection, reason }, 'warn', `${c.file}: retention (${reason}) may not remove it yet: ${protection === 'hook_pending' ? 'its on_window hook has not succeeded' : 'a sink still has to read it back'}`);
        }
        return;
      }
      const indexBefore = this.opts.index.bytes;
      try {
        await this.opts.index.remove(c.file, reason);
      } catch (err) {
        // Still there (and in the index): reported once, tried again at each check; the next window may make the room.
        const key = `${c.file}:failed`;
        lifted.delete(key);
        if (!this.blocked.has(key)) {
          this.blocked.add(key);
          this.opts.note('retention_failed', { stream: c.stream, file: c.file, reason, error: (err as Error).message }, 'error', `${c.file}: retention (${reason}) cannot remove it: ${(err as Error).message}`);
        }
        return;
      }
      // The removal's own line in the index counts against what it freed.
      freed += c.zipBytes - (this.opts.index.bytes - indexBefore);
      this.removed++;
      explained.removed(c.file);
      this.opts.note('retention_deleted', { stream: c.stream, file: c.file, reason, records: c.records, first: c.first, last: c.last, window_start: c.start, bytes: c.bytes, zip_bytes: c.zipBytes });
    };
    const deferred: Candidate[] = [];
    for (const c of list) {
      if (freed >= need) break;
      if (explains(c)) deferred.push(c);
      else await consider(c);
    }
    // Once the data windows of this pass are gone, the events windows that explained only them may go too.
    for (const c of deferred) {
      if (freed >= need) break;
      if (!explains(c)) await consider(c);
    }
    for (const key of lifted) if (list.some((c) => key.startsWith(`${c.file}:`))) this.blocked.delete(key);
    return freed;
  }

  /** The first record of the oldest data window still there, kept up to date as windows go. */
  private explainedData(): { oldestFirst(): number; removed(file: string): void } {
    const data = [...this.opts.index.zips.values()].filter((z) => z.records > 0 && parseOutputFile(z.file)?.stream !== EVENTS_STREAM).sort((a, b) => a.first - b.first);
    const gone = new Set<string>();
    let i = 0;
    return {
      oldestFirst: () => {
        while (i < data.length && gone.has(data[i].file)) i++;
        return i < data.length ? data[i].first : Infinity;
      },
      removed: (file) => void gone.add(file),
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
const sum = (list: IndexedZip[]) => list.reduce((n, z) => n + z.zipBytes, 0);
