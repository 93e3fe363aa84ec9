/**
 * A window held in memory is read whole (one read of its stored bytes, one
 * inflate): the same bytes as the streamed read, and the same refusals of an
 * entry whose CRC-32 or size is not what its header says.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { zipEntryChunks, zipEntryWhole } from '../src/archive/zip-reader.js';
import { tempDir } from './helpers.js';
import { makeWindow } from './zipped-windows.js';

const CENTRAL_SIGNATURE = Buffer.from([0x50, 0x4b, 0x01, 0x02]);

async function streamed(file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of zipEntryChunks(file)) chunks.push(c);
  return Buffer.concat(chunks);
}

t.test('the same bytes as the streamed read; a wrong CRC or a size too small is refused', async (t) => {
  const dir = tempDir(t);
  const zip = path.join(dir, await makeWindow(dir, 'flowinfo', Date.UTC(2026, 1, 10, 12), 400, 300));
  const whole = await zipEntryWhole(zip);
  t.ok(whole.length > 100_000, `a window of ${whole.length} bytes`);
  t.same(whole, await streamed(zip), 'the streamed read gives the same bytes');

  const bytes = readFileSync(zip);
  const central = bytes.indexOf(CENTRAL_SIGNATURE);
  const patched = (offset: number, value: number) => {
    const b = Buffer.from(bytes);
    b.writeUInt32LE(value, central + offset);
    const file = path.join(dir, `patched-${offset}.zip`);
    writeFileSync(file, b);
    return file;
  };
  // The central directory's CRC-32 (offset 16) and uncompressed size (offset 24).
  await t.rejects(zipEntryWhole(patched(16, (bytes.readUInt32LE(central + 16) ^ 1) >>> 0)), /CRC-32 mismatch/);
  await t.rejects(zipEntryWhole(patched(24, whole.length - 10)), /inflates to more than/);
  await t.rejects(zipEntryWhole(patched(24, whole.length + 10)), /inflates to \d+ bytes, its header says/);
});
