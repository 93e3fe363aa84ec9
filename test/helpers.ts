/** Shared by the tests: paths, temporary directories, reading archives back. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readZipEntries } from '../src/archive/zip-reader.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = path.join(ROOT, 'fixtures', 'ndtwin');
export const NSR = path.join(ROOT, 'bin', 'nsr');

export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'nsr-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface ArchivedWindow {
  file: string;
  entries: string[];
  meta: Record<string, unknown> | undefined;
  lines: string[];
}

/** Every zip of a stream in the directory, inflated with CRC checks, in file-name order. */
export async function readArchives(dir: string, stream: string): Promise<ArchivedWindow[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith(`_${stream}_json.zip`)).sort();
  const out: ArchivedWindow[] = [];
  for (const file of files) {
    const chunks: Buffer[] = [];
    const info = await readZipEntries(path.join(dir, file), (_e, chunk) => chunks.push(chunk));
    const text = Buffer.concat(chunks).toString('utf8');
    out.push({ file, entries: info.entries.map((e) => e.name), meta: info.meta as Record<string, unknown> | undefined, lines: text.split('\n').filter((l, i, a) => l !== '' || i < a.length - 1) });
  }
  return out;
}
