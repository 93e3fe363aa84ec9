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
  let allThere = false;
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
      list = listing ? own : picked;
    }
    if (ranged && !(z.records > 0 && z.last >= from && z.first < to)) continue;
    list!.push(z);
  }
  // A range read picked few zips: each is looked for (one removed by hand is left out, as the directory read would).
  // A whole read put them in their lists already.
  const found = await inParallel(picked, (w) => there(w.file));
  picked.forEach((w, i) => found[i] && add(w));
  // Announced window files: still open or waiting for compression, or zipped a moment ago (the index line follows the rename; the zip is the window then).
  for (const [file, o] of state.opened) {
    const parsed = parseWindowName(file);
    if (parsed?.type !== 'json' || !wanted(parsed.stream)) continue;
    const start = o.start || parseWindowTime(parsed.time);
    const zip = zipName(parsed.base);
    if (await there(zip)) {
      if (!byStream.has(parsed.stream)) byStream.set(parsed.stream, []);
      const w = await windowInfo(path.join(dir, zip), parsed.stream, 'zip', start, opts.scanUnindexed ?? true);
      if (!ranged || w.source === 'name' || (w.records > 0 && w.last >= from && w.first < to)) add(w);
    } else if (await there(file)) {
      if (!byStream.has(parsed.stream)) byStream.set(parsed.stream, []);
      add(await windowInfo(path.join(dir, file), parsed.stream, 'json', start, opts.scanUnindexed ?? true));
    }
  }
  // The window files the index does not list: a zip, unless its open file is announced (handled above); an open
  // file, unless its zip is there (the zip is the window).
  const read: typeof unlisted = [];
  for (const u of unlisted) if (u.parsed.type === 'zip' ? !state.opened.has(jsonName(u.parsed.base)) : !(await there(zipName(u.parsed.base)))) read.push(u);
  const infos = await inParallel(read, ({ file, parsed }) => windowInfo(path.join(dir, file), parsed.stream, parsed.type as 'zip' | 'json', parseWindowTime(parsed.time), opts.scanUnindexed ?? true));
  for (const w of infos) {
    if (!byStream.has(w.stream)) byStream.set(w.stream, []);
    add(w);
  }
  return byStream;
}

/** A zip read by readArchiveIndex (a window of the catalog's directory already), not one of the recorder's state. */
const isCatalogZip = (z: IndexedZip): z is CatalogZip => (z as CatalogZip).path !== undefined;
