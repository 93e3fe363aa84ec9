/**
 * The archive index (`<output.dir>/.nsr.index`): an append-only manifest of
 * every closed window's metadata, so the offline tools open only the zips they
 * need and the recorder's retention knows what the directory holds without
 * reading it. Tab-separated lines, one fact each:
 *
 *   nsr-index 1                                         header
 *   z <day> <zip> <start> <records> <first> <last> <bytes> <zip bytes> <flags>   a zip was written
 *   o <day> <window file> <start>                       a window file is about to be created
 *   d <day> <zip> <reason> <ms>                         a zip is removed (written before the unlink, at <ms>)
 *   h <day> <zip>                                       its on_window hook succeeded
 *   w <ms>                                              the longest window span so far
 *
 * `<day>` is the UTC date (YYYYMMDD) of the window's first record (of its start
 * when it has none): a reader after one minute searches the bytes for the
 * lines of one or two days and parses only those (a year holds ~315,000
 * lines; parsing all of them takes longer than `nsr cat` may). Tabs never
 * occur in nsr's names (stream names are letters, digits, `_-.`).
 *
 * Crash safety: a line is appended in one write; a torn last line (no `\n`)
 * is not a fact and is cut when the recorder opens the index. A removal is
 * written before the file goes, so a crash between the two is completed at the
 * next start. A line that does not parse makes the whole index suspect: the
 * readers fall back to the directory and the recorder rebuilds it.
 */
import { OPEN_WINDOW_FILE_PATTERN, ZIP_FILE_PATTERN } from '../../sinks/window-naming.js';

export const INDEX_FILE = '.nsr.index';
export const INDEX_HEADER = 'nsr-index\t1\n';
/** Whether the bytes begin as an index does. */
export const hasIndexHeader = (buf: Buffer) => buf.length >= INDEX_HEADER.length && buf.toString('latin1', 0, INDEX_HEADER.length) === INDEX_HEADER;
/** An index larger than this is not read (a year of windows takes ~32 MB): it is damaged, or not one. */
export const MAX_INDEX_BYTES = 256 * 1024 * 1024;

/** Flags of a `z` line: the on_window hook is still due; the counts come from a scan (the original recorder's zips carry no metadata). */
export const HOOK_PENDING = 'h';
export const COUNTED_BY_SCAN = 's';
/** An events window known to hold no run mark (logging/run-marks.ts): `nsr stats` does not open it. */
export const RUN_MARKS_NONE = 'q';

export interface IndexedZip {
  /** The zip's name in the output directory. */
  file: string;
  day: string;
  /** Window start (from the writer, or the name), epoch ms. */
  start: number;
  records: number;
  first: number;
  last: number;
  /** Uncompressed bytes. */
  bytes: number;
  zipBytes: number;
  flags: string;
}

/**
 * A `z` line as the archive tools read it: the zip's facts and, in the same
 * object, the window their catalog lists (WindowInfo's fields): a year's index
 * holds 315,000 zips, and a second object for each was a third of `nsr ls`.
 */
export interface CatalogZip extends IndexedZip {
  stream: string;
  path: string;
  type: 'zip';
  diskBytes: number;
  source: 'metadata' | 'scan';
  /** 0 for an events window known to hold no run mark; undefined when not known (WindowInfo's). */
  marked: number | undefined;
}

export type IndexLine =
  | ({ op: 'z' } & IndexedZip)
  | { op: 'o'; day: string; file: string; start: number }
  /** `at`: when (epoch ms); a zip there now that changed later was put back since (restored), not left by a crash. */
  | { op: 'd'; day: string; file: string; reason: string; at?: number }
  | { op: 'h'; day: string; file: string }
  | { op: 'w'; span: number };

/** UTC YYYYMMDD of an epoch-ms time. */
export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** The day a window's lines are filed under. */
export const windowDay = (w: { records: number; first: number; start: number }) => dayKey(w.records > 0 && w.first > 0 ? w.first : w.start);

export function encodeLine(l: IndexLine): string {
  switch (l.op) {
    case 'z':
      return `z\t${l.day}\t${l.file}\t${l.start}\t${l.records}\t${l.first}\t${l.last}\t${l.bytes}\t${l.zipBytes}\t${l.flags || '-'}\n`;
    case 'o':
      return `o\t${l.day}\t${l.file}\t${l.start}\n`;
    case 'd':
      return `d\t${l.day}\t${l.file}\t${l.reason}${l.at === undefined ? '' : `\t${l.at}`}\n`;
    case 'h':
      return `h\t${l.day}\t${l.file}\n`;
    case 'w':
      return `w\t${l.span}\n`;
  }
}

