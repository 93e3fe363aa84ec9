/**
 * `http` kind: any JSON API polled with GET. Records wrap the body under a key
 * (default `data`) or merge an object body's members after the timestamp.
 */
import { z } from 'zod';
import { commonStreamFields, httpUrl } from '../../config/schema-types.js';
import { HttpFetcher } from '../common/http-fetcher.js';
import type { SourceKind } from '../kind.js';
import type { Source } from '../source.js';
import { redactUrl } from '../common/redact.js';

const schema = z.strictObject({
  kind: z.literal('http'),
  url: httpUrl,
  headers: z.record(z.string(), z.string()).optional(),
  expect: z.enum(['array', 'object', 'any']).default('any'),
  record: z.enum(['wrap', 'merge']).default('wrap').meta({ description: 'wrap: {"timestamp":…,"<key>":body}; merge: body object members follow the timestamp' }),
  key: z.string().min(1).default('data'),
  ...commonStreamFields,
});

export const httpKind: SourceKind<typeof schema> = {
  kind: 'http',
  schema,
  build(name, cfg, { timing }): Source {
    if (cfg.record === 'merge' && cfg.expect !== 'object') {
      // merge splices object members; enforce an object body so the splice is valid
      cfg = { ...cfg, expect: 'object' };
    }
    const fetcher = new HttpFetcher({ url: cfg.url, headers: cfg.headers, expect: cfg.expect, timeoutMs: timing.timeoutMs, retries: timing.retries, maxBodyBytes: cfg.max_body_size });
    return {
      name,
      kind: 'http',
      timing,
      shape: cfg.record === 'merge' ? { mode: 'merge' } : { mode: 'wrap', key: cfg.key },
      target: redactUrl(cfg.url),
      fetch: (signal, deadline) => fetcher.fetch(signal, deadline),
      close: () => fetcher.close(),
    };
  },
};
