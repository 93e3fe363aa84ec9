/**
 * One zip's record lines, CRC-checked, for verification (tests, soak).
 */
import path from 'node:path';
import { readZipEntries } from './zip-reader.js';
import type { ZipMeta } from '../compress/zip-meta.js';

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
