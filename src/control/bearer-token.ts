/**
 * `Authorization: Bearer <token>` checks for nsr's HTTP listeners (the control
 * server, the published documents). Tokens are compared as SHA-256 digests, in
 * constant time: digests have equal length whatever was sent.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** True when the request carries the token whose digest is `expected`. */
export function bearerMatches(req: IncomingMessage, expected: Buffer): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(tokenDigest(m[1]), expected);
}