/**
 * Names are window files of the output directory, nothing else: the index
 * tells the recorder what to remove (a `d` line is completed at the next
 * start, retention removes \`z\` entries), so a line naming another file (an
 * edited or planted index) would have it remove that file. Such a line makes
 * the index damaged. (No name of either kind holds \`/\`, or is \`.\` or \`..\`.)
 * Tested where the name lies in the line (sticky, up to the field's end): a
 * year's index checks 315,000 names, and cutting each out first made garbage.
 */
const ZIP_NAME_AT = new RegExp(`${ZIP_FILE_PATTERN}(?![^\\t\\n])`, 'y');
const WINDOW_FILE_NAME_AT = new RegExp(`${OPEN_WINDOW_FILE_PATTERN}(?![^\\t\\n])`, 'y');
const nameAt = (re: RegExp, text: string, k: number) => {
  re.lastIndex = fieldAt[k];
  return re.test(text) && re.lastIndex === fieldAt[k + 1] - 1;
};

/** The whole number in text[from, to): 1 to 16 digits, else NaN (a loop over the line in place: a substring, a regex and Number() per field cost most of a year's parse). */
function intAt(text: string, from: number, to: number): number {
  if (to <= from || to - from > 16) return NaN;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    n = n * 10 + c;
  }
  return n;
}

const MAX_FIELDS = 10;
/** Where each field of the line last scanned starts; the next field's start minus one is where it ends. Reused: one scan at a time. */
const fieldAt = new Int32Array(MAX_FIELDS + 1);
let fieldCount = 0;

// Field k of the line last scanned (no closures per line: a year's index holds 315,000).
const fieldLength = (k: number) => fieldAt[k + 1] - 1 - fieldAt[k];
const strAt = (text: string, k: number) => text.slice(fieldAt[k], fieldAt[k + 1] - 1);
/** Field k of the line scanLine last accepted, as a number (the numeric fields of its op passed). */
export const numAt = (text: string, k: number) => intAt(text, fieldAt[k], fieldAt[k + 1] - 1);
/** The numbers of the `z` line scanLine last accepted (fields 3 to 8), parsed once while checking it. */
const zNumbers = new Float64Array(MAX_FIELDS);
export const zNumber = (k: number) => zNumbers[k];
/** Where field k of the line scanLine last accepted starts in its text. */
export const fieldStart = (k: number) => fieldAt[k];
/** Where field k of the line scanLine last accepted ends (its tab, or the line's end). */
export const fieldEnd = (k: number) => fieldAt[k + 1] - 1;
/** YYYYMMDD */
const dayAt = (text: string, k: number) => fieldLength(k) === 8 && !Number.isNaN(numAt(text, k));
/** The day of the line before is most often the day of this one: the same string then, not a new one. */
let lastDay = '00000000';
const dayString = (text: string, k: number) => (text.startsWith(lastDay, fieldAt[k]) ? lastDay : (lastDay = strAt(text, k)));

/** One line without its `\n`; undefined when it is not a well-formed fact (the index is then suspect). */
export function decodeLine(text: string, pathPrefix?: string): IndexLine | undefined {
  return decodeAt(text, 0, text.length, pathPrefix);
}

/**
 * The stream of a window zip's name (`<YYYY_MM_DD_HH-MM-SS>_<stream>_<ext>.zip`): by position,
 * for names that passed isZipFileName (the index holds no other), without a regular expression
 * per window.
 */
export const zipStream = (file: string) => file.slice(20, file.lastIndexOf('_'));

/**
 * The stream of the NDJSON window zip named at text[from, to), undefined for a CSV sink's. A
 * directory holds a few streams, whose windows alternate in the index: each stream's name is one
 * string, not one per line, and the name is not cut out of the text to find it.
 */
const knownStreams: string[] = [];
export function ndjsonZipStreamAt(text: string, from: number, to: number): string | undefined {
  if (!text.startsWith('_json.zip', to - 9)) return undefined;
  for (const s of knownStreams) if (to - from === 29 + s.length && text.startsWith(s, from + 20)) return s;
  const stream = text.slice(from + 20, to - 9);
  if (knownStreams.length < 32) knownStreams.push(stream);
  return stream;
}

/** Char codes of the ops, as scanLine returns them. */
export const OP_Z = 0x7a;
export const OP_O = 0x6f;
export const OP_D = 0x64;
export const OP_H = 0x68;
export const OP_W = 0x77;

