/**
 * Reading nsr's zips: the archive comment (metadata), the entries, and a CRC
 * check of an entry's inflated bytes (yauzl checks sizes but not CRC-32).
 */
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { crc32, createInflateRaw, inflateRaw } from 'node:zlib';
import type yauzl from 'yauzl';
import { decodeZipComment, type ZipMeta } from '../compress/zip-meta.js';

export interface ZipEntryInfo {
  name: string;
  crc32: number;
  uncompressedSize: number;
  compressedSize: number;
}

export interface ZipInfo {
  comment: string;
  meta: ZipMeta | undefined;
  entries: ZipEntryInfo[];
}

/**
 * yauzl loads with the first zip opened: the recorder imports the archive
 * readers (sinks read windows back) but most runs never open a zip.
 */
let yauzlModule: Promise<{ default: typeof yauzl }> | undefined;

async function openZip(file: string): Promise<yauzl.ZipFile> {
  // Imported once: an import() per zip went through the module loader each time and doubled `nsr verify`.
  const { default: lib } = await (yauzlModule ??= import('yauzl') as Promise<{ default: typeof yauzl }>);
  return new Promise((resolve, reject) =>
    lib.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true }, (err, zip) => (err ? reject(err) : resolve(zip!))),
  );
}

export async function readZipInfo(file: string): Promise<ZipInfo> {
  const zip = await openZip(file);
  try {
    const entries: ZipEntryInfo[] = [];
    await forEachEntry(zip, async (e) => {
      entries.push({ name: e.fileName, crc32: e.crc32, uncompressedSize: e.uncompressedSize, compressedSize: e.compressedSize });
    });
    return { comment: zip.comment, meta: decodeZipComment(zip.comment), entries };
  } finally {
    zip.close();
  }
}

/** Inflates every entry, calling `onData` with its chunks, and checks each entry's CRC-32. */
export async function readZipEntries(file: string, onData?: (entry: ZipEntryInfo, chunk: Buffer) => void): Promise<ZipInfo> {
  const zip = await openZip(file);
  try {
    const entries: ZipEntryInfo[] = [];
    await forEachEntry(zip, async (e) => {
      const info = { name: e.fileName, crc32: e.crc32, uncompressedSize: e.uncompressedSize, compressedSize: e.compressedSize };
      entries.push(info);
      const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => zip.openReadStream(e, (err, s) => (err ? reject(err) : resolve(s!))));
      let crc = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        crc = crc32(chunk, crc);
        onData?.(info, chunk);
      }
      if (crc >>> 0 !== e.crc32 >>> 0) throw new Error(`${file}: entry ${e.fileName}: CRC-32 mismatch (stored ${e.crc32.toString(16)}, computed ${(crc >>> 0).toString(16)})`);
    });
    return { comment: zip.comment, meta: decodeZipComment(zip.comment), entries };
  } finally {
    zip.close();
  }
}

function forEachEntry(zip: yauzl.ZipFile, fn: (e: yauzl.Entry) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => fn(e).then(() => zip.readEntry(), reject));
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
}

/**
 * The bytes of a zip's first entry as an async stream of chunks, read with
 * backpressure (constant memory). The CRC-32 is checked at the end: a mismatch
 * throws after the last chunk, so a consumer knows the data it got is suspect.
 */
export async function* zipEntryChunks(file: string): AsyncGenerator<Buffer> {
  const zip = await openZip(file);
  try {
    const entry = await firstEntry(zip);
    if (!entry) return;
    // Inflate ourselves with large output chunks: yauzl's 16 KB chunks cost a
    // thread-pool round trip each, which made reading three times slower.
    const deflated = entry.compressionMethod === 8;
    const raw = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
      zip.openReadStream(entry, deflated ? { decompress: false } : {}, (err, s) => (err ? reject(err) : resolve(s!))),
    );
    const stream = deflated ? raw.pipe(createInflateRaw({ chunkSize: 256 * 1024 })) : raw;
    raw.on('error', (err) => (stream as NodeJS.ReadableStream & { destroy(e: Error): void }).destroy(err));
    let crc = 0;
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      crc = crc32(chunk, crc);
      yield chunk;
    }
    checkEntry(file, entry, size, crc);
  } finally {
    zip.close();
  }
}

