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

/** The span of the value of `key` among the members of the top-level object, if present. */
export function memberSpan(b: Uint8Array, key: string): Span | undefined {
  const wanted = Buffer.from(JSON.stringify(key));
  let i = skipSpace(b, 0);
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