/**
 * Checks the line at text[pos, end) (no `\n`) in place and leaves its fields'
 * offsets for numAt/fieldStart: its op's char code, or 0 when it is not a
 * well-formed fact. Nothing is allocated: `nsr ls` reads a year's 315,000
 * lines into columns without an object per line (index-rows.ts).
 */
export function scanLine(text: string, pos: number, end: number): number {
  let fields = 1;
  fieldAt[0] = pos;
  // indexOf finds a tab faster than a loop over the characters (a year's index holds 28 million).
  for (let i = text.indexOf('\t', pos); i >= 0 && i < end; i = text.indexOf('\t', i + 1)) {
    if (fields === MAX_FIELDS) return 0;
    fieldAt[fields++] = i + 1;
  }
  fieldAt[fields] = end + 1;
  fieldCount = fields;
  if (fieldLength(0) !== 1) return 0;
  const op = text.charCodeAt(pos);
  switch (op) {
    case OP_Z:
      if (fields !== 10 || !dayAt(text, 1) || !nameAt(ZIP_NAME_AT, text, 2)) return 0;
      for (let k = 3; k <= 8; k++) if (Number.isNaN((zNumbers[k] = numAt(text, k)))) return 0;
      return op;
    case OP_O:
      return fields === 4 && dayAt(text, 1) && !Number.isNaN(numAt(text, 3)) && nameAt(WINDOW_FILE_NAME_AT, text, 2) ? op : 0;
    case OP_D:
      if ((fields !== 4 && fields !== 5) || !dayAt(text, 1) || !nameAt(ZIP_NAME_AT, text, 2) || !/^[a-z_]+$/.test(strAt(text, 3))) return 0;
      return fields === 4 || !Number.isNaN(numAt(text, 4)) ? op : 0;
    case OP_H:
      return fields === 3 && dayAt(text, 1) && nameAt(ZIP_NAME_AT, text, 2) ? op : 0;
    case OP_W:
      return fields === 2 && !Number.isNaN(numAt(text, 1)) ? op : 0;
    default:
      return 0;
  }
}

/**
 * The line at text[pos, end) (no `\n`) as an object: the recorder's fold and
 * the range reads. With `pathPrefix` (the archive tools) an NDJSON zip comes
 * as a CatalogZip, one object that is both the fact and the catalog's window.
 */
export function decodeAt(text: string, pos: number, end: number, pathPrefix?: string): IndexLine | undefined {
  const op = scanLine(text, pos, end);
  switch (op) {
    case OP_Z: {
      const file = strAt(text, 2);
      const start = zNumber(3);
      const records = zNumber(4);
      const first = zNumber(5);
      const last = zNumber(6);
      const bytes = zNumber(7);
      const zipBytes = zNumber(8);
      const flags = fieldLength(9) === 1 && text.charCodeAt(fieldAt[9]) === 0x2d /* - */ ? '' : strAt(text, 9);
      const stream = pathPrefix === undefined ? undefined : ndjsonZipStreamAt(file, 0, file.length);
      if (stream === undefined) return { op: 'z', day: dayString(text, 1), file, start, records, first, last, bytes, zipBytes, flags };
      const source = flags.includes(COUNTED_BY_SCAN) ? 'scan' : 'metadata';
      const marked = flags.includes(RUN_MARKS_NONE) ? 0 : undefined;
      const zip: { op: 'z' } & CatalogZip = { op: 'z', day: dayString(text, 1), file, start, records, first, last, bytes, zipBytes, flags, stream, path: pathPrefix! + file, type: 'zip', diskBytes: zipBytes, source, marked };
      return zip;
    }
    case OP_O:
      return { op: 'o', day: dayString(text, 1), file: strAt(text, 2), start: numAt(text, 3) };
    case OP_D: {
      const day = dayString(text, 1);
      const file = strAt(text, 2);
      const reason = strAt(text, 3);
      return fieldCount === 5 ? { op: 'd', day, file, reason, at: numAt(text, 4) } : { op: 'd', day, file, reason };
    }
    case OP_H:
      return { op: 'h', day: dayString(text, 1), file: strAt(text, 2) };
    case OP_W:
      return { op: 'w', span: numAt(text, 1) };
    default:
      return undefined;
  }
}

/** The facts of an index, folded: the zips that are there, the window files announced and not zipped since. */
export interface IndexState {
  zips: Map<string, IndexedZip>;
  /** Window files (`.json`, `.csv`) announced by an `o` line, by name, with their start. */
  opened: Map<string, { day: string; start: number }>;
  /** Zips removed (`d` lines), by name, with the reason and when: a removal a crash interrupted is completed from here. */
  removed: Map<string, { reason: string; at?: number }>;
  /** The longest window span seen (for range searches). */
  span: number;
  /** Lines that are no longer facts about a present file (removed zips, zipped window files): what a compaction drops. */
  dead: number;
}

