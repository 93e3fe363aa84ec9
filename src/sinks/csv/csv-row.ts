/**
 * A record line to CSV rows (RFC 4180), from the record's bytes: values are
 * never turned into JS numbers, so a DPID such as 14721744659231801344 or a
 * float written `0.0` reaches the CSV as the upstream wrote it.
 *
 *   string         its text, unescaped (quoted when it holds `,` `"` CR or LF;
 *                  an empty string is `""`, to tell it from a missing value)
 *   number         its JSON text, digit for digit
 *   true / false   as is
 *   null, missing  an empty field
 *   object, array  its compact JSON text, always quoted
 *
 * Rows end with CRLF, as RFC 4180 writes them.
 */
import { compactBytes, elementSpans, kindAt, spanAtPath, stringBytes, type JsonKind, type Span } from '../../json/json-spans.js';
import { parsePath, type JsonPath } from './csv-path.js';

/** The stream's `csv:` option, as the schema checked it. */
export interface CsvSettings {
  rows?: string;
  columns: Record<string, string>;
}

export interface CsvLayout {
  /** The header row, CRLF included. */
  header: Buffer;
  /** Where the rows are (an array in the record); none: one row per record, the record itself. */
  rows?: JsonPath;
  columns: JsonPath[];
}

export type RecordRows =
  /** `text` holds `rows` complete rows (nothing when the array is empty). */
  | { rows: number; text: Buffer }
  /** The rows path does not lead to an array: what it found there instead. */
  | { rejected: JsonKind | 'missing' };

const COMMA = Buffer.from(',');
const CRLF = Buffer.from('\r\n');
const QUOTE = 0x22;
const EMPTY = Buffer.alloc(0);
const EMPTY_STRING = Buffer.from('""');

/** The layout of a stream's CSV files; the settings were checked by the schema (a bad path throws here). */
export function compileLayout(settings: CsvSettings): CsvLayout {
  const compile = (text: string) => {
    const parsed = parsePath(text);
    if ('error' in parsed) throw new Error(`bad CSV path ${JSON.stringify(text)}: ${parsed.error}`);
    return parsed.path;
  };
  const names = Object.keys(settings.columns);
  const header = Buffer.concat([...joinFields(names.map((n) => quoteField(Buffer.from(n, 'utf8')))), CRLF]);
  return { header, rows: settings.rows === undefined ? undefined : { ...compile(settings.rows), root: true }, columns: names.map((n) => compile(settings.columns[n])) };
}

/** The CSV rows of one record line (validated JSON, `\n` at the end or not). */
export function recordRows(layout: CsvLayout, line: Buffer): RecordRows {
  const end = line.length > 0 && line[line.length - 1] === 0x0a ? line.length - 1 : line.length;
  const record: Span = { start: 0, end };
  let rows: Span[];
  if (layout.rows) {
    const list = spanAtPath(line, record, layout.rows.steps);
    if (!list) return { rejected: 'missing' };
    const kind = kindAt(line, list);
    if (kind !== 'array') return { rejected: kind };
    rows = elementSpans(line, list);
  } else rows = [record];
  const parts: Buffer[] = [];
  for (const row of rows) {
    const fields = layout.columns.map((c) => fieldOf(line, spanAtPath(line, c.root ? record : row, c.steps)));
    // A row of one empty field would be a blank line, which readers skip: write it as "".
    if (fields.length === 1 && fields[0].length === 0) fields[0] = EMPTY_STRING;
    parts.push(...joinFields(fields), CRLF);
  }
  return { rows: rows.length, text: Buffer.concat(parts) };
}

/** One value as a CSV field (see the table at the top). */
export function fieldOf(b: Buffer, span: Span | undefined): Buffer {
  if (!span) return EMPTY;
  switch (kindAt(b, span)) {
    case 'null':
      return EMPTY;
    case 'string': {
      const text = stringBytes(b, span);
      return text.length === 0 ? EMPTY_STRING : quoteField(text);
    }
    case 'object':
    case 'array':
      return quoteField(compactBytes(b, span), true);
    default:
      return b.subarray(span.start, span.end); // numbers, true, false: their JSON text
  }
}

/** RFC 4180: a field holding a comma, a quote, CR or LF is quoted, and its quotes doubled. */
export function quoteField(text: Buffer, always = false): Buffer {
  let quotes = 0;
  let special = always;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === QUOTE) quotes++;
    else if (c === 0x2c || c === 0x0d || c === 0x0a) special = true;
  }
  if (!special && quotes === 0) return text;
  const out = Buffer.allocUnsafe(text.length + quotes + 2);
  let n = 0;
  out[n++] = QUOTE;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === QUOTE) out[n++] = QUOTE;
    out[n++] = text[i];
  }
  out[n++] = QUOTE;
  return out;
}

function joinFields(fields: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  fields.forEach((f, i) => (i === 0 ? out.push(f) : out.push(COMMA, f)));
  return out;
}
