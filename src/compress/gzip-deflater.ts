/**
 * A deflate stream made by a `gzip` child process, for the zip writer.
 *
 * Why: a window closes once a minute at the nominal load, and a Node zip
 * worker costs ~0.1 s of CPU and ~50 MB to start for ~0.03 s of deflate;
 * gzip starts in a millisecond in ~2 MB (BENCHMARKS.md §17). The deflate
 * format inside a gzip file (RFC 1952) is the one a zip entry holds
 * (APPNOTE 4.4.5, method 8), so the child's output minus its header and its
 * 8-byte trailer is the entry's data, and the trailer gives the CRC-32 and
 * the length mod 2^32 that the zip needs.
 *
 * The child reads the window file through a descriptor this process opened
 * (never a path it could be tricked into following) and writes to a pipe;
 * this process writes the zip. The length gzip reports must equal the file's:
 * output of any other shape (several members, a truncated stream) fails the
 * job, and the `.json` stays.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Deflater } from './zip-writer.js';

/** The program could not be started at all (ENOENT, EACCES): the pool compresses with its Node worker instead. */
export class GzipUnavailableError extends Error {
  constructor(program: string, reason: string) {
    super(`cannot run ${program}: ${reason}`);
  }
}

/** The program ran and failed (killed, a non-zero exit): a death of the job's child, as a Node worker's would be. */
export class GzipFailedError extends Error {
  constructor(message: string, readonly pid: number | undefined, readonly exitCode: number | null, readonly signal: NodeJS.Signals | null) {
    super(message);
  }
}

/** Header flag bits (RFC 1952 §2.3.1). */
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
const RESERVED = 0xe0;
/** A header longer than this (names and comments) is not one gzip writes for a pipe. */
const MAX_HEADER = 64 * 1024;
const TRAILER = 8;
const STDERR_KEPT = 512;

/**
 * `onChild` hears of each child as it starts (the pool kills them at a hurried
 * stop). `program` is a path or a name looked up on PATH.
 */
export function gzipDeflater(program: string, onChild?: (child: ChildProcess) => void): Deflater {
  return (source, level) => {
    let totals: { crc: number; size: number } | undefined;
    async function* chunks(): AsyncGenerator<Buffer> {
      const expected = (await source.stat()).size;
      const child = spawn(program, [`-${level}`, '-n', '-c'], { stdio: [source.fd, 'pipe', 'pipe'] });
      const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
        child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' || err.code === 'EACCES' ? new GzipUnavailableError(program, err.code) : err));
        child.once('close', (code, signal) => resolve({ code, signal }));
      });
      ended.catch(() => undefined); // read below; a failed spawn must not also be an unhandled rejection
      if (child.pid !== undefined) onChild?.(child);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (s: string) => {
        if (stderr.length < STDERR_KEPT) stderr = (stderr + s).slice(0, STDERR_KEPT);
      });
      let head: Buffer | undefined = Buffer.alloc(0);
      let tail: Buffer = Buffer.alloc(0);
      let finished = false;
      try {
        for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
          let data = chunk;
          if (head) {
            head = head.length ? Buffer.concat([head, data]) : data;
            const length = headerLength(head);
            if (length === undefined) {
              if (head.length > MAX_HEADER) throw new Error(`${program} wrote no gzip header`);
              continue;
            }
            data = head.subarray(length);
            head = undefined;
          }
          // The last 8 bytes are the trailer, not deflate data: hold them back until the end.
          const all = tail.length ? Buffer.concat([tail, data]) : data;
          if (all.length <= TRAILER) {
            tail = all;
            continue;
          }
          tail = Buffer.from(all.subarray(all.length - TRAILER));
          yield all.subarray(0, all.length - TRAILER);
        }
        const { code, signal } = await ended;
        if (signal || code !== 0) throw new GzipFailedError(`${program} ${signal ? `was killed (${signal})` : `exited with code ${code}`}${stderr ? `: ${stderr.trim()}` : ''}`, child.pid, code, signal);
        if (head || tail.length < TRAILER) throw new Error(`${program} wrote a truncated gzip stream`);
        const crc = tail.readUInt32LE(0);
        const isize = tail.readUInt32LE(4);
        if (isize !== expected % 2 ** 32) throw new Error(`${program} compressed ${isize} bytes of a ${expected}-byte file (its output is not one gzip member)`);
        totals = { crc, size: expected };
        finished = true;
      } finally {
        if (!finished) {
          child.stdout!.destroy();
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await ended.catch((err) => {
            if (err instanceof GzipUnavailableError) throw err;
          });
        }
      }
    }
    return {
      chunks: chunks(),
      totals: () => {
        if (!totals) throw new Error('the gzip stream has not ended');
        return totals;
      },
    };
  };
}

/** Length of the gzip header at the start of `b`, or undefined when `b` does not hold all of it yet. Throws when it is no gzip header. */
export function headerLength(b: Buffer): number | undefined {
  if (b.length < 10) return undefined;
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8 || (b[3] & RESERVED) !== 0) throw new Error('the compressor wrote no gzip deflate header');
  const flags = b[3];
  let at = 10;
  if (flags & FEXTRA) {
    if (b.length < at + 2) return undefined;
    at += 2 + b.readUInt16LE(at);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const zero = b.indexOf(0, at);
    if (zero < 0) return undefined;
    at = zero + 1;
  }
  if (flags & FHCRC) at += 2;
  return b.length < at ? undefined : at;
}
