/**
 * Checks that bytes are JSON, without keeping any parsed value: nsr writes the
 * bytes, never the values. Small bodies are parsed in place (a graph body takes
 * ~1 ms); bodies above OFF_THREAD_BYTES go to one shared worker thread, which
 * runs a syntax check that allocates nothing (a 40 MB body: ~130 ms there,
 * where JSON.parse would block the event loop ~280 ms and allocate ~200 MB).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export const OFF_THREAD_BYTES = 1024 * 1024;

interface Checked {
  /** Undefined when the body is valid JSON, else what is wrong. */
  error: string | undefined;
  /** The same bytes (they travel to the worker and back). */
  body: Buffer;
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, { resolve: (c: Checked) => void; original: Buffer }>();

export function jsonError(body: Buffer): string | undefined {
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
  // Hand the memory over when the body owns its whole ArrayBuffer; otherwise copy it.
  const owns = body.byteOffset === 0 && body.buffer.byteLength === body.length;
  const payload = owns ? body : Buffer.from(body);
  return new Promise((resolve) => {
    pending.set(id, { resolve, original: body });
    w.postMessage({ id, body: payload }, [payload.buffer as ArrayBuffer]);
  });
}

function startWorker(): Worker {
  const js = fileURLToPath(new URL('./json-check-worker.js', import.meta.url));
  const w = new Worker(existsSync(js) ? js : fileURLToPath(new URL('./json-check-worker.ts', import.meta.url)));
  w.on('message', ({ id, error, body }: { id: number; error?: string; body: Uint8Array }) => {
    const p = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) w.unref();
    p?.resolve({ error, body: Buffer.from(body.buffer, body.byteOffset, body.byteLength) });
  });
  w.on('error', (err) => failAll(`the JSON check thread failed: ${err.message}`));
  w.on('exit', () => {
    worker = undefined;
    failAll('the JSON check thread exited');
  });
  w.unref();
  return w;
}

function failAll(message: string): void {
  // A body whose memory went to a dead thread is lost with it: report the fetch as failed.
  for (const { resolve, original } of pending.values()) resolve({ error: message, body: original });
  pending.clear();
}
