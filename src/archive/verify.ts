/**
 * Full check of an archive directory: every zip's CRC and layout, every line
 * JSON with an integer timestamp, timestamps never going backwards within a
 * stream, and counts matching each zip's metadata. The CSV sink's windows are
 * checked too (verify-csv.ts). Every problem is reported.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { recordTimestamp } from '../pipeline/record.js';
import { jsonSyntaxError } from '../json/json-syntax.js';
import { parseOutputFile } from '../sinks/window-naming.js';
import { readCatalog, type WindowInfo } from './catalog.js';
import { compareIndex, describeDifferences } from './index/index-check.js';
import { INDEX_FILE } from './index/index-format.js';
import { splitLines } from './lines.js';
import { verifyCsvWindow } from './verify-csv.js';
import type { ArchiveProblem } from './records.js';
import { readZipInfo, zipEntryChunks } from './zip-reader.js';

export interface VerifyReport {
  windows: number;
  records: number;
  /** Uncompressed bytes checked. */
  bytes: number;
  problems: ArchiveProblem[];
}

export interface VerifyOptions {
  /** Only the windows with records from this time on (epoch ms), found through the archive index: the others are not opened. */
  since?: number;
  onWindow?: (w: Pick<WindowInfo, 'file' | 'stream'>, done: number, total: number) => void;
}

export async function verifyDirectory(dir: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const { since, onWindow } = opts;
  const report: VerifyReport = { windows: 0, records: 0, bytes: 0, problems: [] };
  const problem = (file: string, text: string) => report.problems.push({ file, problem: text });
  // A whole check reads the directory itself (not the index, which it checks too); `since` trusts the index to pick the windows.
  const names = since === undefined ? (await readdir(dir)).sort() : [];
  for (const file of names) {
    if (parseOutputFile(file)?.type === 'tmp') problem(file, 'a temporary zip left by an interrupted compression (the next `nsr run` removes it)');
  }
  if (since === undefined) {
    const d = await compareIndex(dir);
    if (d.state !== 'missing') for (const text of describeDifferences(d)) problem(INDEX_FILE, text);
  }
  const catalogs = await readCatalog(dir, since === undefined ? { scanUnindexed: false, useIndex: false } : { scanUnindexed: false, range: { from: since } });
  if (since !== undefined) for (const c of catalogs) c.windows = c.windows.filter((w) => w.source === 'name' || (w.records > 0 && w.last >= since));
  const csvFiles = csvWindows(names);
  const total = catalogs.reduce((n, c) => n + c.windows.length, 0) + csvFiles.length;
  for (const { windows } of catalogs) {
    let previous = -Infinity;
    for (const w of windows) {
      onWindow?.(w, report.windows, total);
      report.windows++;
      if (w.error) {
        problem(w.file, `unreadable: ${w.error}`);
        continue;
      }
      previous = await verifyWindow(w, previous, report, (text) => problem(w.file, text));
    }
  }
  for (const f of csvFiles) {
    onWindow?.({ file: f.name, stream: f.stream }, report.windows, total);
    report.windows++;
    const { records, bytes } = await verifyCsvWindow({ path: path.join(dir, f.name), name: f.name, zipped: f.zipped }, (text) => problem(f.name, text));
    report.records += records;
    report.bytes += bytes;
  }
  return report;
}

/** The CSV sink's windows: its zips, and open `.csv` files (one beside its finished zip is that zip's leftover: the zip is checked). */
function csvWindows(names: string[]): { name: string; stream: string; zipped: boolean }[] {
  const parsed = names.map((name) => ({ name, p: parseOutputFile(name) })).filter(({ p }) => p?.ext === 'csv' && p.type !== 'tmp');
  const zipped = new Set(parsed.filter(({ p }) => p!.type === 'zip').map(({ p }) => p!.base));
  return parsed.filter(({ p }) => p!.type === 'zip' || !zipped.has(p!.base)).map(({ name, p }) => ({ name, stream: p!.stream, zipped: p!.type === 'zip' }));
}

async function verifyWindow(w: WindowInfo, previousTs: number, report: VerifyReport, problem: (text: string) => void): Promise<number> {
  let meta;
  if (w.type === 'zip') {
    const info = await readZipInfo(w.path);
    const expected = w.file.replace(/_json\.zip$/, '.json');
    if (info.entries.length !== 1) problem(`holds ${info.entries.length} entries, expected exactly one`);
    else if (info.entries[0].name !== expected) problem(`its entry is named ${info.entries[0].name}, expected ${expected}`);
    meta = info.meta;
  }
  let records = 0;
  let bytes = 0;
  let first = 0;
  let last = previousTs;
  let lineNo = 0;
  const chunks = w.type === 'zip' ? zipEntryChunks(w.path) : (createReadStream(w.path) as AsyncIterable<Buffer>);
  try {
    for await (const { bytes: line, complete } of splitLines(chunks)) {
      lineNo++;
      if (!complete) {
        problem(`line ${lineNo}: the last line has no line end (${line.length} bytes): torn by a crash, or is nsr still writing this window?`);
        break;
      }
      bytes += line.length + 1;
      const ts = recordTimestamp(line);
      if (ts === undefined) {
        problem(`line ${lineNo}: does not start with an integer "timestamp"`);
        continue;
      }
      const error = jsonSyntaxError(line);
      if (error) problem(`line ${lineNo}: not valid JSON (${error})`);
      if (ts < last) problem(`line ${lineNo}: timestamp ${ts} goes backwards (previous ${last})`);
      if (records === 0) first = ts;
      last = Math.max(last, ts);
      records++;
    }
  } catch (err) {
    problem(`corrupt: ${(err as Error).message}`);
  }
  if (meta) {
    const expected = { records, bytes, first, last: records ? last : 0 };
    for (const key of ['records', 'bytes', 'first', 'last'] as const) {
      if (meta[key] !== expected[key]) problem(`metadata says ${key} ${meta[key]}, the data has ${expected[key]}`);
    }
  }
  report.records += records;
  report.bytes += bytes;
  return last;
}
