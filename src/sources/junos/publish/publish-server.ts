/**
 * The HTTP listener of a junos stream's `publish:` option. Read-only: GET and
 * HEAD of three paths, each answered from one immutable snapshot.
 *
 *  - /exporters.json, /tmp.json: the Juniper agent's document (its path, its shape);
 *  - /akvorado.json: Akvorado's static provider reads it with `transform: .exporters[]`.
 *
 * Guards: with a token configured, every request needs `Authorization: Bearer
 * <token>`; a request that came in on loopback must name a loopback host
 * (DNS rebinding, as for the replay server); a web page's cross-site request
 * gets no CORS grant, so it cannot read the answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OperatorError } from '../../../config/errors.js';
import { bearerMatches, tokenDigest } from '../../../control/bearer-token.js';
import { rebindingProblem } from '../../../control/local-address.js';
import type { PublishedSnapshot, ServedDocument } from './published-documents.js';
import type { PublishSettings } from './publish-config.js';

const PATHS: Record<string, (s: PublishedSnapshot) => ServedDocument> = {
  '/exporters.json': (s) => s.exporters,
  '/tmp.json': (s) => s.exporters,
  '/akvorado.json': (s) => s.akvorado,
};

/** A fresh listen right after the previous one closed (a reload) can find the port not yet released. */
const BIND_ATTEMPTS = 10;
const BIND_RETRY_MS = 100;

export class PublishServer {
  private server: Server | undefined;
  private readonly token: Buffer | undefined;
  /** Requests answered, by status (for tests and /metrics-like checks). */
  readonly answered = new Map<number, number>();

  constructor(
    private readonly settings: PublishSettings,
    private readonly snapshot: () => PublishedSnapshot | undefined,
  ) {
    this.token = settings.token === undefined ? undefined : tokenDigest(settings.token);
  }

  /** Binds the listener; rejects with a message naming the address and the fix. */
  async start(): Promise<AddressInfo> {
    const { host, port } = this.settings;
    for (let attempt = 1; ; attempt++) {
      const server = createServer((req, res) => this.handle(req, res));
      server.keepAliveTimeout = 5000;
      server.headersTimeout = 10_000;
      server.requestTimeout = 10_000;
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port, exclusive: true }, () => (server.off('error', reject), resolve()));
        });
        this.server = server;
        return server.address() as AddressInfo;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' && attempt < BIND_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, BIND_RETRY_MS));
          continue;
        }
        const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        const fix = code === 'EADDRINUSE' ? 'another program (or another nsr) listens there; stop it or set publish.listen to a free port' : code === 'EADDRNOTAVAIL' ? 'the address is not one of this machine’s; use 127.0.0.1 or an address of this machine' : 'check publish.listen';
        throw new OperatorError(`publish: cannot listen on ${where} (${code ?? (err as Error).message}): ${fix}`);
      }
    }
  }

  close(): void {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.close();
    s.closeAllConnections();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const send = (status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
      this.answered.set(status, (this.answered.get(status) ?? 0) + 1);
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache', 'Content-Length': String(bytes.length), ...headers });
      res.end(req.method === 'HEAD' ? undefined : bytes);
    };
    const error = (status: number, message: string, headers?: Record<string, string>) => send(status, `${JSON.stringify({ error: message })}\n`, headers);

    const rebound = rebindingProblem(req.socket.localAddress, req.headers.host);
    if (rebound) return error(403, rebound);
    if (this.token && !bearerMatches(req, this.token)) {
      return error(401, req.headers.authorization ? 'invalid token' : 'missing token: send Authorization: Bearer <publish.token>', { 'WWW-Authenticate': 'Bearer realm="nsr publish"' });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return error(405, `${req.method} is not served here; use GET`, { Allow: 'GET, HEAD' });
    const path = (req.url ?? '/').split('?')[0];
    const pick = PATHS[path];
    if (!pick) return error(404, `no document at ${JSON.stringify(path.slice(0, 100))}; served: ${Object.keys(PATHS).join(', ')}`);
    const snap = this.snapshot();
    if (!snap) return error(503, 'no cycle has finished yet: the documents are built at the end of the first one', { 'Retry-After': '5' });
    const doc = pick(snap);
    const headers = { ETag: doc.etag, 'Last-Modified': new Date(doc.modified).toUTCString() };
    if (notModified(req, doc)) return send(304, Buffer.alloc(0), headers);
    send(200, doc.body, headers);
  }
}

/** If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2). */
function notModified(req: IncomingMessage, doc: ServedDocument): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === doc.etag || t.trim() === '*');
  const ims = req.headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && Math.floor(doc.modified / 1000) * 1000 <= since;
}
