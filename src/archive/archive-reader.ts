/**
 * Reading an output directory back: which windows exist per stream, and their
 * record lines in time order, CRC-checked. Used by verification (tests, soak)
 * and the offline tools.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseWindowName } from '../sinks/window-naming.js';
import { readZipEntries } from './zip-reader.js';
import type { ZipMeta } from '../compress/zip-meta.js';

export interface ArchiveFile {
  file: string;
  stream: string;
  time: string;
  type: 'json' | 'zip' | 'tmp';
}

/** nsr's files in a directory, sorted by stream then window time. */
export async function listArchiveFiles(dir: string): Promise<ArchiveFile[]> {
  const files: ArchiveFile[] = [];
  for (const file of await readdir(dir)) {
    const p = parseWindowName(file);
    if (p) files.push({ file, stream: p.stream, time: p.time, type: p.type });
  }
  return files.sort((a, b) => a.stream.localeCompare(b.stream) || a.time.localeCompare(b.time) || a.file.localeCompare(b.file));
}

export interface ZipRecords {
  file: string;
  meta: ZipMeta | undefined;
  /** Complete record lines, without their `\n`. */
  lines: string[];
}

/** Inflates one zip (checking CRC-32) into its record lines. */
export async function readZipRecords(file: string): Promise<ZipRecords> {
  const chunks: Buffer[] = [];
  const info = await readZipEntries(file, (_e, chunk) => chunks.push(chunk));
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return { file: path.basename(file), meta: info.meta, lines };
}
