/**
 * Worker thread of json-check.ts: checks large bodies off the recorder's event
 * loop, so a 40 MB response does not hold up every other stream's ticks.
 */
import { parentPort } from 'node:worker_threads';
import { jsonSyntaxError } from './json-syntax.js';

parentPort!.on('message', ({ id, body }: { id: number; body: Uint8Array }) => {
  parentPort!.postMessage({ id, error: jsonSyntaxError(body) });
});
