/**
 * A catalog from the archive index: the closed windows come from its lines
 * without opening a zip; only the window files it announced and that were not
 * zipped yet (open windows, windows waiting for compression) are looked at on
 * disk. Zips the index does not know (copied in by hand while no recorder ran)
 * are found by `nsr index --check` and added at the next `nsr run`.
 */
import path from 'node:path';
import { lstatIfAny } from '../../fs/safe-files.js';
import { parseWindowName, parseWindowTime, zipName } from '../../sinks/window-naming.js';
import { windowInfo, type WindowInfo } from '../window-info.js';
import { COUNTED_BY_SCAN, type IndexState } from './index-format.js';

export interface IndexCatalogOptions {
  streams?: string[];
  range?: { from?: number; to?: number };
  scanUnindexed?: boolean;
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
  for (const z of state.zips.values()) {
    const stream = ndjsonZipStream(z.file);
    if (stream === undefined || !wanted(stream)) continue;
    if (!byStream.has(stream)) byStream.set(stream, []);
    if (ranged && !(z.records > 0 && z.last >= from && z.first < to)) continue;
    add({
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
  // Announced window files: still open or waiting for compression, or zipped a moment ago (the index line follows the rename).
  for (const [file, o] of state.opened) {
    const parsed = parseWindowName(file);
    if (parsed?.type !== 'json' || !wanted(parsed.stream)) continue;
    if (!byStream.has(parsed.stream)) byStream.set(parsed.stream, []);
    const jsonPath = path.join(dir, file);
    if (await lstatIfAny(jsonPath)) {
      add(await windowInfo(jsonPath, parsed.stream, 'json', o.start || parseWindowTime(parsed.time), opts.scanUnindexed ?? true));
      continue;
    }
    const zipPath = path.join(dir, zipName(parsed.base));
    if (await lstatIfAny(zipPath)) {
      const w = await windowInfo(zipPath, parsed.stream, 'zip', o.start || parseWindowTime(parsed.time), opts.scanUnindexed ?? true);
      if (!ranged || w.source === 'name' || (w.records > 0 && w.last >= from && w.first < to)) add(w);
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
