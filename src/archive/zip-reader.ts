/**
 * Reading nsr's zips: the archive comment (metadata), the entries, and a CRC
 * check of an entry's inflated bytes (yauzl checks sizes but not CRC-32).
 */
import { crc32, createInflateRaw } from 'node:zlib';
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
    const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
      zip.once('entry', resolve);
      zip.once('end', () => resolve(undefined));
      zip.once('error', reject);
      zip.readEntry();
    });
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
    if (size !== entry.uncompressedSize) throw new Error(`${file}: the entry inflates to ${size} bytes, its header says ${entry.uncompressedSize}`);
    if (crc >>> 0 !== entry.crc32 >>> 0) throw new Error(`${file}: CRC-32 mismatch (stored ${entry.crc32.toString(16)}, computed ${(crc >>> 0).toString(16)})`);
  } finally {
    zip.close();
  }
}
