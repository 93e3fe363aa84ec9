/**
 * The recorder's side of the archive index (index-format.ts): opened at
 * start, checked against the directory (zips it does not know are added, zips
 * that are gone are marked so, removals a crash interrupted are completed),
 * rebuilt from the zips when it is missing or does not parse, compacted when
 * most of its lines are history; then one line is appended per fact.
 *
 * The check reads the directory, and a rebuild every zip's metadata, which
 * after months takes a while: it runs beside the recording, never before the
 * first tick. Facts that arrive meanwhile wait in memory and follow it.
 * Appends are synchronous single writes of one short line (O_APPEND, no link
 * followed); before each, the file is checked to be the one written (not
 * deleted, not cut short), else it is rebuilt.
 */
import { closeSync, fstatSync, openSync, writeSync, constants as fsConstants } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { inParallel } from '../in-parallel.js';
import { sealIndex, unseal } from './index-seal.js';
import { lstatIfAny, openOwnFile, replaceOwnFileSync, unsafeEntry } from '../../fs/safe-files.js';
import type { NoteEvent } from '../../logging/note-event.js';
import { parseOutputFile, parseWindowTime } from '../../sinks/window-naming.js';
import {
  applyLine,
  COUNTED_BY_SCAN,
  emptyState,
  encodeLine,
  HOOK_PENDING,
  RUN_MARKS_NONE,
  INDEX_FILE,
  interruptedRemoval,
  MAX_INDEX_BYTES,
  parseIndex,
  pendingHooks,
  serializeState,
  windowDay,
  windowFileOf,
  type IndexedZip,
  type IndexLine,
  type IndexState,
} from './index-format.js';

const { O_WRONLY, O_APPEND, O_NOFOLLOW } = fsConstants;

/** Compacted when more than this share of its lines are history, and it has at least this many. */
const COMPACT_SHARE = 0.5;
const COMPACT_MIN_LINES = 1000;

export interface IndexCheck {
  /** Why the index was rebuilt, if it was. */
  rebuilt?: 'missing' | 'damaged';
  /** A torn last line (a crash during an append) that was cut. */
  cutBytes: number;
  /** Zips the index did not know, now added. */
  added: number;
  /** Zips the index listed that are not there any more. */
  gone: number;
  /** Removals a crash interrupted, completed. */
  completed: number;
  compacted: boolean;
  windows: number;
  ms: number;
}

export interface ArchiveIndexOptions {
  /**
   * Whether a stream's zips wait for an on_window hook. A zip the check finds
   * whose window file the index announced (\`o\`) was zipped by a recorder
   * killed before it wrote the zip's line: its hook never ran, so it is pending.
   */
  hookWanted?: (stream: string) => boolean;
  /** Zips still pending for their hook, kept by a rebuild (\`nsr index --rebuild\` reads them from the index it replaces). */
  pending?: ReadonlySet<string>;
}

export class ArchiveIndex {
  readonly file: string;
  private state: IndexState = emptyState();
  private fd: number | undefined;
  /** Bytes this writer knows the file to have: anything else means someone else changed it. */
  private size = 0;
  private lines = 0;
  /** Facts that arrived before the check finished, or while a rebuild runs. */
  private waiting: IndexLine[] | undefined = [];
  private rebuilding: Promise<unknown> | undefined;
  /** Set once writing failed (reported once): facts are kept in memory only, the next start rebuilds the file. */
  private broken = false;
  /** Resolves once the index has been checked against the directory. */
  readonly ready: Promise<IndexCheck | undefined>;

  constructor(
    readonly dir: string,
    private readonly note: NoteEvent,
    private readonly opts: ArchiveIndexOptions = {},
  ) {
    this.file = path.join(dir, INDEX_FILE);
    this.ready = this.check().catch((err) => {
      this.failed(err);
      return undefined;
    });
  }

  /** The zips present, by name (kept for retention). */
  get zips(): ReadonlyMap<string, IndexedZip> {
    return this.state.zips;
  }

  /** The index file's own size, for the disk budget. */
  get bytes(): number {
    return this.size;
  }

  /** A window file is about to be created (`o`): readers find open windows through this. */
  opened(file: string, start: number, windowMs: number): void {
    if (windowMs > this.state.span) this.append({ op: 'w', span: windowMs });
    this.append({ op: 'o', day: windowDay({ records: 0, first: 0, start }), file, start });
  }

  /** A zip was written (after its rename). */
  zipped(z: Omit<IndexedZip, 'day'>): IndexedZip {
    const zip = { ...z, day: windowDay(z) };
    const span = z.records > 0 ? z.last - z.first : 0;
    if (span > this.state.span) this.append({ op: 'w', span });
    this.append({ op: 'z', ...zip });
    return zip;
  }

  /** A zip's on_window hook succeeded. */
  hookDone(file: string): void {
    const z = this.state.zips.get(file);
    if (z) this.append({ op: 'h', day: z.day, file });
  }

