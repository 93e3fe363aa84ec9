// Bodies for the `large` fault: a valid answer of about `largeBytes`, made by repeating
// the flow objects or the graph edges of a rendered body, so that a client's size limits
// and memory use can be tested with data of the real shape.

import type { RenderedBody } from './render.js';

export interface LargeBody {
  bytes: number;
  /** bytes before the sequence-marker position (the whole body when hasMarker is false) */
  head: Buffer;
  tail: Buffer;
  hasMarker: boolean;
}

/** `count` copies of `',' + items`, one Buffer. */
function repeatItems(items: Buffer, count: number): Buffer {
  const unit = items.length + 1;
  const out = Buffer.allocUnsafe(unit * count);
  if (count === 0) return out;
  out[0] = 0x2c; // ','
  out.set(items, 1);
  // doubling copies: ~log2(count) memcpy calls
  let filled = unit;
  const total = out.length;
  while (filled < total) {
    const n = Math.min(filled, total - filled);
    out.copy(out, filled, 0, n);
    filled += n;
  }
  return out;
}

/** How many `,items` copies bring a body of `base` bytes to about `target` bytes. */
function copiesFor(base: number, items: number, target: number): number {
  if (items === 0 || target <= base) return 0;
  return Math.ceil((target - base) / (items + 1));
}

/** Approximate size of a `"sim_seq":N` marker, for the size estimate. */
const MARKER_BYTES_ESTIMATE = 20;

/**
 * Flow array: `[o0,o1,...,on]` becomes `[o0+marker,o1,...,on,o0,o1,...,on,...]`; the copies
 * carry no marker. `before`/`after` are the comma around the marker in the first object.
 */
export function buildLargeFlow(b: RenderedBody, before: string, after: string, target: number): LargeBody {
  const { head, tail } = b;
  const close = tail.lastIndexOf(0x5d); // ']'
  if (close < 0) return { bytes: target, head, tail, hasMarker: b.hasMarker };
  // the same array without the marker (and without the comma that went with it)
  const plain = Buffer.concat([head.subarray(0, head.length - before.length), tail.subarray(after.length)]);
  const plainClose = plain.lastIndexOf(0x5d);
  const items = plain.subarray(1, plainClose); // between '[' and ']'
  const k = copiesFor(head.length + tail.length + MARKER_BYTES_ESTIMATE, items.length, target);
  const newTail = Buffer.concat([tail.subarray(0, close), repeatItems(items, k), tail.subarray(close)]);
  return { bytes: target, head, tail: newTail, hasMarker: true };
}

/**
 * Byte range [start, end) of the contents of the array under `key` in the top-level
 * object of `buf` (start just after '[', end at the matching ']'), or null.
 */
function findTopLevelArray(buf: Buffer, key: string): { start: number; end: number } | null {
  const keyBytes = Buffer.from(`"${key}"`, 'utf8');
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      if (depth === 1 && buf.compare(keyBytes, 0, keyBytes.length, i, i + keyBytes.length) === 0) {
        let j = i + keyBytes.length;
        while (buf[j] === 0x20 || buf[j] === 0x0a || buf[j] === 0x0d || buf[j] === 0x09) j++;
        if (buf[j] === 0x3a /* : */) {
          j++;
          while (buf[j] === 0x20 || buf[j] === 0x0a || buf[j] === 0x0d || buf[j] === 0x09) j++;
          if (buf[j] !== 0x5b /* [ */) return null;
          const start = j + 1;
          let d = 1;
          let str = false;
          for (let k = start; k < buf.length; k++) {
            const ch = buf[k]!;
            if (str) {
              if (ch === 0x5c) k++;
              else if (ch === 0x22) str = false;
            } else if (ch === 0x22) str = true;
            else if (ch === 0x5b || ch === 0x7b) d++;
            else if (ch === 0x5d || ch === 0x7d) {
              if (--d === 0) return { start, end: k };
            }
          }
          return null;
        }
      }
      inString = true;
      continue;
    }
    if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return null;
}

/** Graph object: the `edges` array extended with copies of its edges; the marker stays last. */
export function buildLargeGraph(b: RenderedBody, target: number): LargeBody {
  const { head, tail } = b;
  const r = findTopLevelArray(head, 'edges');
  if (r === null || r.end === r.start) return { bytes: target, head, tail, hasMarker: b.hasMarker };
  const items = head.subarray(r.start, r.end);
  const k = copiesFor(head.length + tail.length + MARKER_BYTES_ESTIMATE, items.length, target);
  const newHead = Buffer.concat([head.subarray(0, r.end), repeatItems(items, k), head.subarray(r.end)]);
  return { bytes: target, head: newHead, tail, hasMarker: b.hasMarker };
}
