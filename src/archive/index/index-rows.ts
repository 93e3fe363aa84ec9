/**
 * A whole directory's windows, per stream, as summary rows (summary.ts) read
 * straight from the archive index: numbers into typed columns, no object and
 * no string per window. `nsr ls` of a year reads 315,000 lines; folding them
 * into an object and a name per zip (readCatalog) spent most of its second in
 * making them, hashing the names and collecting the garbage.
 *
 * The result is the catalog's: the same folding of the lines (a later `z` of a
 * name replaces an earlier one, a `d` removes what came before it, a `z` ends
 * the announcement of its window file) and the same check against the
 * directory's names (a zip removed by hand is left out; window files the index
 * does not list, and the announced ones, are read from disk as the catalog
 * reads them). A zip is known by its stream and the 14 digits of its name's
 * time, which name it uniquely within the stream.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { lstatIfAny } from '../../fs/safe-files.js';
import { parseWindowName, zipName, type ParsedWindowName } from '../../sinks/window-naming.js';
import { nameOffset } from '../catalog.js';
import { KNOWN_BY_NAME, OPEN_WINDOW, type StreamRows } from '../summary.js';
import type { WindowInfo } from '../window-info.js';
import { windowFilesOnDisk } from './index-catalog.js';
import { fieldEnd, fieldStart, hasIndexHeader, INDEX_HEADER, ndjsonZipStreamAt, numAt, OP_D, OP_O, OP_Z, scanLine, zNumber } from './index-format.js';
import { readIndexBytes } from './index-reader.js';
import { sealHolds } from './index-seal.js';

/** A directory with more streams than this is read the catalog's way. */
const MAX_STREAMS = 64;
/** Where a `z`, `d` or `h` line's zip name starts: the op, a tab, the day (8), a tab. */
const NAME_OFFSET = 11;
/** No `z` line is shorter: op, day, name (29 characters and the stream), six numbers, flags, and their tabs. */
const MIN_Z_LINE = 11 + 30 + 6 * 2 + 2;
/** Rows each stream's columns have room for at first (they grow by doubling beyond). */
const INITIAL_ROOM = 1 << 17;

/**
 * The rows of every stream of `dir` with their windows, in stream order; undefined
 * when the index is missing or does not parse (the caller reads the directory, as
 * readCatalog does then).
 */
export async function indexRows(dir: string): Promise<StreamRows[] | undefined> {
  const buf = await readIndexBytes(dir);
  if (!(buf instanceof Buffer) || !hasIndexHeader(buf)) return undefined;
  // Listed by a thread of the pool while this one reads the lines, unless the seal says the directory holds what the index lists.
  const sealed = await sealHolds(dir, buf);
  const listing = sealed ? undefined : readdir(dir);
  listing?.catch(() => {}); // awaited below, or not needed
  const text = buf.toString('latin1');
  const streams = readLines(text);
  if (!streams) return undefined;
  // The directory's names: each zip the index lists is marked as there; the other window files are read from disk.
  const other = new Set<string>();
  for (const name of listing ? await listing : []) {
    const { s, row } = streams.zipRow(name);
    if (row >= 0 && !s!.dead[row]) s!.there[row] = 1;
    else other.add(name);
  }
  if (sealed) for (const s of streams.byName.values()) s.there.fill(1);
  const there = async (file: string) => {
    if (other.has(file)) return true;
    const { s, row } = streams.zipRow(file);
    if (row >= 0 && !s!.dead[row]) return s!.there[row] === 1;
    return sealed && (await lstatIfAny(path.join(dir, file))) !== undefined;
  };
  // The announcements no zip has ended since: a `z` of the window file's zip after the (last) announcement.
  const opened = new Map(
    [...streams.opened].filter(([file, o]) => {
      const parsed = parseWindowName(file);
      const { s, row } = parsed?.type === 'json' ? streams.zipRow(zipName(parsed.base)) : { s: undefined, row: -1 };
      return !(row >= 0 && s!.lineAt[row] > o.at);
    }),
  );
  const unlisted: { file: string; parsed: ParsedWindowName }[] = [];
  for (const file of other) {
    if (opened.has(file)) continue;
    const parsed = parseWindowName(file);
    if (parsed && parsed.type !== 'tmp') unlisted.push({ file, parsed });
  }
  const onDisk = await windowFilesOnDisk(dir, opened, unlisted, there, { wanted: () => true, from: -Infinity, to: Infinity });
  const rows: StreamRows[] = [];
  for (const name of new Set([...streams.byName.keys(), ...onDisk.streams])) {
    const s = streams.byName.get(name);
    const extra = onDisk.windows.filter((w) => w.stream === name);
    const r = s ? s.rows(text, extra) : rowsOfWindows(name, extra);
    if (r.length || r.unreadable.length || onDisk.streams.has(name)) rows.push(r);
  }
  return rows.sort((a, b) => a.stream.localeCompare(b.stream));
}

