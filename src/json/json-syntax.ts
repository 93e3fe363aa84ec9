/**
 * A JSON syntax check over bytes that builds no values: constant extra memory
 * whatever the body size (JSON.parse of a 40 MB body allocates ~200 MB of
 * objects that nsr would throw away). Accepts exactly RFC 8259 JSON text; like
 * JSON.parse on a decoded string, it does not validate UTF-8 sequences.
 */
const OBJECT = 1;
const ARRAY = 2;

const enum State {
  Value,
  Key,
  After,
}

/** Returns undefined when `b` is one valid JSON text, else what is wrong and where. */
export function jsonSyntaxError(b: Uint8Array): string | undefined {
  const n = b.length;
  const stack: number[] = [];
  let i = 0;
  let state = State.Value;
  const fail = (what: string) => `${what} at byte ${i}`;
  for (;;) {
    while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
    if (state === State.After) {
      if (stack.length === 0) return i === n ? undefined : fail('unexpected data after the JSON text');
      if (i >= n) return fail('unexpected end of data');
      const c = b[i];
      const top = stack[stack.length - 1];
      if (c === 0x2c /* , */) {
        i++;
        state = top === OBJECT ? State.Key : State.Value;
      } else if ((c === 0x7d /* } */ && top === OBJECT) || (c === 0x5d /* ] */ && top === ARRAY)) {
        stack.pop();
        i++;
      } else return fail(`unexpected ${show(c)}`);
      continue;
    }
    if (i >= n) return fail('unexpected end of data');
    const c = b[i];
    if (state === State.Key) {
      if (c !== 0x22) return fail(`expected a string key, got ${show(c)}`);
      i = scanString(b, i);
      if (i < 0) return `bad string ending at byte ${-i}`;
      while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
      if (b[i] !== 0x3a /* : */) return fail('expected ":"');
      i++;
      state = State.Value;
      continue;
    }
    // State.Value
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      i++;
      while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
      if (b[i] === close) {
        i++;
        state = State.After;
      } else {
        stack.push(c === 0x7b ? OBJECT : ARRAY);
        state = c === 0x7b ? State.Key : State.Value;
      }
      continue;
    }
    if (c === 0x22) {
      i = scanString(b, i);
      if (i < 0) return `bad string ending at byte ${-i}`;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const end = scanNumber(b, i);
      if (end < 0) return fail('bad number');
      i = end;
    } else if (c === 0x74) i = literal(b, i, 'true');
    else if (c === 0x66) i = literal(b, i, 'false');
    else if (c === 0x6e) i = literal(b, i, 'null');
    else return fail(`unexpected ${show(c)}`);
    if (i < 0) return `bad literal at byte ${-i}`;
    state = State.After;
  }
}

/** Index after the closing quote, or -(position) of the problem. */
function scanString(b: Uint8Array, i: number): number {
  const n = b.length;
  i++;
  while (i < n) {
    const c = b[i];
    if (c === 0x22) return i + 1;
    if (c === 0x5c /* \ */) {
      const e = b[i + 1];
      if (e === 0x75 /* u */) {
        for (let k = 2; k < 6; k++) if (!isHex(b[i + k])) return -(i + k);
        i += 6;
      } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i += 2;
      else return -(i + 1);
    } else if (c < 0x20) return -i;
    else i++;
  }
  return -n;
}

function scanNumber(b: Uint8Array, i: number): number {
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else if (b[i] >= 0x31 && b[i] <= 0x39) while (b[i] >= 0x30 && b[i] <= 0x39) i++;
  else return -1;
  if (b[i] === 0x2e /* . */) {
    i++;
    if (!(b[i] >= 0x30 && b[i] <= 0x39)) return -1;
    while (b[i] >= 0x30 && b[i] <= 0x39) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!(b[i] >= 0x30 && b[i] <= 0x39)) return -1;
    while (b[i] >= 0x30 && b[i] <= 0x39) i++;
  }
  return i;
}

function literal(b: Uint8Array, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return -(i + k);
  return i + word.length;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function show(c: number): string {
  return c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `byte 0x${c.toString(16)}`;
}