export function emptyState(): IndexState {
  return { zips: new Map(), opened: new Map(), removed: new Map(), span: 0, dead: 0 };
}

/**
 * Whether a zip found under the name of a removed one is the one whose removal
 * a crash interrupted (unchanged since the removal was written), not one put
 * back since (restored from where on_window shipped it, copied in): that one
 * is kept. A removal without a time (older lines) is completed.
 */
export function interruptedRemoval(removal: { at?: number }, zipCtimeMs: number): boolean {
  return removal.at === undefined || Math.floor(zipCtimeMs) <= removal.at;
}

/** The open window file a zip replaced: `<base>_json.zip` → `<base>.json`. */
export function windowFileOf(zip: string): string {
  if (zip.endsWith('_json.zip')) return `${zip.slice(0, -9)}.json`;
  if (zip.endsWith('_csv.zip')) return `${zip.slice(0, -8)}.csv`;
  return zip;
}

/** Folds one fact into the state. */
export function applyLine(state: IndexState, l: IndexLine): void {
  switch (l.op) {
    case 'z': {
      // The line is the zip (its `op` rides along): no copy per line, a year holds 315,000.
      const zip: IndexedZip = l;
      // One lookup, not has() then set(): the size tells whether the name was there.
      const size = state.zips.size;
      if (state.zips.set(zip.file, zip).size === size) state.dead++;
      if (state.removed.size) state.removed.delete(zip.file);
      if (state.opened.size && state.opened.delete(windowFileOf(zip.file))) state.dead++;
      if (zip.records > 0 && zip.last - zip.first > state.span) state.span = zip.last - zip.first;
      break;
    }
    case 'o':
      if (state.opened.has(l.file)) state.dead++;
      state.opened.set(l.file, { day: l.day, start: l.start });
      break;
    case 'd':
      // The z line and this one are both dead once the file is gone.
      if (state.zips.delete(l.file)) state.dead += 2;
      else state.dead++;
      state.removed.set(l.file, { reason: l.reason, at: l.at });
      break;
    case 'h': {
      const z = state.zips.get(l.file);
      if (z) z.flags = z.flags.replace(HOOK_PENDING, '');
      state.dead++;
      break;
    }
    case 'w':
      if (l.span > state.span) state.span = l.span;
      else state.dead++;
      break;
  }
}

/**
 * Parses a whole index. `undefined` when it is not an index or a line in it
 * does not parse (damaged); a torn last line is reported in `tornBytes` and
 * not applied. With `pathPrefix` (the directory and a separator: the archive
 * tools) NDJSON zips come as CatalogZip, windows of that directory.
 */
export function parseIndex(text: string, pathPrefix?: string): { state: IndexState; lines: number; tornBytes: number; goodBytes: number } | undefined {
  if (!text.startsWith(INDEX_HEADER)) return undefined;
  const state = emptyState();
  let pos = INDEX_HEADER.length;
  let lines = 0;
  for (;;) {
    const end = text.indexOf('\n', pos);
    if (end < 0) break;
    const line = decodeAt(text, pos, end, pathPrefix);
    if (!line) return undefined;
    applyLine(state, line);
    lines++;
    pos = end + 1;
  }
  return { state, lines, tornBytes: text.length - pos, goodBytes: pos };
}

/**
 * The zips whose on_window hook was still due, from the lines of an index
 * that do parse (one that is damaged, or about to be rebuilt): a rebuild
 * reads the zips, which do not say so, and those windows would never be shipped.
 */
export function pendingHooks(text: string): Set<string> {
  const pending = new Set<string>();
  for (const raw of text.split('\n')) {
    const l = decodeLine(raw);
    if (l?.op === 'z' && l.flags.includes(HOOK_PENDING)) pending.add(l.file);
    else if (l && (l.op === 'h' || l.op === 'd' || l.op === 'z')) pending.delete(l.file);
  }
  return pending;
}

/** The whole index for a state: what a rebuild or a compaction writes. */
export function serializeState(state: IndexState): string {
  const parts = [INDEX_HEADER];
  if (state.span > 0) parts.push(encodeLine({ op: 'w', span: state.span }));
  const zips = [...state.zips.values()].sort((a, b) => a.first - b.first || a.start - b.start || a.file.localeCompare(b.file));
  for (const z of zips) parts.push(encodeLine({ op: 'z', ...z }));
  for (const [file, o] of state.opened) parts.push(encodeLine({ op: 'o', file, ...o }));
  return parts.join('');
}