/** The lines folded into columns per stream, and the announced window files; undefined when a line does not parse. */
function readLines(text: string) {
  const byName = new Map<string, StreamColumns>();
  const removals: { stream: StreamColumns; key: number; at: number }[] = [];
  /** Announced window files by name: where the (last) announcement is and the window's start. */
  const opened = new Map<string, { at: number; start: number }>();
  // Room for a year of 5-minute windows from the start, or for every line of a smaller index: growing the columns by
  // doubling from small copied each several times.
  const room = Math.min(Math.ceil(text.length / MIN_Z_LINE), INITIAL_ROOM);
  let pos = INDEX_HEADER.length;
  for (;;) {
    const end = text.indexOf('\n', pos);
    if (end < 0) break; // a torn last line is not a fact
    const op = scanLine(text, pos, end);
    if (op === 0) return undefined;
    if (op === OP_Z || op === OP_D) {
      const from = fieldStart(2);
      const to = fieldEnd(2);
      const stream = ndjsonZipStreamAt(text, from, to);
      let s = stream === undefined ? undefined : byName.get(stream);
      if (!s && stream !== undefined && op === OP_Z) {
        if (byName.size === MAX_STREAMS) return undefined;
        byName.set(stream, (s = new StreamColumns(stream, room)));
      }
      if (s && op === OP_Z) s.add(timeKey(text, from), pos, zNumber(3), zNumber(4), zNumber(5), zNumber(6), zNumber(7), zNumber(8));
      else if (s) removals.push({ stream: s, key: timeKey(text, from), at: pos });
    } else if (op === OP_O) {
      opened.set(text.slice(fieldStart(2), fieldEnd(2)), { at: pos, start: numAt(text, 3) });
    }
    pos = end + 1;
  }
  for (const s of byName.values()) s.settle();
  for (const r of removals) {
    const row = r.stream.find(r.key);
    if (row >= 0 && r.stream.lineAt[row] < r.at) r.stream.dead[row] = 1;
  }
  return {
    byName,
    opened,
    /** The row of the zip a directory name is (the latest line of that name), or -1; `s` its stream's columns. */
    zipRow(name: string): { s: StreamColumns | undefined; row: number } {
      const stream = isWindowTime(name) ? ndjsonZipStreamAt(name, 0, name.length) : undefined;
      const s = stream === undefined ? undefined : byName.get(stream);
      return { s, row: s ? s.find(timeKey(name, 0)) : -1 };
    },
  };
}

/** One stream's zips in index order, as columns that grow by doubling. */
class StreamColumns {
  n = 0;
  key: Float64Array;
  lineAt: Float64Array;
  start: Float64Array;
  records: Float64Array;
  first: Float64Array;
  last: Float64Array;
  bytes: Float64Array;
  zipBytes: Float64Array;
  /** Removed by a later line (`d`, or a later `z` of the same name). */
  dead: Uint8Array;
  /** Listed in the directory. */
  there: Uint8Array;
  /** Row numbers by key, once settled (undefined: the rows are in key order already). */
  private byKey: Uint32Array | undefined;

  constructor(
    readonly name: string,
    room: number,
  ) {
    [this.key, this.lineAt, this.start, this.records, this.first, this.last, this.bytes, this.zipBytes] = Array.from({ length: 8 }, () => new Float64Array(room));
    [this.dead, this.there] = [new Uint8Array(room), new Uint8Array(room)];
  }

  add(key: number, lineAt: number, start: number, records: number, first: number, last: number, bytes: number, zipBytes: number): void {
    if (this.n === this.key.length) this.grow();
    const i = this.n++;
    this.key[i] = key;
    this.lineAt[i] = lineAt;
    this.start[i] = start;
    this.records[i] = records;
    this.first[i] = first;
    this.last[i] = last;
    this.bytes[i] = bytes;
    this.zipBytes[i] = zipBytes;
  }

