/**
 * What an output directory holds, per stream: its windows with record counts,
 * first and last timestamps and sizes. nsr's zips carry this in their comment,
 * so a catalog of months of archives reads only zip directories; zips of the
 * original Python recorder (no comment) and open `.json` windows are scanned.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseWindowName, parseWindowTime } from '../sinks/window-naming.js';
import { readArchiveIndex, readIndexBytes } from './index/index-reader.js';
import { sealHolds } from './index/index-seal.js';
import { windowsFromIndex } from './index/index-catalog.js';
import { inParallel } from './in-parallel.js';
import { windowInfo, type StreamCatalog, type WindowInfo } from './window-info.js';

export { windowInfo, type StreamCatalog, type WindowInfo } from './window-info.js';

export interface CatalogOptions {
  /** Only these streams (default: all). */
  streams?: string[];
  /** Called after each window, for progress display. */
  onWindow?: (done: number, total: number) => void;
  /**
   * Scan windows that carry no metadata (the original recorder's zips, open
   * `.json` files) to count their records (default true). Without it their
   * time span is unknown (the names are in the recording machine's local
   * time, which need not be ours), so range reads open them.
   */
  scanUnindexed?: boolean;
  /**
   * Only the windows that can hold records of [from, to): the others are
   * pruned by their names, without being opened (see `pruneByName`).
   */
  range?: { from?: number; to?: number };
  /** Read the archive index when there is one (default true); false reads the directory (the index's own check and rebuild). */
  useIndex?: boolean;
}

/** Every window in `dir`, grouped by stream, in time order. */
export async function readCatalog(dir: string, opts: CatalogOptions = {}): Promise<StreamCatalog[]> {
  // The archive index, when there is one that parses, spares opening every zip (a year holds ~315,000).
  // A whole read lists the directory too, so that what was removed or copied in by hand shows as it is, unless the
  // index's seal says the directory holds what it lists (index-seal.ts). The listing is read by a thread of the pool
  // while this one parses the index (a year: ~0.3 s each).
  const wholeRead = !opts.range || (opts.range.from === undefined && opts.range.to === undefined);
  const bytes = opts.useIndex === false ? undefined : await readIndexBytes(dir);
  const index = bytes instanceof Buffer ? bytes : undefined;
  const sealed = wholeRead && index !== undefined && (await sealHolds(dir, index));
  const listing = wholeRead && !sealed ? readdir(dir) : undefined;
  listing?.catch(() => {}); // awaited below, or not needed
  const indexed = index && (await readArchiveIndex(dir, opts.range, opts.streams, index));
  if (indexed) {
    const byStream = await windowsFromIndex(dir, indexed.state, { ...opts, sealed, listing: indexed.whole && !sealed ? await (listing ?? readdir(dir)) : undefined });
    for (const s of indexed.known) if (!byStream.has(s)) byStream.set(s, []);
    return inStreamOrder(byStream);
  }
  const names = (await (listing ?? readdir(dir))).map((file) => ({ file, parsed: parseWindowName(file) }));
  // A `.json` beside its finished zip (a crash between rename and unlink, or an
  // export of both) holds the same records: the zip is the window.
  const zipped = new Set(names.filter(({ parsed }) => parsed?.type === 'zip').map(({ parsed }) => parsed!.base));
  const wanted = names.filter(
    ({ parsed }) => parsed && parsed.type !== 'tmp' && !(parsed.type === 'json' && zipped.has(parsed.base)) && (!opts.streams || opts.streams.includes(parsed.stream)),
  );
  const byStream = new Map<string, WindowInfo[]>();
  let done = 0;
  const candidates = opts.range ? await pruneByName(dir, wanted as Named[], opts.range) : wanted;
  // A stream whose windows were all pruned still exists: it just has nothing in the range.
  for (const { parsed } of wanted) if (!byStream.has(parsed!.stream)) byStream.set(parsed!.stream, []);
  // Several windows at a time (in-parallel.ts); results keep the directory's order.
  const infos = await inParallel(candidates, async ({ file, parsed }) => {
    const info = await windowInfo(path.join(dir, file), parsed!.stream, parsed!.type as 'zip' | 'json', parseWindowTime(parsed!.time), opts.scanUnindexed ?? true);
    opts.onWindow?.(++done, candidates.length);
    return info;
  });
  for (const info of infos) (byStream.get(info.stream) ?? byStream.set(info.stream, []).get(info.stream)!).push(info);
  return inStreamOrder(byStream);
}

