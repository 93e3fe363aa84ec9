/**
 * Writes one window file into a zip atomically: deflate into `<zip>.tmp`,
 * fsync it, rename it over the final name, fsync the directory, and only then
 * remove the `.json`. A reader never sees a partial zip, and a crash at any
 * step leaves either the `.json` or the finished zip (or both) on disk.
 */
import { open, rename, stat, unlink } from 'node:fs/promises';
import { readZipInfo } from '../archive/zip-reader.js';
import path from 'node:path';
import { writeSingleEntryZip } from './zip-writer.js';
import type { ZipJob } from './zip-job.js';

export async function writeZip(job: ZipJob): Promise<{ bytesIn: number; bytesOut: number }> {
  try {
    return await writeZipOnce(job);
  } catch (err) {
    // A retry of a job whose worker died after finishing (rename and unlink
    // done, reply lost): the zip is there and the .json is gone. Done, then.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const done = await finishedEarlier(job);
      if (done) return done;
    }
    // A failed attempt (disk full) leaves no partial temporary behind to take space.
    await unlink(`${job.zipPath}.tmp`).catch(() => undefined);
    throw err;
  }
}

async function writeZipOnce(job: ZipJob): Promise<{ bytesIn: number; bytesOut: number }> {
  const tmp = `${job.zipPath}.tmp`;
  // The temporary is ours to replace if a crashed attempt left one.
  const sizes = await writeSingleEntryZip({ source: job.jsonPath, target: tmp, entryName: job.entryName, level: job.level, comment: job.comment, mtime: new Date(job.mtime) });
  await fsyncPath(tmp);
  await rename(tmp, job.zipPath);
  await fsyncPath(path.dirname(job.zipPath));
  await unlink(job.jsonPath);
  return sizes;
}

async function finishedEarlier(job: ZipJob): Promise<{ bytesIn: number; bytesOut: number } | undefined> {
  if (await stat(job.jsonPath).catch(() => undefined)) return undefined;
  try {
    const info = await readZipInfo(job.zipPath);
    if (info.comment !== job.comment || info.entries.length !== 1 || info.entries[0].name !== job.entryName) return undefined;
    return { bytesIn: info.entries[0].uncompressedSize, bytesOut: (await stat(job.zipPath)).size };
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