  private grow(): void {
    const size = Math.max(16, this.key.length * 2);
    const bigger = <T extends Float64Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(size);
      b.set(a);
      return b;
    };
    [this.key, this.lineAt, this.start, this.records, this.first, this.last, this.bytes, this.zipBytes] = [this.key, this.lineAt, this.start, this.records, this.first, this.last, this.bytes, this.zipBytes].map(bigger);
    [this.dead, this.there] = [bigger(this.dead), bigger(this.there)];
  }

  /**
   * Orders the rows by key for find() (the index lists a stream's zips by first record, which is their names'
   * order unless a clock or time zone moved); of two rows of one name, the later line is the zip, the earlier dead.
   */
  settle(): void {
    let ordered = true;
    for (let i = 1; i < this.n && ordered; i++) ordered = this.key[i - 1] < this.key[i];
    if (ordered) return;
    const byKey = new Uint32Array(this.n);
    for (let i = 0; i < this.n; i++) byKey[i] = i;
    byKey.sort((a, b) => this.key[a] - this.key[b] || this.lineAt[a] - this.lineAt[b]);
    for (let j = 1; j < this.n; j++) if (this.key[byKey[j - 1]] === this.key[byKey[j]]) this.dead[byKey[j - 1]] = 1;
    this.byKey = byKey;
  }

  /** The row of the zip with this key (the last line of that name), or -1. */
  find(key: number): number {
    let lo = 0;
    let hi = this.n - 1;
    const at = (j: number) => (this.byKey ? this.byKey[j] : j);
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.key[at(mid)];
      if (k < key) lo = mid + 1;
      else if (k > key) hi = mid - 1;
      else {
        found = at(mid); // of equal keys, the last in key order is the latest line
        lo = mid + 1;
      }
    }
    return found;
  }

  /**
   * The zips that are there (not removed, listed in the directory) and the windows read from disk, as rows in time
   * order: by first record, then name, as the catalog orders them (the summary depends on no other order).
   */
  rows(text: string, extra: WindowInfo[]): StreamRows {
    let kept = 0;
    for (let i = 0; i < this.n; i++) if (!this.dead[i] && this.there[i]) kept++;
    const length = kept + extra.length;
    const records = new Float64Array(length);
    const first = new Float64Array(length);
    const last = new Float64Array(length);
    const bytes = new Float64Array(length);
    const diskBytes = new Float64Array(length);
    const kind = new Uint8Array(length);
    const start = new Float64Array(length);
    const lineAt = new Float64Array(kept);
    const unreadable: string[] = [];
    let j = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.dead[i] || !this.there[i]) continue;
      records[j] = this.records[i];
      first[j] = this.first[i];
      last[j] = this.last[i];
      bytes[j] = this.bytes[i];
      diskBytes[j] = this.zipBytes[i];
      start[j] = this.start[i];
      lineAt[j++] = this.lineAt[i];
    }
    const extraFiles: string[] = [];
    for (const w of extra) {
      if (w.error) {
        unreadable.push(`${w.file}: ${w.error}`);
        continue;
      }
      records[j] = w.records;
      first[j] = w.first;
      last[j] = w.last;
      bytes[j] = w.bytes;
      diskBytes[j] = w.diskBytes;
      start[j] = w.start;
      kind[j] = (w.type === 'json' ? OPEN_WINDOW : 0) | (w.source === 'name' ? KNOWN_BY_NAME : 0);
      extraFiles.push(w.file);
      j++;
    }
    const fileOf = (i: number) => (i < kept ? text.slice(lineAt[i] + NAME_OFFSET, text.indexOf('\t', lineAt[i] + NAME_OFFSET)) : extraFiles[i - kept]);
    return inTimeOrder({ stream: this.name, length: j, records, first, last, bytes, diskBytes, kind, file: fileOf, unreadable }, start);
  }
}

/** Windows read from disk alone (a stream the index does not name), as rows. */
function rowsOfWindows(stream: string, windows: WindowInfo[]): StreamRows {
  return new StreamColumns(stream, 0).rows('', windows);
}

/**
 * The rows ordered as the catalog orders windows (catalog.ts, inTimeOrder): by first record, a window without one
 * by its name's start moved by the offset the others show between name and first record, then by name. Only the
 * order of the rows with records matters to a summary: it is checked, and the rows sorted only when it is wrong.
 */
function inTimeOrder(r: StreamRows, start: Float64Array): StreamRows {
  const offset = Array.prototype.some.call(r.first, (f: number) => !f) ? nameOffset(r.length, (i) => ({ records: r.records[i], first: r.first[i], start: start[i] })) : 0;
  const key = (i: number) => r.first[i] || start[i] + offset;
  const counted = (i: number) => r.records[i] > 0 && !(r.kind[i] & KNOWN_BY_NAME);
  const before = (a: number, b: number) => key(a) - key(b) || r.file(a).localeCompare(r.file(b));
  let previous = -1;
  let ordered = true;
  for (let i = 0; i < r.length && ordered; i++) {
    if (!counted(i)) continue;
    if (previous >= 0 && before(previous, i) > 0) ordered = false;
    previous = i;
  }
  if (ordered) return r;
  const order = Array.from({ length: r.length }, (_, i) => i).sort(before);
  const pick = (col: ArrayLike<number>) => order.map((i) => col[i]);
  return { ...r, records: pick(r.records), first: pick(r.first), last: pick(r.last), bytes: pick(r.bytes), diskBytes: pick(r.diskBytes), kind: pick(r.kind), file: (i) => r.file(order[i]) };
}

/** Whether the name begins with a window time and its `_` (`YYYY_MM_DD_HH-MM-SS_`). */
function isWindowTime(name: string): boolean {
  if (name.length < 21) return false;
  for (let i = 0; i < 20; i++) {
    const c = name.charCodeAt(i);
    const want = i === 4 || i === 7 || i === 10 || i === 19 ? 0x5f : i === 13 || i === 16 ? 0x2d : -1;
    if (want >= 0 ? c !== want : c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** The 14 digits of a window name's time at name[at, at+19) as one number (unique per name within a stream). */
function timeKey(name: string, at: number): number {
  let key = 0;
  for (let i = 0; i < 19; i++) {
    const c = name.charCodeAt(at + i) - 48;
    if (c >= 0 && c <= 9) key = key * 10 + c;
  }
  return key;
}
