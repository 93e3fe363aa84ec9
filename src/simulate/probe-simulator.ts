/**
 * Thousands of probe targets on one loopback server: `GET /p/<id>` answers
 * after the target's latency with its status and body. Each target's
 * behaviour comes from its URL's query (`?latency=120&status=503&body=…&size=N`)
 * or from `set(id, …)`, so a target list of any size needs no state here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, type Listening } from './listen.js';

export interface ProbeBehaviour {
  latencyMs?: number;
  status?: number;
  body?: string;
  /** Never answer (the probe times out). */
  hang?: boolean;
}

export class ProbeSimulator {
  private readonly overrides = new Map<string, ProbeBehaviour>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private listening: Listening | undefined;
  /** Requests answered, by target id. */
  readonly served = new Map<string, number>();
  total = 0;

  constructor(private readonly opts: { host?: string; port?: number } = {}) {}

  async start(): Promise<{ url: string; port: number }> {
    this.listening = await listen((req, res) => this.handle(req, res), this.opts.port ?? 0, this.opts.host ?? '127.0.0.1');
    // Thousands of keep-alive connections from one prober.
    this.listening.server.maxConnections = 100_000;
    return { url: this.listening.url, port: this.listening.port };
  }

  set(id: string, behaviour: ProbeBehaviour | undefined): void {
    if (behaviour) this.overrides.set(id, behaviour);
    else this.overrides.delete(id);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.listening?.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    const m = /^\/p\/([^/]+)$/.exec(url.pathname);
    if (!m) {
      res.writeHead(404).end('no such target');
      return;
    }
    const id = decodeURIComponent(m[1]);
    const q = url.searchParams;
    const b: ProbeBehaviour = { latencyMs: Number(q.get('latency') ?? 0), status: Number(q.get('status') ?? 200), body: q.get('body') ?? (q.get('size') ? 'x'.repeat(Number(q.get('size'))) : `<html><body>target ${id} ok</body></html>`), ...this.overrides.get(id) };
    if (b.hang) return;
    const answer = () => {
      this.served.set(id, (this.served.get(id) ?? 0) + 1);
      this.total++;
      const body = Buffer.from(b.body ?? '');
      res.writeHead(b.status ?? 200, { 'content-type': 'text/html', 'content-length': body.length });
      res.end(body);
    };
    if (!b.latencyMs) return answer();
    const t = setTimeout(() => {
      this.timers.delete(t);
      answer();
    }, b.latencyMs);
    this.timers.add(t);
    res.once('close', () => this.timers.delete(t) && clearTimeout(t));
  }
}
