/**
 * Writes one window file into a zip atomically: deflate into a temporary of a
 * random name created exclusively (`<zip>.<hex>.tmp`: a link planted at a
 * name nsr would use is never followed), fsync it, rename it over the final
 * name, fsync the directory, and only then remove the `.json`. A reader never
 * sees a partial zip, and a crash at any step leaves either the `.json` or the
 * finished zip (or both) on disk. The `.json` is read only while it is still
 * a regular file: a link put in its place is never archived.
 */
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { createExclusive, lstatIfAny, openOwnFile, temporaryName, unsafeEntry } from '../fs/safe-files.js';
import { writeSingleEntryZip, type Deflater } from './zip-writer.js';
import type { ZipJob } from './zip-job.js';

/** `deflater`: where the deflate stream comes from (zip-writer.ts; zlib here by default). */
export async function writeZip(job: ZipJob, deflater?: Deflater): Promise<{ bytesIn: number; bytesOut: number }> {
  try {
    return await writeZipOnce(job, deflater);
  } catch (err) {
    // A retry of a job whose worker died after finishing (rename and unlink
    // done, reply lost): the zip is there and the .json is gone. Done, then.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const done = await finishedEarlier(job);
      if (done) return done;
    }
    throw err;
  }
}

async function writeZipOnce(job: ZipJob, deflater: Deflater | undefined): Promise<{ bytesIn: number; bytesOut: number }> {
  const source = await openOwnFile(job.jsonPath, 'read');
  let sizes: { bytesIn: number; bytesOut: number };
  try {
    const tmp = temporaryName(job.zipPath);
    const out = await createExclusive(tmp);
    try {
      sizes = await writeSingleEntryZip({ source, target: out, entryName: job.entryName, level: job.level, comment: job.comment, mtime: new Date(job.mtime), deflater });
      await out.sync();
      await out.close();
      await rename(tmp, job.zipPath);
    } catch (err) {
      // A failed attempt (disk full) leaves no partial temporary behind to take space.
      await out.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  } finally {
    await source.close();
  }
  await fsyncPath(path.dirname(job.zipPath));
  await unlink(job.jsonPath);
  return sizes;
}

async function finishedEarlier(job: ZipJob): Promise<{ bytesIn: number; bytesOut: number } | undefined> {
  if (await lstatIfAny(job.jsonPath)) return undefined;
  const zip = await lstatIfAny(job.zipPath);
  if (!zip || unsafeEntry(zip)) return undefined;
  try {
    // The zip reader (yauzl) is loaded only for this rare retry: a worker starts at every window boundary.
    const { readZipInfo } = await import('../archive/zip-reader.js');
    const info = await readZipInfo(job.zipPath);
    if (info.comment !== job.comment || info.entries.length !== 1 || info.entries[0].name !== job.entryName) return undefined;
    return { bytesIn: info.entries[0].uncompressedSize, bytesOut: zip.size };
  } catch {
    return undefined;
  }
}

export async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