/**
 * The bytes of a zip's first entry, whole: the compressed bytes read, then
 * inflated in one call on the thread pool into a buffer of the entry's size (a
 * window small enough to hold in memory). A stream of 256 KB chunks costs a
 * thread-pool round trip each: a 10 MB window took 30–75 ms that way, 11–17 ms
 * so, and that was most of a short `nsr cat`. Sizes and CRC-32 are checked (a
 * mismatch throws); nothing past the entry's stated size is inflated.
 */
export async function zipEntryWhole(file: string): Promise<Buffer> {
  const zip = await openZip(file);
  try {
    const entry = await firstEntry(zip);
    if (!entry) return Buffer.alloc(0);
    const deflated = entry.compressionMethod === 8;
    if ((!deflated && entry.compressionMethod !== 0) || entry.generalPurposeBitFlag & 1) throw new Error(`${file}: the entry is encrypted or compressed by method ${entry.compressionMethod} (nsr writes deflate)`);
    const data = await entryData(file, entry);
    const size = entry.uncompressedSize;
    const out = deflated
      ? await inflateRawWhole(data, { chunkSize: Math.max(64 * 1024, size), maxOutputLength: Math.max(1, size) }).catch((err: NodeJS.ErrnoException) => {
          // zlib's words for output past maxOutputLength
          throw err.code === 'ERR_BUFFER_TOO_LARGE' ? new Error(`${file}: the entry inflates to more than the ${size} bytes its header says`) : err;
        })
      : data;
    checkEntry(file, entry, out.length, crc32(out));
    return out;
  } finally {
    zip.close();
  }
}

const inflateRawWhole = promisify(inflateRaw);

/**
 * An entry's stored bytes in one read at the offset its local header gives (yauzl's stream reads 16 KB at a time:
 * 76 thread-pool round trips for a 1.2 MB window).
 */
async function entryData(file: string, entry: yauzl.Entry): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(LOCAL_HEADER_BYTES);
    const at = entry.relativeOffsetOfLocalHeader;
    if ((await handle.read(head, 0, head.length, at)).bytesRead !== head.length || head.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
      throw new Error(`${file}: no local file header at offset ${at}, where the central directory says`);
    }
    const data = Buffer.alloc(entry.compressedSize);
    const start = at + LOCAL_HEADER_BYTES + head.readUInt16LE(26) + head.readUInt16LE(28);
    if ((await handle.read(data, 0, data.length, start)).bytesRead !== data.length) throw new Error(`${file}: the entry's data ends before its ${data.length} bytes`);
    return data;
  } finally {
    await handle.close();
  }
}

/** The fixed part of a zip's local file header (APPNOTE 4.3.7): signature, versions, flags, sizes, name and extra lengths. */
const LOCAL_HEADER_BYTES = 30;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;

/** The first entry of an open zip, or undefined when it has none. */
function firstEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise<yauzl.Entry | undefined>((resolve, reject) => {
    zip.once('entry', resolve);
    zip.once('end', () => resolve(undefined));
    zip.once('error', reject);
    zip.readEntry();
  });
}

/** Throws when an entry's inflated size or CRC-32 is not what its header says. */
function checkEntry(file: string, entry: yauzl.Entry, size: number, crc: number): void {
  if (size !== entry.uncompressedSize) throw new Error(`${file}: the entry inflates to ${size} bytes, its header says ${entry.uncompressedSize}`);
  if (crc >>> 0 !== entry.crc32 >>> 0) throw new Error(`${file}: CRC-32 mismatch (stored ${entry.crc32.toString(16)}, computed ${(crc >>> 0).toString(16)})`);
}
