/**
 * The NDTwin kernel's answers to browsers, copied by the servers that stand in
 * for it (`nsr replay`, `nsr simulate`). The NDTwin Web-GUI is a React page on
 * another origin that calls the kernel with `Content-Type: application/json`,
 * so every call is preflighted: the kernel answers OPTIONS with 204 and sends
 * `Access-Control-Allow-Origin: *` on every response. Without the same answers
 * a browser refuses the page every body.
 *
 * Only the kernel's own routes (/ndt/…) are opened, and only on servers that
 * serve them read-only: what they give any page is the network data the kernel
 * itself gives any page. The servers' own routes (`/replay/status`, `/sim/…`)
 * stay same-origin, and so do other APIs a replay serves (NetBox, probes…).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The kernel's routes all live under this prefix. */
export const KERNEL_PREFIX = '/ndt/';

/** Methods the kernel's routes are called with. */
const ALLOW_METHODS = 'GET, POST, OPTIONS';
/** Always allowed: the Web-GUI sends it on every call. */
const BASE_ALLOW_HEADERS = ['Content-Type'];
/** How long a browser may keep a preflight's answer, as the kernel says (s). */
const MAX_AGE = '86400';
/** An HTTP header name (RFC 9110 token): what a requested header must look like to be echoed. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Whether a request target is one of the kernel's routes (query string or not). */
export function isKernelRoute(target: string): boolean {
  return target.startsWith(KERNEL_PREFIX);
}

/** Lets pages on any origin read this response, as the kernel does on all of its. */
export function allowAnyOrigin(res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
}

/**
 * Answers a CORS preflight (OPTIONS) on a kernel route: 204 with the methods and
 * the headers the page may use. The headers are Content-Type plus whatever the
 * preflight asks for (names only, so nothing but header names is echoed).
 */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  const requested = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => HEADER_NAME.test(h));
  const headers = [...BASE_ALLOW_HEADERS];
  for (const h of requested) if (!headers.some((k) => k.toLowerCase() === h.toLowerCase())) headers.push(h);
  res.writeHead(204, {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': ALLOW_METHODS,
    'Access-Control-Allow-Headers': headers.join(', '),
    'Access-Control-Max-Age': MAX_AGE,
    // The allowed headers echo the request's: a cache must not answer another preflight with them.
    Vary: 'Access-Control-Request-Headers',
    'Content-Length': 0,
  });
  res.end();
}