function inStreamOrder(byStream: Map<string, WindowInfo[]>): StreamCatalog[] {
  return [...byStream.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([stream, windows]) => ({ stream, windows: inTimeOrder(windows) }));
}

/**
 * By first record where known: names are local time, which repeats an hour
 * when DST ends. A window known only by its name (the original recorder's,
 * unscanned) is placed by its name moved by the offset the stream's other
 * windows show between name and first record: names are in the recording
 * machine's local time, which need not be ours, and the original's archives
 * share a directory with nsr's when nsr takes over its recorded_info/.
 */
function inTimeOrder(windows: WindowInfo[]): WindowInfo[] {
  // The offset matters only to windows without a first record; most catalogs (every one from the index) have none.
  const offset = windows.some((w) => !w.first) ? nameOffset(windows.length, (i) => windows[i]) : 0;
  const key = (w: WindowInfo) => w.first || w.start + offset;
  const before = (a: WindowInfo, b: WindowInfo) => key(a) - key(b) || a.file.localeCompare(b.file);
  // The index lists windows in time order: checking that is a pass, sorting them is many (a year holds ~105,000 a stream).
  for (let i = 1; i < windows.length; i++) if (before(windows[i - 1], windows[i]) > 0) return windows.sort(before);
  return windows;
}

/**
 * How far a stream's records lie from its windows' names (first record minus the name's start, the median over the
 * windows with records): places a window without a first record among the others. Window i is `at(i)`.
 */
export function nameOffset(n: number, at: (i: number) => { records: number; first: number; start: number }): number {
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = at(i);
    if (w.records > 0 && w.first > 0) offsets.push(w.first - w.start);
  }
  offsets.sort((a, b) => a - b);
  return offsets.length ? offsets[Math.floor(offsets.length / 2)] : 0;
}

interface Named {
  file: string;
  parsed: NonNullable<ReturnType<typeof parseWindowName>>;
}

/**
 * Keeps, per stream, the windows whose names allow records in [from, to).
 * Within a stream, a window's records lie between its name's time and the
 * next window's (names are the window start or the first record's second).
 * Names are in the recording machine's local time, which need not be ours:
 * one window's metadata tells the offset (its first record minus its name),
 * and a margin of one window length plus an hour covers the error of that
 * estimate and daylight-saving repeats. For archives without metadata (the
 * original recorder's, named when the window was opened) one window is
 * scanned to learn the offset.
 */
async function pruneByName(dir: string, named: Named[], range: { from?: number; to?: number }): Promise<Named[]> {
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  if (from === -Infinity && to === Infinity) return named;
  const kept: Named[] = [];
  const byStream = new Map<string, (Named & { start: number })[]>();
  for (const n of named) {
    const list = byStream.get(n.parsed.stream) ?? byStream.set(n.parsed.stream, []).get(n.parsed.stream)!;
    list.push({ ...n, start: parseWindowTime(n.parsed.time) });
  }
  for (const list of byStream.values()) {
    list.sort((a, b) => a.start - b.start);
    const gaps = list.slice(1).map((w, i) => w.start - list[i].start).sort((a, b) => a - b);
    const info = gaps.length >= 2 ? await offsetProbe(dir, list) : undefined;
    if (!info) {
      for (const w of list) kept.push(w); // not push(...list): a year of windows is past the argument limit
      continue;
    }
    const offset = info.first - info.start;
    const margin = gaps[Math.floor(gaps.length / 2)] + 3_600_000;
    list.forEach((w, i) => {
      const earliest = w.start + offset - margin;
      const latest = (i + 1 < list.length ? list[i + 1].start : Infinity) + offset + margin;
      if (earliest < to && latest >= from) kept.push(w);
    });
  }
  return kept;
}

/**
 * A window that tells the offset between names and records: its metadata, or
 * for the original recorder's zips (none) a scan of that one window. The
 * middle one, else the first or last (the original writes empty windows while
 * the kernel is down).
 */
async function offsetProbe(dir: string, list: (Named & { start: number })[]): Promise<WindowInfo | undefined> {
  for (const probe of new Set([list[Math.floor(list.length / 2)], list[0], list[list.length - 1]])) {
    const info = await windowInfo(path.join(dir, probe.file), probe.parsed.stream, probe.parsed.type as 'zip' | 'json', probe.start, true);
    if (!info.error && info.records > 0) return info;
  }
  return undefined;
}
