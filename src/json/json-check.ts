/**
 * Checks that bytes are JSON, without keeping any parsed value: nsr writes the
 * bytes, never the values. Small bodies are checked in place (a graph body takes
 * ~0.3 ms); bodies above OFF_THREAD_BYTES go, copied, to one shared worker thread, which
 * runs a syntax check that allocates nothing (a 40 MB body: ~130 ms there,
 * where JSON.parse would block the event loop ~280 ms and allocate ~200 MB).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { jsonSyntaxError } from './json-syntax.js';

export const OFF_THREAD_BYTES = 1024 * 1024;

interface Checked {
  /** Undefined when the body is valid JSON, else what is wrong. */
  error: string | undefined;
  /** The same bytes. */
  body: Buffer;
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (c: Checked) => void; original: Buffer }>();

/**
 * The byte-level syntax check, not JSON.parse, also for small bodies: it builds
 * no values, so it costs less than half the CPU (a 136 KB graph body: ~310 µs
 * against ~770 µs) and leaves no garbage for the GC (BENCHMARKS.md §17). They
 * agree (test/json-syntax.test.ts); a body it refuses goes to JSON.parse, so a
 * bad body is reported with JSON.parse's words, as before, and nothing JSON.parse
 * accepts is ever refused.
 */
export function jsonError(body: Buffer): string | undefined {
  if (jsonSyntaxError(body) === undefined) return undefined;
  try {
    JSON.parse(body.toString('utf8'));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export function checkJson(body: Buffer): Promise<Checked> {
  if (body.length < OFF_THREAD_BYTES) return Promise.resolve({ error: jsonError(body), body });
  const w = (worker ??= startWorker());
  w.ref(); // keep the process alive while a check is pending
  const id = nextId++;
  // A copy goes to the thread (one memcpy), never the body itself: if the
  // thread died, a transferred body would be lost with it.
  return new Promise((resolve) => {
    pending.set(id, { resolve, original: body });
    w.postMessage({ id, body });
  });
}

function startWorker(): Worker {
  const js = fileURLToPath(new URL('./json-check-worker.js', import.meta.url));
  const w = new Worker(existsSync(js) ? js : fileURLToPath(new URL('./json-check-worker.ts', import.meta.url)));
  w.on('message', ({ id, error }: { id: number; error?: string }) => {
    const p = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) w.unref();
    p?.resolve({ error, body: p.original });
  });
  w.on('error', (err) => failAll(`the JSON check thread failed: ${err.message}`));
  w.on('exit', () => {
    worker = undefined;
    failAll('the JSON check thread exited');
  });
  w.unref();
  return w;
}

function failAll(_why: string): void {
  // The thread is gone: check the pending bodies here instead (the event loop
  // pays for it this once); a new thread starts with the next large body.
  for (const { resolve, original } of pending.values()) resolve({ error: jsonError(original), body: original });
  pending.clear();
}
