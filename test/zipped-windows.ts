/** Zipped windows made as nsr makes them (metadata comment, one entry), for tests of the archive index and retention. */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodeZipComment } from '../src/compress/zip-meta.js';
import { writeZip } from '../src/compress/write-zip.js';
import { formatWindowTime, jsonName, zipName } from '../src/sinks/window-naming.js';

/** A zipped window of `n` records, one per `step` ms (a second) from `start` (each with `pad` bytes that do not compress); returns the zip's name. */
export async function makeWindow(dir: string, stream: string, start: number, n = 5, pad = 0, step = 1000): Promise<string> {
  const base = `${formatWindowTime(start)}_${stream}`;
  const noise = (i: number) => (pad ? `,"pad":"${randomBytes(Math.ceil((pad * 3) / 4)).toString('base64').slice(0, pad)}"` : '');
  const lines = Array.from({ length: n }, (_, i) => `{"timestamp":${start + i * step},"v":${i}${noise(i)}}\n`).join('');
  const jsonPath = path.join(dir, jsonName(base));
  writeFileSync(jsonPath, lines);
  const meta = { stream, records: n, first: start, last: start + (n - 1) * step, bytes: Buffer.byteLength(lines) };
  // writeZip removes the .json once the zip is in place, as the worker does.
  await writeZip({ id: 1, jsonPath, zipPath: path.join(dir, zipName(base)), entryName: jsonName(base), level: 4, comment: encodeZipComment(meta), mtime: meta.last });
  return zipName(base);
}