  /**
   * Removes a zip: the fact is written first, so a crash before the unlink is
   * completed at the next start. An unlink that fails (not ENOENT) throws, and
   * the zip's line is written again: it is still there.
   */
  async remove(file: string, reason: string): Promise<void> {
    const z = this.state.zips.get(file);
    if (!z) return;
    const kept = { ...z };
    this.append({ op: 'd', day: z.day, file, reason, at: Date.now() });
    try {
      await unlink(path.join(this.dir, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.append({ op: 'z', ...kept });
      throw err;
    }
  }

  /**
   * Seals the index (index-seal.ts) when the directory matches it: at a clean stop, after the last line and after
   * the lock file went (its removal changes the directory). Whether it sealed.
   */
  async seal(): Promise<boolean> {
    if (this.broken || this.rebuilding || this.waiting) return false;
    this.close();
    return sealIndex(this.dir, this.state, this.size).catch(() => false);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(line: IndexLine): void {
    applyLine(this.state, line);
    if (this.waiting) {
      this.waiting.push(line);
      return;
    }
    this.write(encodeLine(line));
  }

  private write(text: string): void {
    if (this.broken) return;
    try {
      if (this.fd === undefined) throw new Error('the index is not open');
      const st = fstatSync(this.fd);
      if (st.nlink === 0 || st.size !== this.size) {
        // Deleted or changed under us: what it holds is not known any more.
        this.startRebuild(st.nlink === 0 ? 'missing' : 'damaged');
        return;
      }
      const buf = Buffer.from(text, 'latin1');
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
      this.size += buf.length;
      this.lines++;
      // Most lines are history once windows are zipped and removed: rewrite the facts that stand.
      if (this.lines >= COMPACT_MIN_LINES && this.state.dead > COMPACT_SHARE * this.lines) this.writeWhole();
    } catch (err) {
      this.failed(err);
    }
  }

  /** The index cannot be written: the readers read the directory until the next start rebuilds it. */
  private failed(err: unknown): void {
    if (this.broken) return;
    this.broken = true;
    this.note('index_error', { file: INDEX_FILE, message: (err as Error).message }, 'error', `cannot write the archive index ${INDEX_FILE}; the archive tools read the directory instead until it is rebuilt`);
    this.close();
    this.waiting = undefined;
  }

  private startRebuild(reason: 'missing' | 'damaged'): void {
    if (this.rebuilding) return;
    this.close();
    this.waiting = [];
    // What this writer knows of the hooks still due is kept (the zips do not say it).
    const pending = new Set([...this.state.zips.values()].filter((z) => z.flags.includes(HOOK_PENDING)).map((z) => z.file));
    this.rebuilding = this.rebuild(reason, pending)
      .then((check) => this.note('index_rebuilt', { ...check }, 'warn', `the archive index was ${reason === 'missing' ? 'deleted' : 'changed by someone else'} while recording; rebuilt from the zips`))
      .catch((err) => this.failed(err))
      .finally(() => (this.rebuilding = undefined));
  }

  /** At start: read, cut a torn line, check against the directory; rebuild when missing or damaged. */
  private async check(): Promise<IndexCheck> {
    const started = performance.now();
    await unseal(this.dir); // written again at a clean stop
    const found = await lstatIfAny(this.file);
    const why = found && unsafeEntry(found, true);
    if (why) throw new Error(`${INDEX_FILE} is ${why}; it is left alone`);
    // Far too large to be an index (or read as one): rebuilt. Read, and a torn line cut, through one handle that
    // follows no link: a link planted at the name since the lstat is never written through.
    const handle = found && found.size <= MAX_INDEX_BYTES ? await openOwnFile(this.file, 'update') : undefined;
    let text: string | undefined;
    let parsed: ReturnType<typeof parseIndex>;
    try {
      text = handle && (await handle.readFile()).toString('latin1');
      parsed = text === undefined ? undefined : parseIndex(text);
      if (handle && parsed && parsed.tornBytes > 0) await handle.truncate(parsed.goodBytes);
    } finally {
      await handle?.close();
    }
    if (!parsed) {
      const check = await this.rebuild(found ? 'damaged' : 'missing', text === undefined ? undefined : pendingHooks(text));
      return { ...check, ms: Math.round(performance.now() - started) };
    }
    const result: IndexCheck = { cutBytes: parsed.tornBytes, added: 0, gone: 0, completed: 0, compacted: false, windows: 0, ms: 0 };
    const listed = new Set(await readdir(this.dir));
    // Facts from before this check (this run's first windows) are laid over the file's.
    const early = this.waiting ?? [];
    this.state = parsed.state;
    this.lines = parsed.lines;
    this.size = parsed.goodBytes;
    const fixes: IndexLine[] = [];
    for (const [file, removal] of this.state.removed) {
      if (!listed.has(file)) continue;
      // Put back since (restored, copied in): it is kept, and added below like any zip the index does not list.
      const st = await lstatIfAny(path.join(this.dir, file));
      if (!st || !st.isFile() || !interruptedRemoval(removal, st.ctimeMs)) continue;
      await unlink(path.join(this.dir, file)).catch(() => undefined);
      listed.delete(file);
      result.completed++;
    }
    for (const z of this.state.zips.values()) {
      if (listed.has(z.file)) continue;
      fixes.push({ op: 'd', day: z.day, file: z.file, reason: 'gone' });
      result.gone++;
    }
    const zippedEarly = new Set(early.filter((l) => l.op === 'z').map((l) => l.file));
    const unlisted = [...listed].filter((name) => parseOutputFile(name)?.type === 'zip' && !this.state.zips.has(name) && !zippedEarly.has(name));
    for (const zip of await zipEntries(this.dir, unlisted)) {
      const stream = parseOutputFile(zip.file)!.stream;
      if (this.state.opened.has(windowFileOf(zip.file)) && this.opts.hookWanted?.(stream)) zip.flags += HOOK_PENDING;
      fixes.push({ op: 'z', ...zip });
      result.added++;
    }
    const fileSpan = this.state.span;
    for (const l of fixes) applyLine(this.state, l);
    for (const l of early) applyLine(this.state, l);
    // The early span lines were measured against an empty state: one line with the longest span, if it grew, replaces them
    // (readers take the span from the lines; a shorter one after a longer one would hide the long windows from range reads).
    const lines = [...(this.state.span > fileSpan ? [{ op: 'w' as const, span: this.state.span }] : []), ...fixes, ...early.filter((l) => l.op !== 'w')];
    const total = this.lines + lines.length;
    if (total >= COMPACT_MIN_LINES && this.state.dead > COMPACT_SHARE * total) {
      this.writeWhole();
      result.compacted = true;
    } else {
      this.openForAppend();
      this.waiting = undefined;
      for (const l of lines) this.write(encodeLine(l));
    }
    this.waiting = undefined;
    result.windows = this.state.zips.size;
    result.ms = Math.round(performance.now() - started);
    return result;
  }

  /** Every zip's metadata (a scan for zips that carry none), written whole under a temporary name and renamed. */
  private async rebuild(reason: 'missing' | 'damaged', pending?: ReadonlySet<string>): Promise<IndexCheck> {
    const started = performance.now();
    const state = emptyState();
    // The zips do not say whether their hook is still due: the lines of the index replaced that still parse do.
    const due = new Set([...(pending ?? []), ...(this.opts.pending ?? [])]);
    const zips = (await readdir(this.dir)).filter((name) => parseOutputFile(name)?.type === 'zip');
    for (const zip of await zipEntries(this.dir, zips)) {
      if (due.has(zip.file)) zip.flags += HOOK_PENDING;
      applyLine(state, { op: 'z', ...zip });
    }
    // What happened while the directory was read (windows zipped, opened) follows; zips removed meanwhile leave their `d`.
    for (const l of this.waiting ?? []) applyLine(state, l);
    this.state = state;
    this.writeWhole();
    return { rebuilt: reason, cutBytes: 0, added: state.zips.size, gone: 0, completed: 0, compacted: false, windows: state.zips.size, ms: Math.round(performance.now() - started) };
  }

  /** The whole state as a fresh file (rebuild, compaction), renamed over the old one; appends go on in the new one. */
  private writeWhole(): void {
    this.close();
    const text = serializeState(this.state);
    replaceOwnFileSync(this.file, Buffer.from(text, 'latin1'));
    this.state.removed.clear();
    this.state.dead = 0;
    this.lines = this.state.zips.size + this.state.opened.size + 1;
    this.openForAppend();
    this.waiting = undefined;
  }

  private openForAppend(): void {
    this.close();
    this.fd = openSync(this.file, O_WRONLY | O_APPEND | O_NOFOLLOW);
    this.size = fstatSync(this.fd).size;
  }
}

let windowInfoModule: Promise<typeof import('../window-info.js')> | undefined;

/** The lines of `names` (zips), in their order, a few read at once; those that cannot be read are left out. */
async function zipEntries(dir: string, names: string[]): Promise<IndexedZip[]> {
  const out = await inParallel(names, (name) => {
    const parsed = parseOutputFile(name)!;
    return zipEntry(dir, name, parsed.stream, parseWindowTime(parsed.time), parsed.ext === 'json');
  });
  return out.filter((z): z is IndexedZip => z !== undefined);
}

/** A zip's line from its own metadata, or a scan when it has none (the original recorder's); undefined when it cannot be read. */
async function zipEntry(dir: string, name: string, stream: string, start: number, scan: boolean): Promise<Omit<IndexedZip, 'day'> & { day: string } | undefined> {
  // Only a regular file: opening a named pipe (or a link to one, or to a device) would wait for ever, holding a thread of the pool.
  const st = await lstatIfAny(path.join(dir, name)).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  // Loaded only when a zip must be read (a check that found one, a rebuild): a plain start does not pay for the zip reader.
  const { windowInfo } = await (windowInfoModule ??= import('../window-info.js'));
  const info = await windowInfo(path.join(dir, name), stream, 'zip', start, scan);
  if (info.error) return undefined;
  const flags = (info.source === 'scan' ? COUNTED_BY_SCAN : '') + (info.marked === 0 ? RUN_MARKS_NONE : '');
  const zip = { file: name, start, records: info.records, first: info.first, last: info.last, bytes: info.bytes, zipBytes: info.diskBytes, flags };
  return { ...zip, day: windowDay(zip) };
}
