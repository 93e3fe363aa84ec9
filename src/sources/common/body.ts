/**
 * Body validation without re-serialisation. The bytes we write are the bytes the
 * upstream sent (DESIGN 2.1); JSON.parse is used only as a validator, its result
 * is discarded, so uint64 values and `0.0` floats survive untouched.
 */
import { FetchError, type BodyKind } from '../source.js';
import { checkJson, jsonError } from '../../json/json-check.js';

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Returns the body trimmed to its JSON text, on one line; throws FetchError when it is not the expected JSON. */
export function validateBody(raw: Buffer, expect: BodyKind): Buffer {
  const body = trimAndCheckKind(raw, expect);
  const error = jsonError(body);
  if (error) throw invalidJson(error);
  return oneLine(body);
}

/** The same, with large bodies checked off the event loop. */
export async function validateBodyAsync(raw: Buffer, expect: BodyKind): Promise<Buffer> {
  const { error, body } = await checkJson(trimAndCheckKind(raw, expect));
  if (error) throw invalidJson(error);
  return oneLine(body);
}

function trimAndCheckKind(raw: Buffer, expect: BodyKind): Buffer {
  let start = 0;
  let end = raw.length;
  if (end >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) start = 3; // UTF-8 BOM
  while (start < end && WS.has(raw[start])) start++;
  while (end > start && WS.has(raw[end - 1])) end--;
  if (start === end) throw new FetchError('empty_body', 'the response body is empty');
  const body = raw.subarray(start, end);
  const first = body[0];
  if (expect === 'array' && first !== 0x5b) throw new FetchError('unexpected_body', `expected a JSON array, got a body starting with ${describeByte(first)}`);
  if (expect === 'object' && first !== 0x7b) throw new FetchError('unexpected_body', `expected a JSON object, got a body starting with ${describeByte(first)}`);
  return body;
}

const invalidJson = (error: string) => new FetchError('invalid_json', `the response body is not valid JSON: ${error}`);

/**
 * Raw CR/LF cannot occur inside JSON strings, so in valid JSON they are
 * whitespace between tokens and can be removed to keep the record on one line.
 */
function oneLine(body: Buffer): Buffer {
  return body.indexOf(0x0a) !== -1 || body.indexOf(0x0d) !== -1 ? stripLineBreaks(body) : body;
}

function stripLineBreaks(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (b !== 0x0a && b !== 0x0d) out[n++] = b;
  }
  return out.subarray(0, n);
}

function describeByte(b: number): string {
  return b >= 0x20 && b < 0x7f ? JSON.stringify(String.fromCharCode(b)) : `byte 0x${b.toString(16)}`;
}
