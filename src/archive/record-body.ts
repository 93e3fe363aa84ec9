/**
 * The body an upstream sent, recovered from a record line (the inverse of the
 * splice in src/pipeline/record.ts, DESIGN 2.1). Works on bytes only: the
 * bytes of the body are handed back exactly as they were recorded, so uint64
 * values above 2^53 and floats such as `0.0` survive.
 *
 *   wrapped: {"timestamp":<ms>,"<key>":<body>}   → <body>
 *   merged:  {"timestamp":<ms>,<members>}        → {<members>}
 *            {"timestamp":<ms>}                  → {}
 */
import { ndtwinEndpointByPath } from '../sources/ndtwin/ndtwin-endpoints.js';

export type BodyShape = { mode: 'wrap'; key?: string } | { mode: 'merge' };

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const COMMA = 0x2c; // ,
const COLON = 0x3a; // :
const EMPTY_OBJECT = Buffer.from('{}');
const TIMESTAMP_HEAD = Buffer.from('{"timestamp":');

export class RecordBodyError extends Error {}

/** The body of a record line (no `\n`), as the upstream sent it. */
export function recordBody(line: Buffer, shape: BodyShape): Buffer {
  const end = lastNonSpace(line);
  if (line.compare(TIMESTAMP_HEAD, 0, TIMESTAMP_HEAD.length, 0, TIMESTAMP_HEAD.length) !== 0 || end < 0 || line[end] !== CLOSE) {
    throw new RecordBodyError(`not a record line: ${preview(line)}`);
  }
  let i = TIMESTAMP_HEAD.length;
  const digits = i;
  while (i < line.length && line[i] >= 0x30 && line[i] <= 0x39) i++;
  if (i === digits) throw new RecordBodyError(`a record without an integer timestamp: ${preview(line)}`);

  if (shape.mode === 'merge') {
    if (i === end) return EMPTY_OBJECT; // {"timestamp":<ms>} — the body was {}
    if (line[i] !== COMMA) throw new RecordBodyError(`unexpected byte after the timestamp: ${preview(line)}`);
    // `{` + the members: one small copy per served record, bytes untouched.
    const body = Buffer.allocUnsafe(1 + end - i);
    body[0] = OPEN;
    line.copy(body, 1, i + 1, end + 1);
    return body;
  }

  if (line[i] !== COMMA || line[i + 1] !== QUOTE) throw new RecordBodyError(`a wrapped record needs a key after the timestamp: ${preview(line)}`);
  const keyStart = i + 1;
  const keyEnd = stringEnd(line, keyStart); // index of the closing quote
  if (keyEnd < 0 || line[keyEnd + 1] !== COLON) throw new RecordBodyError(`a wrapped record needs "<key>": after the timestamp: ${preview(line)}`);
  if (shape.key !== undefined) {
    const key = Buffer.from(JSON.stringify(shape.key));
    if (line.compare(key, 0, key.length, keyStart, keyEnd + 1) !== 0) {
      throw new RecordBodyError(`expected the key ${key.toString()} after the timestamp, got ${line.subarray(keyStart, keyEnd + 1).toString('utf8')}`);
    }
  }
  const bodyStart = keyEnd + 2;
  if (bodyStart >= end) throw new RecordBodyError(`a wrapped record without a body: ${preview(line)}`);
  return line.subarray(bodyStart, end);
}

/** The key of a wrapped record (`flowinfo`, `flow_info`, …), or undefined when the line does not have one. */
export function wrappedKey(line: Buffer): string | undefined {
  let i = TIMESTAMP_HEAD.length;
  while (i < line.length && line[i] >= 0x30 && line[i] <= 0x39) i++;
  if (line[i] !== COMMA || line[i + 1] !== QUOTE) return undefined;
  const keyEnd = stringEnd(line, i + 1);
  if (keyEnd < 0) return undefined;
  try {
    return JSON.parse(line.subarray(i + 1, keyEnd + 1).toString('utf8')) as string;
  } catch {
    return undefined;
  }
}

/** The shape of a stream recorded from a known NDTwin kernel endpoint, by its path; undefined for other APIs. */
export function shapeForEndpoint(path: string): BodyShape | undefined {
  const mode = ndtwinEndpointByPath(path)?.shape('').mode;
  return mode === 'wrap' || mode === 'merge' ? { mode } : undefined;
}


/**
 * The shape of a stream told from one of its records, for APIs whose shape is
 * not known otherwise: a wrapped record always has exactly two members
 * (timestamp and key); a merged one has one (an empty body) or more. A merged
 * body of exactly one member cannot be told from a wrapped one and is taken as
 * wrapped, which is why known endpoints and the recorder's own start event come first.
 */
export function shapeFromRecord(line: Buffer): BodyShape {
  return topLevelMembers(line) === 2 ? { mode: 'wrap' } : { mode: 'merge' };
}

/** Members of the outer object of a compact JSON line, counted by a byte scan (strings and nesting skipped). */
export function topLevelMembers(line: Buffer): number {
  let depth = 0;
  let members = 0;
  let sawMember = false;
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    if (b === QUOTE) {
      if (depth === 1) sawMember = true;
      const e = stringEnd(line, i);
      if (e < 0) return -1;
      i = e;
    } else if (b === OPEN || b === OPEN_ARRAY) {
      depth++;
    } else if (b === CLOSE || b === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return members + (sawMember ? 1 : 0);
    } else if (b === COMMA && depth === 1) {
      members++;
    }
  }
  return -1;
}

/** Index of the quote that closes the string opening at `start`, or -1. */
function stringEnd(buf: Buffer, start: number): number {
  for (let i = start + 1; i < buf.length; i++) {
    const b = buf[i];
    if (b === BACKSLASH) i++;
    else if (b === QUOTE) return i;
  }
  return -1;
}

function lastNonSpace(buf: Buffer): number {
  let i = buf.length - 1;
  while (i >= 0 && (buf[i] === 0x20 || buf[i] === 0x0d || buf[i] === 0x09)) i--;
  return i;
}

function preview(line: Buffer): string {
  const head = line.subarray(0, 60).toString('utf8');
  return line.length > 60 ? `${head}…` : head;
}
