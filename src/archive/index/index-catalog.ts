/**
 * A catalog from the archive index: the closed windows come from its lines
 * without opening a zip; only the window files it announced and that were not
 * zipped yet (open windows, windows waiting for compression) are looked at on
 * disk. The directory may have changed since the recorder last looked (zips
 * removed or copied in by hand while none ran): a whole read is given the
 * directory's names (`present`) and shows exactly what is there; a range read
 * looks for each zip it picked, and does not see zips copied in since (the
 * next `nsr run` adds them; `nsr index` names them).
 */
import path from 'node:path';
import { lstatIfAny } from '../../fs/safe-files.js';
import { jsonName, parseWindowName, parseWindowTime, zipName } from '../../sinks/window-naming.js';
import { inParallel } from '../in-parallel.js';
import { windowInfo, type WindowInfo } from '../window-info.js';
import { COUNTED_BY_SCAN, type IndexState } from './index-format.js';

export interface IndexCatalogOptions {
  streams?: string[];
  range?: { from?: number; to?: number };
  scanUnindexed?: boolean;
  /** The names in the directory (a whole read): zips the index lists that are not there are left out, window files it does not list are read. */
  present?: ReadonlySet<string>;
}


/** The windows of the index by stream (unordered), or undefined when an announced file cannot be placed. */
export async function windowsFromIndex(dir: string, state: IndexState, opts: IndexCatalogOptions): Promise<Map<string, WindowInfo[]>> {
  const from = opts.range?.from ?? -Infinity;
  const to = opts.range?.to ?? Infinity;
  const ranged = from !== -Infinity || to !== Infinity;
  const wanted = (stream: string) => !opts.streams || opts.streams.includes(stream);
  const byStream = new Map<string, WindowInfo[]>();
  const add = (w: WindowInfo) => (byStream.get(w.stream) ?? byStream.set(w.stream, []).get(w.stream)!).push(w);
  const sep = dir.endsWith(path.sep) ? '' : path.sep;
  const present = opts.present;
  const there = async (file: string) => (present ? present.has(file) : (await lstatIfAny(path.join(dir, file))) !== undefined);
  const picked: WindowInfo[] = [];
  for (const z of state.zips.values()) {
    const stream = ndjsonZipStream(z.file);
    if (stream === undefined || !wanted(stream)) continue;
    if (present && !present.has(z.file)) continue; // removed by hand
    if (!byStream.has(stream)) byStream.set(stream, []);
    if (ranged && !(z.records > 0 && z.last >= from && z.first < to)) continue;
    picked.push({
      stream,
      file: z.file,
      path: dir + sep + z.file,
      type: 'zip',
      start: z.start,
      records: z.records,
      first: z.first,
      last: z.last,
      bytes: z.bytes,
      diskBytes: z.zipBytes,
      source: z.flags.includes(COUNTED_BY_SCAN) ? 'scan' : 'metadata',
    });
  }
  // A range read picked few zips: each is looked for (one removed by hand is left out, as the directory read would).
  const found = present ? picked.map(() => true) : await inParallel(picked, (w) => there(w.file));
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
  // A whole read: window files the index does not know (copied in by hand, or written while no index was kept).
  if (present) {
    const unlisted: { file: string; parsed: ReturnType<typeof parseWindowName> }[] = [];
    for (const file of present) {
      if (state.zips.has(file) || state.opened.has(file)) continue; // most names: nothing to parse
      const parsed = parseWindowName(file);
      if (!parsed || parsed.type === 'tmp' || !wanted(parsed.stream)) continue;
      if (parsed.type === 'zip' ? !state.opened.has(jsonName(parsed.base)) : !present.has(zipName(parsed.base))) unlisted.push({ file, parsed });
    }
    const infos = await inParallel(unlisted, ({ file, parsed }) => windowInfo(path.join(dir, file), parsed!.stream, parsed!.type as 'zip' | 'json', parseWindowTime(parsed!.time), opts.scanUnindexed ?? true));
    for (const w of infos) {
      if (!byStream.has(w.stream)) byStream.set(w.stream, []);
      add(w);
    }
  }
  return byStream;
}

/**
 * The stream of an NDJSON window's zip (`YYYY_MM_DD_HH-MM-SS_<stream>_json.zip`), undefined for
 * anything else (a CSV sink's zip). By position, not the full pattern: it runs once per line of a
 * year's index, and the index's names were checked when it was read.
 */
function ndjsonZipStream(file: string): string | undefined {
  if (file.length <= 29 || !file.endsWith('_json.zip')) return undefined;
  if (file[4] !== '_' || file[7] !== '_' || file[10] !== '_' || file[13] !== '-' || file[16] !== '-' || file[19] !== '_') return undefined;
  return file.slice(20, -9);
}
