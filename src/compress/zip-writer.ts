/**
 * Writes a zip of one deflated file, streaming. The deflate stream comes from a
 * `Deflater`: Node's zlib in this process (the zip worker's; its native CRC-32
 * checksums the input in large chunks), or a gzip child process
 * (gzip-deflater.ts). The zlib way replaced yazl, whose CRC-32 is computed in
 * JavaScript: on the same window files after a benchmark run, yazl zipped
 * 137 MB/s and this writer 202 MB/s (zip -4: 146; BENCHMARKS.md).
 *
 * Layout (APPNOTE 6.3.x): local header with a data descriptor flag (sizes
 * follow the data), the deflate stream, the data descriptor, one central
 * directory header, and the end record carrying nsr's metadata as the archive
 * comment. No zip64: a window is capped far below 4 GiB.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32, createDeflateRaw } from 'node:zlib';

export interface SingleEntryZip {
  /** The file to deflate: a path, or a handle opened by the caller (read from its start, left open). */
  source: string | FileHandle;
  /** Where the zip goes: a path (created or replaced, never through a symlink), or a handle of a new file (left open). */
  target: string | FileHandle;
  entryName: string;
  level: number;
  comment: string;
  mtime: Date;
  /** Where the deflate stream comes from; zlib in this process by default. */
  deflater?: Deflater;
}

/** A raw deflate stream of a file, and what it covered once its chunks have all been taken. */
export interface Deflated {
  chunks: AsyncIterable<Buffer>;
  /** CRC-32 and length of the input; valid only after `chunks` ended. */
  totals(): { crc: number; size: number };
}

/** Deflates `source` (from its start; the handle is left open) at `level`. */
export type Deflater = (source: FileHandle, level: number) => Deflated;

/** zlib in this process, the input checksummed as it is read. */
export const zlibDeflater: Deflater = (source, level) => {
  let crc = 0;
  let size = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    const deflate = createDeflateRaw({ level, chunkSize: 256 * 1024 });
    const input = source.createReadStream({ start: 0, highWaterMark: 1 << 20, autoClose: false });
    input.on('data', (chunk) => {
      crc = crc32(chunk as Buffer, crc);
      size += chunk.length;
    });
    input.on('error', (err) => deflate.destroy(err));
    input.pipe(deflate);
    try {
      yield* deflate as AsyncIterable<Buffer>;
    } finally {
      input.destroy(); // stops reading if the zip could not be written (the handle is closed by its owner)
    }
  }
  return { chunks: chunks(), totals: () => ({ crc: crc >>> 0, size }) };
};

const FLAGS = 0x0008 /* sizes in a data descriptor */ | 0x0800; /* names are UTF-8 */
const DEFLATE = 8;
const VERSION = 20; // 2.0: deflate
const MADE_BY_UNIX = (3 << 8) | VERSION;
const FILE_MODE = 0o100644;
const MAX_32 = 0xffffffff;

export async function writeSingleEntryZip(z: SingleEntryZip): Promise<{ bytesIn: number; bytesOut: number }> {
  const name = Buffer.from(z.entryName, 'utf8');
  const comment = Buffer.from(z.comment, 'latin1');
  if (comment.length > 0xffff) throw new Error(`zip comment too long (${comment.length} bytes)`);
  const { time, date } = dosTime(z.mtime);
  let bytesOut = 0;
  let bytesIn = 0;
  const source = typeof z.source === 'string' ? await open(z.source, constants.O_RDONLY | constants.O_NOFOLLOW) : z.source;

  async function* zipBytes(): AsyncGenerator<Buffer> {
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    // crc and sizes stay 0 here: they follow in the data descriptor
    entryFields(local, 4, { time, date, crc: 0, compressed: 0, size: 0, nameLength: name.length });
    yield Buffer.concat([local, name]);

    let compressed = 0;
    const deflated = (z.deflater ?? zlibDeflater)(source, z.level);
    for await (const chunk of deflated.chunks) {
      compressed += chunk.length;
      yield chunk;
    }
    const { crc, size } = deflated.totals();
    bytesIn = size;
    if (bytesIn > MAX_32 || compressed > MAX_32) throw new Error(`${z.entryName}: ${bytesIn} bytes is too large for a zip without zip64`);

    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc, 4);
    descriptor.writeUInt32LE(compressed, 8);
    descriptor.writeUInt32LE(bytesIn, 12);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(MADE_BY_UNIX, 4);
    entryFields(central, 6, { time, date, crc, compressed, size: bytesIn, nameLength: name.length });
    // extra (30), comment (32), disk (34), internal attributes (36): 0
    central.writeUInt32LE((FILE_MODE << 16) >>> 0, 38);
    central.writeUInt32LE(0, 42); // the local header is at offset 0
    const centralOffset = local.length + name.length + compressed + descriptor.length;
    const centralSize = central.length + name.length;

    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(1, 8); // entries on this disk
    end.writeUInt16LE(1, 10); // entries in all
    end.writeUInt32LE(centralSize, 12);
    end.writeUInt32LE(centralOffset, 16);
    end.writeUInt16LE(comment.length, 20);
    yield Buffer.concat([descriptor, central, name, end, comment]);
    bytesOut = centralOffset + centralSize + end.length + comment.length;
  }

  let target: FileHandle | undefined;
  try {
    target = typeof z.target === 'string' ? await open(z.target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o666) : z.target;
    // Written chunk by chunk, each write awaited (backpressure). Not a stream on the
    // handle: Node 20's FileHandle.close() then waits forever for a write stream left open.
    let at = 0;
    for await (const chunk of zipBytes()) {
      for (let off = 0; off < chunk.length; ) {
        const { bytesWritten } = await target.write(chunk, off, chunk.length - off, at);
        off += bytesWritten;
        at += bytesWritten;
      }
    }
  } finally {
    if (source !== z.source) await source.close();
    if (target && target !== z.target) await target.close();
  }
  return { bytesIn, bytesOut };
}

/**
 * The fields the local header and the central directory header share, in the
 * same order (version needed … file name length), written from `at`.
 */
function entryFields(buf: Buffer, at: number, f: { time: number; date: number; crc: number; compressed: number; size: number; nameLength: number }): void {
  buf.writeUInt16LE(VERSION, at);
  buf.writeUInt16LE(FLAGS, at + 2);
  buf.writeUInt16LE(DEFLATE, at + 4);
  buf.writeUInt16LE(f.time, at + 6);
  buf.writeUInt16LE(f.date, at + 8);
  buf.writeUInt32LE(f.crc, at + 10);
  buf.writeUInt32LE(f.compressed, at + 14);
  buf.writeUInt32LE(f.size, at + 18);
  buf.writeUInt16LE(f.nameLength, at + 22);
}

/** MS-DOS date and time (local, 2-second resolution), as zip headers store them. */
function dosTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}
