/**
 * `nsr verify` for the CSV sink's windows (`_csv.zip`, or an open `.csv`):
 * the zip opens and holds one entry named like the window, its bytes match
 * their CRC-32, the file is RFC 4180 CSV that starts with a header row, every
 * row has the header's number of fields, and the zip comment's counts (rows
 * after the header, bytes with it) match the data.
 */
import { createReadStream } from 'node:fs';
import { CsvScanner } from '../sinks/csv/csv-scan.js';
import { readZipInfo, zipEntryChunks } from './zip-reader.js';

/** Rows of a window whose field count is reported one by one; past it, only how many more. */
const ROW_PROBLEMS_SHOWN = 3;

export async function verifyCsvWindow(file: { path: string; name: string; zipped: boolean }, problem: (text: string) => void): Promise<{ records: number; bytes: number }> {
  let meta;
  if (file.zipped) {
    let info;
    try {
      info = await readZipInfo(file.path);
    } catch (err) {
      problem(`unreadable: ${(err as Error).message}`);
      return { records: 0, bytes: 0 };
    }
    const expected = file.name.replace(/_csv\.zip$/, '.csv');
    if (info.entries.length !== 1) problem(`holds ${info.entries.length} entries, expected exactly one`);
    else if (info.entries[0].name !== expected) problem(`its entry is named ${info.entries[0].name}, expected ${expected}`);
    meta = info.meta;
    if (!meta) problem('the zip carries no nsr metadata in its comment');
  }
  let columns = 0;
  let badRows = 0;
  const csv = new CsvScanner((fields, row) => {
    if (row === 1) columns = fields;
    else if (fields !== columns && badRows++ < ROW_PROBLEMS_SHOWN) problem(`row ${row}: ${fields} fields, the header has ${columns}`);
  });
  let bytes = 0;
  try {
    const chunks = file.zipped ? zipEntryChunks(file.path) : (createReadStream(file.path) as AsyncIterable<Buffer>);
    for await (const chunk of chunks) {
      bytes += chunk.length;
      csv.feed(chunk);
    }
  } catch (err) {
    problem(`corrupt: ${(err as Error).message}`);
  }
  if (badRows > ROW_PROBLEMS_SHOWN) problem(`${badRows - ROW_PROBLEMS_SHOWN} more rows with a field count other than the header's`);
  if (csv.problem) problem(`not valid CSV: ${csv.problem}`);
  if (csv.tornBytes > 0) problem(`the last row has no line end (${csv.tornBytes} bytes): torn by a crash, or is nsr still writing this window?`);
  if (csv.rows === 0 && bytes > 0) problem('no complete header row');
  const records = Math.max(0, csv.rows - 1);
  if (meta) {
    if (meta.records !== records) problem(`metadata says records ${meta.records}, the data has ${records} rows after the header`);
    if (meta.bytes !== bytes) problem(`metadata says bytes ${meta.bytes}, the data has ${bytes}`);
    if (meta.first > meta.last) problem(`metadata says first ${meta.first} after last ${meta.last}`);
  }
  return { records, bytes };
}
