// Filling a template (template.ts) for one epoch second. Values are a deterministic
// function of the second, so every request of a second gets the same numbers and a test
// can rebuild any body; the render writes literal copies and ASCII digits straight into
// one Buffer (~0.2 ms for the 140 KB graph), cached by the caller for that second.

import { formatNlohmannDouble } from './nlohmann-double.js';
import type { Template } from './template.js';

/** One template filled for one second, split at the sequence-marker position. */
export interface RenderedBody {
  sec: number;
  /** bytes before the sequence-marker position (the whole body when hasMarker is false) */
  head: Buffer;
  /** bytes after the sequence-marker position */
  tail: Buffer;
  /** whether `"sim_seq":N` is to be inserted between head and tail */
  hasMarker: boolean;
}

// Deterministic pseudo-random factors

function hash32(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul((b | 0) + 0x7f4a7c15, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Multiplicative jitter in [0.75, 1.25) for (second, slot). */
function jitter(sec: number, slot: number, salt: number): number {
  return 0.75 + (hash32(sec ^ salt, slot) / 4294967296) * 0.5;
}

/** Write a non-negative safe integer in decimal at `off`; returns the new offset. */
function writeUint(buf: Buffer, off: number, n: number): number {
  if (n < 10) {
    buf[off] = 48 + n;
    return off + 1;
  }
  let len = 1;
  for (let p = 10; p <= n && len < 16; p *= 10) len++;
  if (len >= 16) return off + buf.write(String(n), off, 'latin1'); // beyond exact float digit loop
  const end = off + len;
  for (let i = end - 1; i >= off; i--) {
    const q = Math.floor(n / 10);
    buf[i] = 48 + (n - q * 10);
    n = q;
  }
  return end;
}

/**
 * Fill the template for one epoch second straight into one Buffer (numbers are written
 * as ASCII digits, literals copied).
 */
export function renderTemplate(tpl: Template, sec: number): RenderedBody {
  const { literals, slots } = tpl;
  const n = slots.length;
  const buf = Buffer.allocUnsafe(tpl.maxBytes);
  let o = 0;
  let split = -1;
  for (let i = 0; i < n; i++) {
    const lit = literals[i]!;
    buf.set(lit, o);
    o += lit.length;
    const s = slots[i]!;
    switch (s.kind) {
      case 'flowBps':
        o = writeUint(buf, o, Math.round(s.base * jitter(sec, s.flow, 0x51ed)));
        break;
      case 'flowPps':
        // same factor as the flow's bit rate: packets and bits move together
        o = writeUint(buf, o, s.base === 0 ? 0 : Math.max(1, Math.round(s.base * jitter(sec, s.flow, 0x51ed))));
        break;
      case 'edge': {
        const cap = s.capacity;
        let usage = s.usage === 0 ? 0 : Math.round(s.usage * jitter(sec, s.edge, 0x6a09));
        if (usage > cap) usage = cap;
        else if (usage < 0) usage = 0;
        const left = cap - usage;
        o = writeUint(buf, o, left);
        buf.set(s.mid1, o);
        o += s.mid1.length;
        o = writeUint(buf, o, usage);
        buf.set(s.mid2, o);
        o += s.mid2.length;
        o += buf.write(formatNlohmannDouble((1 - left / cap) * 100), o, 'latin1');
        break;
      }
      case 'marker':
        o += buf.write(s.before, o, 'latin1');
        split = o;
        o += buf.write(s.after, o, 'latin1');
        break;
    }
  }
  const lastLit = literals[n]!;
  buf.set(lastLit, o);
  o += lastLit.length;
  if (split < 0) return { sec, head: buf.subarray(0, o), tail: buf.subarray(o, o), hasMarker: false };
  return { sec, head: buf.subarray(0, split), tail: buf.subarray(split, o), hasMarker: true };
}
