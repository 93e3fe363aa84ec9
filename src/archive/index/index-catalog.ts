/**
 * A catalog from the archive index: the closed windows come from its lines
 * without opening a zip; only the window files it announced and that were not
 * zipped yet (open windows, windows waiting for compression) are looked at on
 * disk. The directory may have changed since the recorder last looked (zips
 * removed or copied in by hand while none ran): a whole read is given the
 * directory's names (`listing`) and shows exactly what is there; a range read
 * looks for each zip it picked, and does not see zips copied in since (the
 * next `nsr run` adds them; `nsr index` names them).
 */
import path from 'node:path';
import { lstatIfAny } from '../../fs/safe-files.js';
import { jsonName, parseWindowName, parseWindowTime, zipName, type ParsedWindowName } from '../../sinks/window-naming.js';
import { inParallel } from '../in-parallel.js';
import { windowInfo, type WindowInfo } from '../window-info.js';
import type { CatalogZip, IndexedZip, IndexState } from './index-format.js';

export interface IndexCatalogOptions {
  streams?: string[];
  range?: { from?: number; to?: number };
  scanUnindexed?: boolean;
  /** The names in the directory (a whole read): zips the index lists that are not there are left out, window files it does not list are read. */
  listing?: readonly string[];
  /** A whole read of an index whose seal holds (index-seal.ts): the directory holds what it lists, no listing needed. */
  sealed?: boolean;
}

/** The windows of the index by stream (unordered); `state` is what readArchiveIndex(dir) read. */
export async function windowsFromIndex(dir: string, state: IndexState, opts: IndexCatalogOptions): Promise<Map<string, WindowInfo[]>> {
  const from = opts.range?.from ?? -Infinity;
  const to = opts.range?.to ?? Infinity;
  const ranged = from !== -Infinity || to !== Infinity;
  const wanted = (stream: string) => !opts.streams || opts.streams.includes(stream);
  const byStream = new Map<string, WindowInfo[]>();
  const add = (w: WindowInfo) => (byStream.get(w.stream) ?? byStream.set(w.stream, []).get(w.stream)!).push(w);
  const listing = opts.listing;
  // A whole read: the directory's names the index does not list are window files copied in by hand (or written while
  // no index was kept). When every zip the index lists is among the names, none was removed by hand and no zip needs
  // looking up; only then is no set of a year's names built (~0.1 s).
  const unlisted: { file: string; parsed: ParsedWindowName }[] = [];
  let allThere = opts.sealed === true;
  let names: Set<string> | undefined;
  const nameSet = () => (names ??= new Set(listing));
  if (listing) {
    let listed = 0;
    for (const file of listing) {
      if (state.zips.has(file)) {
        listed++;
        continue;
      }
      if (state.opened.has(file)) continue;
      const parsed = parseWindowName(file);
      if (parsed && parsed.type !== 'tmp' && wanted(parsed.stream)) unlisted.push({ file, parsed });
    }
    allThere = listed === state.zips.size;
  }
  // Whether a file is there: known from the listing when it was looked at whole, else looked up (few files).
  const there = async (file: string) =>
    (allThere && state.zips.has(file)) || (names ? names.has(file) : (await lstatIfAny(path.join(dir, file))) !== undefined);
  const picked: WindowInfo[] = [];
  // The zips come as this directory's windows already (readArchiveIndex(dir) read them as CatalogZip); a CSV sink's
  // zips are not NDJSON windows. Streams alternate line by line: the list is looked up only when the stream changes.
  let stream: string | undefined;
  let list: WindowInfo[] | undefined;
  for (const z of state.zips.values()) {
    if (!isCatalogZip(z) || !wanted(z.stream)) continue;
    if (listing && !allThere && !nameSet().has(z.file)) continue; // removed by hand (a stream of only such zips is not there)
    if (z.stream !== stream) {
      stream = z.stream;
      const own = byStream.get(stream) ?? byStream.set(stream, []).get(stream)!;
      list = listing || opts.sealed ? own : picked;
    }
    if (ranged && !(z.records > 0 && z.last >= from && z.first < to)) continue;
    list!.push(z);
  }
  // A range read picked few zips: each is looked for (one removed by hand is left out, as the directory read would).
  // A whole read put them in their lists already.
  const found = await inParallel(picked, (w) => there(w.file));
  picked.forEach((w, i) => found[i] && add(w));
  const onDisk = await windowFilesOnDisk(dir, state.opened, unlisted, there, { wanted, from, to, scanUnindexed: opts.scanUnindexed });
  for (const stream of onDisk.streams) if (!byStream.has(stream)) byStream.set(stream, []);
  for (const w of onDisk.windows) add(w);
  return byStream;
}

/**
 * The windows on disk the index does not list as zips: the window files it
 * announced and that were not zipped since (`opened`: still open, waiting for
 * compression, or zipped a moment ago — the index line follows the rename, and
 * the zip is the window then), and the directory's window files it does not
 * list at all (`unlisted`: copied in by hand, or written while no index was
 * kept). `there` tells whether a file is in the directory. `streams` holds the
 * stream of each window found, also when the range leaves it out.
 */
export async function windowFilesOnDisk(
  dir: string,
  opened: Iterable<[string, { start: number }]>,
  unlisted: readonly { file: string; parsed: ParsedWindowName }[],
  there: (file: string) => boolean | Promise<boolean>,
  opts: { wanted: (stream: string) => boolean; from: number; to: number; scanUnindexed?: boolean },
): Promise<{ streams: Set<string>; windows: WindowInfo[] }> {
  const ranged = opts.from !== -Infinity || opts.to !== Infinity;
  const streams = new Set<string>();
  const windows: WindowInfo[] = [];
  const announced = new Set<string>();
  for (const [file, o] of opened) {
    announced.add(file);
    const parsed = parseWindowName(file);
    if (parsed?.type !== 'json' || !opts.wanted(parsed.stream)) continue;
    const start = o.start || parseWindowTime(parsed.time);
    const zip = zipName(parsed.base);
    if (await there(zip)) {
      streams.add(parsed.stream);
      const w = await windowInfo(path.join(dir, zip), parsed.stream, 'zip', start, opts.scanUnindexed ?? true);
      if (!ranged || w.source === 'name' || (w.records > 0 && w.last >= opts.from && w.first < opts.to)) windows.push(w);
    } else if (await there(file)) {
      streams.add(parsed.stream);
      windows.push(await windowInfo(path.join(dir, file), parsed.stream, 'json', start, opts.scanUnindexed ?? true));
    }
  }
  // A zip, unless its open file is announced (handled above); an open file, unless its zip is there (the zip is the window).
  const read: { file: string; parsed: ParsedWindowName }[] = [];
  for (const u of unlisted) if (u.parsed.type === 'zip' ? !announced.has(jsonName(u.parsed.base)) : !(await there(zipName(u.parsed.base)))) read.push(u);
  const infos = await inParallel(read, ({ file, parsed }) => windowInfo(path.join(dir, file), parsed.stream, parsed.type as 'zip' | 'json', parseWindowTime(parsed.time), opts.scanUnindexed ?? true));
  for (const w of infos) {
    streams.add(w.stream);
    windows.push(w);
  }
  return { streams, windows };
}

/** A zip read by readArchiveIndex (a window of the catalog's directory already), not one of the recorder's state. */
const isCatalogZip = (z: IndexedZip): z is CatalogZip => (z as CatalogZip).path !== undefined;
