/**
 * Writes one window file into a zip atomically: deflate into `<zip>.tmp`,
 * fsync it, rename it over the final name, fsync the directory, and only then
 * remove the `.json`. A reader never sees a partial zip, and a crash at any
 * step leaves either the `.json` or the finished zip (or both) on disk.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';
import type { ZipJob } from './zip-job.js';

export async function writeZip(job: ZipJob): Promise<{ bytesIn: number; bytesOut: number }> {
  try {
    return await writeZipOnce(job);
  } catch (err) {
    // A failed attempt (disk full) leaves no partial temporary behind to take space.
    await unlink(`${job.zipPath}.tmp`).catch(() => undefined);
    throw err;
  }
}

async function writeZipOnce(job: ZipJob): Promise<{ bytesIn: number; bytesOut: number }> {
  const tmp = `${job.zipPath}.tmp`;
  const { size: bytesIn } = await stat(job.jsonPath);
  const zip = new yazl.ZipFile();
  zip.addFile(job.jsonPath, job.entryName, { compressionLevel: job.level, mtime: new Date(job.mtime) });
  zip.end({ comment: job.comment, forceZip64Format: false });
  await new Promise<void>((resolve, reject) => {
    // 'w': a temporary left by a crashed attempt is ours to replace.
    const out = createWriteStream(tmp, { flags: 'w' });
    out.on('error', reject);
    zip.outputStream.on('error', reject);
    out.on('close', resolve);
    zip.outputStream.pipe(out);
  });
  await fsyncPath(tmp);
  await rename(tmp, job.zipPath);
  await fsyncPath(path.dirname(job.zipPath));
  await unlink(job.jsonPath);
  const { size: bytesOut } = await stat(job.zipPath);
  return { bytesIn, bytesOut };
}

export async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
