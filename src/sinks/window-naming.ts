/**
 * Window boundaries and file names (DESIGN 2.2). Windows align to the local
 * wall clock, so a 5-minute window starts at :00, :05, … and the windows of
 * all streams line up; names use the local time of the window start, as the
 * Python NSR does: `YYYY_MM_DD_HH-MM-SS_<stream>.json`.
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { unsafeEntry } from '../fs/safe-files.js';

import { windowStart } from '../clock/window-grid.js';
export { windowStart };

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `YYYY_MM_DD_HH-MM-SS` in local time. */
export function formatWindowTime(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}_${pad(d.getMonth() + 1)}_${pad(d.getDate())}_${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}`;
}

/** The open window file; `ext` is `json` for NDJSON windows (a sink may write others, e.g. `csv`). */
export const jsonName = (base: string, ext = 'json') => `${base}.${ext}`;
/** The zip of a closed window (`_json.zip`, `_csv.zip`). */
export const zipName = (base: string, ext = 'json') => `${base}_${ext}.zip`;
/** A zip is written under `<zip>.<12 random hex>.tmp` (temporaryName); older versions wrote `<zip>.tmp`. */
export const tmpZipSuffix = '.tmp';

/** A window file's name: its start (`YYYY_MM_DD_HH-MM-SS`), `_`, its stream; the patterns below add the ending. */
const TIME = String.raw`\d{4}_\d{2}_\d{2}_\d{2}-\d{2}-\d{2}`;
const STREAM = '[A-Za-z0-9][A-Za-z0-9_.-]*';

/** The NDJSON window files nsr writes; anything else in the directory is left alone by the archive tools. */
export const WINDOW_FILE = new RegExp(String.raw`^(${TIME})_(${STREAM}?)(\.json|_json\.zip|_json\.zip(?:\.[0-9a-f]{12})?\.tmp)$`);

/**
 * Every window file nsr writes: NDJSON (`json`) and the files of sinks that
 * window like it (`csv`). Recovery and `nsr verify` handle them all; the
 * NDJSON archive tools read only `json` (parseWindowName).
 */
export const WINDOW_EXTS = ['json', 'csv'] as const;
export type WindowExt = (typeof WINDOW_EXTS)[number];
const EXT = `(${WINDOW_EXTS.join('|')})`;
const OUTPUT_FILE = new RegExp(String.raw`^(${TIME})_(${STREAM}?)(?:\.${EXT}|_${EXT}\.zip|_${EXT}\.zip(?:\.[0-9a-f]{12})?\.tmp)$`);

export interface ParsedWindowName {
  base: string;
  time: string;
  stream: string;
  type: 'json' | 'zip' | 'tmp';
}

/** An NDJSON window file (open `.json`, `_json.zip`, or its temporary). */
export function parseWindowName(file: string): ParsedWindowName | undefined {
  const m = WINDOW_FILE.exec(file);
  if (!m) return undefined;
  const type = m[3] === '.json' ? 'json' : m[3] === '_json.zip' ? 'zip' : 'tmp';
  return { base: `${m[1]}_${m[2]}`, time: m[1], stream: m[2], type };
}

/** Any window file, with its extension; `type` `json` is the open file whatever its extension. */
export function parseOutputFile(file: string): (ParsedWindowName & { ext: WindowExt }) | undefined {
  const m = OUTPUT_FILE.exec(file);
  if (!m) return undefined;
  const type = m[3] ? 'json' : m[4] ? 'zip' : 'tmp';
  return { base: `${m[1]}_${m[2]}`, time: m[1], stream: m[2], type, ext: (m[3] ?? m[4] ?? m[5]) as WindowExt };
}

/**
 * The same names as parseOutputFile's `zip` and `json` (open window file) types, tested
 * without a match array and its substrings: the archive index checks one name per line,
 * 315,000 in a year's (index-format.ts tests them in place, from the patterns).
 */
export const ZIP_FILE_PATTERN = String.raw`${TIME}_${STREAM}_${EXT}\.zip`;
export const OPEN_WINDOW_FILE_PATTERN = String.raw`${TIME}_${STREAM}\.${EXT}`;
const ZIP_FILE = new RegExp(`^${ZIP_FILE_PATTERN}$`);
const OPEN_WINDOW_FILE = new RegExp(`^${OPEN_WINDOW_FILE_PATTERN}$`);
export const isZipFileName = (file: string) => ZIP_FILE.test(file);
export const isOpenWindowFileName = (file: string) => OPEN_WINDOW_FILE.test(file);

/** Local time `YYYY_MM_DD_HH-MM-SS` back to epoch ms. */
export function parseWindowTime(time: string): number {
  const [date, clock] = [time.slice(0, 10), time.slice(11)];
  const [y, mo, d] = date.split('_').map(Number);
  const [h, mi, s] = clock.split('-').map(Number);
  return new Date(y, mo - 1, d, h, mi, s).getTime();
}

/**
 * Picks the base name of a new window file that collides with nothing already
 * on disk (a window of this stream may exist from before a restart, or a size
 * cap may have closed it early). Nothing is ever overwritten: the name moves to
 * the first record's second, then on by one second until it is free. Any entry
 * takes a name, a dangling symlink too (lstat, not exists: that follows links);
 * one that is not a regular file is told to `onUnsafe` (it is left alone).
 */
export function freeWindowBase(dir: string, stream: string, windowStartMs: number, firstRecordMs: number, ext = 'json', onUnsafe?: (file: string, found: string) => void): string {
  const present = (file: string) => {
    const st = lstatSync(path.join(dir, file), { throwIfNoEntry: false });
    if (!st) return false;
    const why = unsafeEntry(st);
    if (why) onUnsafe?.(file, why);
    return true;
  };
  const taken = (base: string) => present(jsonName(base, ext)) || present(zipName(base, ext)) || present(zipName(base, ext) + tmpZipSuffix);
  let base = `${formatWindowTime(windowStartMs)}_${stream}`;
  if (!taken(base)) return base;
  for (let t = Math.max(Math.floor(firstRecordMs / 1000) * 1000, windowStartMs + 1000); ; t += 1000) {
    base = `${formatWindowTime(t)}_${stream}`;
    if (!taken(base)) return base;
  }
}
