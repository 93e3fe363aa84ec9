/**
 * Reads whole NetBox listings: follows `next` page by page, keeps each item's
 * bytes as NetBox sent them, and re-reads a listing that changed while it was
 * being paged (NetBox pages by offset, so an insert or delete between two
 * pages shifts items: one is read twice or never), so a snapshot is never a
 * mix of two states of the inventory.
 */
import { HttpFetcher } from '../common/http-fetcher.js';
import { elementSpans, memberSpan } from '../../json/json-spans.js';
import { FetchError } from '../source.js';

export interface ListedItem {
  id: number;
  /** The item exactly as NetBox sent it. */
  raw: Buffer;
  value: Record<string, unknown>;
}

export interface NetboxClientOptions {
  /** NetBox's base URL, e.g. https://netbox.example.net (the API is under /api/). */
  url: string;
  token?: string;
  pageSize: number;
  timeoutMs: number;
  retries: number;
  maxBodyBytes?: number;
  tlsVerify: boolean;
}

/** How often a listing that changed under the reader is read again before the tick gives up. */
const LISTING_ATTEMPTS = 3;

export class NetboxClient {
  private readonly fetcher: HttpFetcher;
  private readonly base: URL;

  constructor(private readonly opts: NetboxClientOptions) {
    this.base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    const headers: Record<string, string> = {};
    // NetBox ≥ 4.5 v2 tokens (nbt_…) are Bearer tokens; v1 tokens use the Token scheme.
    if (opts.token) headers.authorization = opts.token.startsWith('nbt_') ? `Bearer ${opts.token}` : `Token ${opts.token}`;
    this.fetcher = new HttpFetcher({ headers, expect: 'object', timeoutMs: opts.timeoutMs, retries: opts.retries, maxBodyBytes: opts.maxBodyBytes, tls: { verify: opts.tlsVerify } });
  }

  /** Every item of `/api/<path>/` with these query parameters, read consistently. */
  async list(path: string, params: [string, string][], signal: AbortSignal, deadline: number): Promise<ListedItem[]> {
    let why = '';
    for (let attempt = 1; attempt <= LISTING_ATTEMPTS; attempt++) {
      const result = await this.readOnce(path, params, signal, deadline);
      if (Array.isArray(result)) return result;
      why = result.changed;
      if (signal.aborted || Date.now() >= deadline) break;
    }
    throw new FetchError('inconsistent_snapshot', `${path}: the listing changed while it was paged (${why}) in every attempt; NetBox is being edited heavily: a longer page_size reads it in fewer pages`);
  }

  private async readOnce(path: string, params: [string, string][], signal: AbortSignal, deadline: number): Promise<ListedItem[] | { changed: string }> {
    const first = new URL(`api/${path}/`, this.base);
    first.searchParams.set('limit', String(this.opts.pageSize));
    for (const [k, v] of params) first.searchParams.append(k, v);
    const items: ListedItem[] = [];
    const ids = new Set<number>();
    let count: number | undefined;
    let url: URL | undefined = first;
    for (let pages = 0; url; pages++) {
      if (count !== undefined && pages > Math.ceil(count / this.opts.pageSize) + 1) {
        throw new FetchError('unexpected_body', `${path}: more pages than ${count} items need; NetBox's \`next\` links loop`);
      }
      const body = await this.fetcher.get(url.toString(), signal, deadline);
      const page = JSON.parse(body.toString('utf8')) as { count?: unknown; next?: unknown; results?: unknown };
      if (typeof page.count !== 'number' || !Array.isArray(page.results)) {
        throw new FetchError('unexpected_body', `${redact(url)} is not a NetBox list (no count and results): is \`url\` NetBox's base URL, without /api?`);
      }
      if (count !== undefined && page.count !== count) return { changed: `count ${count} then ${page.count}` };
      count = page.count;
      const spans = elementSpans(body, memberSpan(body, 'results')!);
      for (let i = 0; i < spans.length; i++) {
        const value = page.results[i] as Record<string, unknown>;
        const id = typeof value?.id === 'number' ? value.id : -1;
        if (ids.has(id)) return { changed: `item ${id} on two pages` };
        ids.add(id);
        items.push({ id, raw: body.subarray(spans[i].start, spans[i].end), value });
      }
      url = typeof page.next === 'string' && page.next ? this.rebase(page.next, url) : undefined;
    }
    if (items.length !== count) return { changed: `${items.length} items read, count ${count}` };
    return items;
  }

  /**
   * NetBox writes `next` with the host and scheme it believes it has; behind a
   * reverse proxy that is often not the address nsr reaches it at (http for
   * https, an internal name), so only the path and query are taken from it.
   */
  private rebase(next: string, current: URL): URL {
    const n = new URL(next, current);
    return new URL(`${n.pathname}${n.search}`, this.base.origin);
  }

  close(): void {
    this.fetcher.close();
  }
}

const redact = (u: URL) => `${u.origin}${u.pathname}`;
