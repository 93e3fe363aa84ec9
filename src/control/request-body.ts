/**
 * Reading a command's body with a size limit. A body over the limit is
 * answered 413, and the client must see that answer: closing the connection
 * while its body still arrives makes the kernel send a reset, and the client
 * then reports a reset instead of the 413. So the rest of the body is read
 * and dropped (never kept), up to a bound past which the connection is cut.
 */
import type { IncomingMessage } from 'node:http';

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than ${limit} bytes`);
  }
}

/** How much of an oversized body is read and dropped so the 413 arrives; a client sending more gets its connection cut. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

/**
 * The body as text; rejects with BodyTooLarge as soon as it is known to be
 * over `limit` (from Content-Length, or once that much arrived), and keeps
 * dropping what still comes.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    drain(req, 0);
    return Promise.reject(new BodyTooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) return void chunks.push(c);
      req.off('data', onData);
      req.off('end', onEnd);
      chunks.length = 0;
      drain(req, size);
      reject(new BodyTooLarge(limit));
    };
    const onEnd = () => resolve(Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/** Reads and drops the rest of the body; past DRAIN_LIMIT the connection is cut (the answer may then be lost: the client asked for it). */
function drain(req: IncomingMessage, already: number): void {
  let dropped = already;
  req.on('data', (c: Buffer) => {
    dropped += c.length;
    if (dropped > DRAIN_LIMIT) req.socket.destroy();
  });
  req.on('error', () => {});
  req.resume();
}
