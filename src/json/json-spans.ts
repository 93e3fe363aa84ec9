/**
 * Byte ranges inside JSON text that has already been validated, so parts of an
 * upstream's body (a page's `results` items) can be copied into a record
 * verbatim (DESIGN 2.1) instead of being parsed and re-serialised.
 */

export interface Span {
  start: number;
  end: number;
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

/** Index just past the string whose opening quote is at `i`. */
function skipString(b: Uint8Array, i: number): number {
  for (i++; i < b.length; i++) {
    if (b[i] === 0x5c /* \ */) i++;
    else if (b[i] === 0x22 /* " */) return i + 1;
  }
  return i;
}

/** Index just past the value starting at `i` (no leading whitespace). */
function skipValue(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === 0x22) return skipString(b, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (; i < b.length; i++) {
      const d = b[i];
      if (d === 0x22) i = skipString(b, i) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if ((d === 0x7d || d === 0x5d) && --depth === 0) return i + 1;
    }
    return i;
  }
  // number, true, false, null: up to the next delimiter
  while (i < b.length && b[i] !== 0x2c && b[i] !== 0x7d && b[i] !== 0x5d && !isSpace(b[i])) i++;
  return i;
}

/**
 * The span of the value of `key` among the members of an object, if present:
 * the top-level object, or the one at `at`. Keys are compared as written (a
 * key spelled with `\u` escapes upstream does not match its plain spelling).
 */
export function memberSpan(b: Uint8Array, key: string, at?: Span): Span | undefined {
  const wanted = Buffer.from(JSON.stringify(key));
  let i = skipSpace(b, at?.start ?? 0);
  if (b[i] !== 0x7b) return undefined;
  i = skipSpace(b, i + 1);
  while (i < b.length && b[i] === 0x22) {
    const keyEnd = skipString(b, i);
    const isWanted = keyEnd - i === wanted.length && Buffer.compare(b.subarray(i, keyEnd), wanted) === 0;
    i = skipSpace(b, skipSpace(b, keyEnd) + 1); // past the colon
    const end = skipValue(b, i);
    if (isWanted) return { start: i, end };
    i = skipSpace(b, end);
    if (b[i] !== 0x2c) return undefined;
    i = skipSpace(b, i + 1);
  }
  return undefined;
}

/** The spans of the elements of the array at `span`. */
export function elementSpans(b: Uint8Array, span: Span): Span[] {
  const out: Span[] = [];
  let i = skipSpace(b, span.start + 1);
  while (i < span.end && b[i] !== 0x5d) {
    const end = skipValue(b, i);
    out.push({ start: i, end });
    i = skipSpace(b, end);
    if (b[i] === 0x2c) i = skipSpace(b, i + 1);
  }
  return out;
}

/** One step of a path into a JSON value: a member name, or an array index (negative counts from the end). */
export type PathStep = string | number;

/**
 * The span of the value reached from `from` by `steps`, or undefined when a
 * step finds no such member or element (or a value of the other type). Only
 * the values on the way are looked into, so a deep value in a large record
 * costs a skim, not a parse.
 */
export function spanAtPath(b: Uint8Array, from: Span, steps: readonly PathStep[]): Span | undefined {
  let at: Span | undefined = { start: skipSpace(b, from.start), end: from.end };
  for (const step of steps) {
    if (typeof step === 'string') at = memberSpan(b, step, at);
    else if (b[at.start] !== 0x5b) return undefined;
    else {
      const items = elementSpans(b, at);
      at = items[step < 0 ? items.length + step : step];
    }
    if (!at) return undefined;
  }
  return at;
}

export type JsonKind = 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array';

/** What the value at `span` is, from its first byte (the text is validated JSON). */
export function kindAt(b: Uint8Array, span: Span): JsonKind {
  const c = b[span.start];
  if (c === 0x22) return 'string';
  if (c === 0x7b) return 'object';
  if (c === 0x5b) return 'array';
  if (c === 0x74 || c === 0x66) return 'boolean';
  if (c === 0x6e) return 'null';
  return 'number';
}

/**
 * The text of the string at `span`, unescaped, as UTF-8 bytes. Without a
 * backslash these are the very bytes of the record (nothing decoded, nothing
 * replaced); with one, JSON.parse reads the string (exact for strings).
 */
export function stringBytes(b: Uint8Array, span: Span): Buffer {
  const inner = Buffer.from(b.buffer, b.byteOffset + span.start + 1, span.end - span.start - 2);
  if (!inner.includes(0x5c)) return inner;
  return Buffer.from(JSON.parse(Buffer.from(b.buffer, b.byteOffset + span.start, span.end - span.start).toString('utf8')) as string, 'utf8');
}

/** The value at `span` as compact JSON text: whitespace outside strings dropped, everything else byte for byte. */
export function compactBytes(b: Uint8Array, span: Span): Buffer {
  const src = Buffer.from(b.buffer, b.byteOffset + span.start, span.end - span.start);
  let spaced = false;
  for (let i = 0; i < src.length && !spaced; i++) {
    if (src[i] === 0x22) i = skipString(src, i) - 1;
    else spaced = isSpace(src[i]);
  }
  if (!spaced) return src;
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; ) {
    if (src[i] === 0x22) {
      const end = skipString(src, i);
      n += src.copy(out, n, i, end);
      i = end;
    } else {
      if (!isSpace(src[i])) out[n++] = src[i];
      i++;
    }
  }
  return out.subarray(0, n);
}
