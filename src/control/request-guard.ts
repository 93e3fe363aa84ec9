/**
 * Who may talk to the control server. Loopback is not a trust boundary: a web
 * page the operator opens can send requests there (cross-site, or through
 * DNS rebinding under a name of its own), and so can every local user. So:
 *
 *  - every request: its `Host` must name this server (a loopback name, the
 *    bound address, or control.allowed_hosts) at its port, which defeats DNS
 *    rebinding; a request carrying a foreign `Origin` (a web page's) is refused;
 *  - with control.token set, every request needs `Authorization: Bearer <token>`;
 *  - commands (every POST and DELETE) need a token even on loopback: the
 *    configured one, else the one the recorder wrote into its output
 *    directory (control-token.ts); a POST must say `Content-Type:
 *    application/json`, which a page cannot send cross-site without a CORS
 *    preflight that this server never grants.
 *
 * Tokens are compared as SHA-256 digests, in constant time (bearer-token.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { ControlConfig } from '../config/loader.js';
import { bare, isLoopbackHost, isWildcard, localAddresses } from './local-address.js';
import { bearerMatches as matches, tokenDigest as digest } from './bearer-token.js';

export interface Refusal {
  status: number;
  error: string;
  headers?: Record<string, string>;
}

export class RequestGuard {
  private readonly configured: Buffer | undefined;
  private readonly command: Buffer;
  private bound: { address: string; port: number } | undefined;

  /**
   * `commandToken` is what commands need: the configured token, or the
   * generated one kept in `tokenFile` (named in refusals; never the token itself).
   */
  constructor(private readonly cfg: ControlConfig, commandToken: string, private readonly tokenFile: string | undefined) {
    this.configured = cfg.token === undefined ? undefined : digest(cfg.token);
    this.command = digest(commandToken);
  }

  /** The address the server listens on, once it does: the Host check needs the port. */
  listening(a: AddressInfo): void {
    this.bound = { address: bare(a.address), port: a.port };
  }

  /** Every request: Host, Origin and, with control.token set, the token. */
  checkRequest(req: IncomingMessage): Refusal | undefined {
    const host = req.headers.host;
    // A browser always sends Host; only a non-browser client (an HTTP/1.0 health check) can leave it out.
    if (host !== undefined && !this.hostAllowed(host)) {
      return { status: 403, error: `Host ${JSON.stringify(host.slice(0, 100))} is not a name of this control server (a web page using DNS rebinding sends its own); use ${this.exampleUrl()}, or add the name to control.allowed_hosts` };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !this.sameOrigin(origin, host)) {
      return { status: 403, error: `requests from web pages are refused (Origin ${JSON.stringify(origin.slice(0, 100))}); use nsr status, curl or another client that sends no Origin` };
    }
    if (this.configured && !matches(req, this.configured)) {
      return {
        status: 401,
        error: req.headers.authorization ? 'invalid token' : 'missing token: send Authorization: Bearer <control.token>',
        headers: { 'WWW-Authenticate': 'Bearer realm="nsr"' },
      };
    }
    return undefined;
  }

  /** Commands: a token even on loopback; a POST says its body is JSON. */
  checkCommand(req: IncomingMessage): Refusal | undefined {
    if (!this.configured && !matches(req, this.command)) {
      const where = this.tokenFile ? `the token in ${this.tokenFile} (readable by the recorder's user only)` : 'control.token';
      return {
        status: 401,
        error: `${req.headers.authorization ? 'invalid token' : 'missing token'}: commands need the control token, also on loopback; send Authorization: Bearer <${where}>`,
        headers: { 'WWW-Authenticate': 'Bearer realm="nsr"' },
      };
    }
    if (req.method === 'POST' && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      const got = req.headers['content-type'];
      return { status: 415, error: `a command needs Content-Type: application/json (got ${got === undefined ? 'none' : JSON.stringify(got.slice(0, 100))}); send -H 'Content-Type: application/json'` };
    }
    return undefined;
  }

  /** A loopback name, the bound address (any address of this machine for a wildcard bind), or a configured name; at the bound port. */
  private hostAllowed(header: string): boolean {
    const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header.trim());
    if (!m) return false;
    const name = bare(m[1]);
    const port = m[2] === undefined ? undefined : Number(m[2]);
    for (const entry of this.cfg.allowedHosts) {
      const e = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(entry.trim());
      // A name without a port is allowed at any port: behind a proxy the port is the proxy's.
      if (e && bare(e[1]) === name && (e[2] === undefined || Number(e[2]) === port)) return true;
    }
    const bound = this.bound;
    if (!bound || (port ?? 80) !== bound.port) return false;
    if (isLoopbackHost(name) || name === bound.address) return true;
    return isWildcard(bound.address) && (localAddresses().has(name) || name === hostname().toLowerCase());
  }

  /** The page's origin is this server itself (scheme aside: a TLS proxy may sit in front). */
  private sameOrigin(origin: string, host: string | undefined): boolean {
    if (host === undefined) return false;
    try {
      const u = new URL(origin);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.host.toLowerCase() === host.trim().toLowerCase();
    } catch {
      return false; // "null" (a sandboxed page, a file://) and junk
    }
  }

  private exampleUrl(): string {
    const a = this.bound;
    if (!a) return 'http://127.0.0.1:<port>';
    const host = isWildcard(a.address) ? '127.0.0.1' : a.address.includes(':') ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }
}
