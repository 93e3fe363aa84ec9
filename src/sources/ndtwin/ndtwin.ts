/**
 * `ndtwin` kind: the NDTwin kernel's HTTP API. `data: flow` records
 * get_detected_flow_data wrapped under `flowinfo` (the Python NSR's key; the
 * replay clients read `flow_info`, so the key is configurable); `data: graph`
 * records get_graph_data merged after the timestamp, exactly as the original.
 */
import { z } from 'zod';
import { commonStreamFields, httpUrl } from '../../config/schema-types.js';
import { HttpFetcher } from '../common/http-fetcher.js';
import { redactUrl } from '../common/redact.js';
import type { SourceKind } from '../kind.js';
import type { Source } from '../source.js';
import { NDTWIN_ENDPOINTS as ENDPOINTS } from './ndtwin-endpoints.js';

const schema = z.strictObject({
  kind: z.literal('ndtwin'),
  kernel: httpUrl.default('http://127.0.0.1:8000').meta({ description: 'base URL of the NDTwin kernel' }),
  data: z.enum(Object.keys(ENDPOINTS) as [string, ...string[]]).meta({ description: 'which kernel data to record' }),
  flow_key: z.string().min(1).default('flowinfo').meta({ description: 'key of flow records; the NDTwin replay clients read flow_info' }),
  ...commonStreamFields,
});

export const ndtwinKind: SourceKind<typeof schema> = {
  kind: 'ndtwin',
  schema,
  build(name, cfg, { timing }): Source {
    const endpoint = ENDPOINTS[cfg.data];
    const url = new URL(endpoint.path.slice(1), cfg.kernel.endsWith('/') ? cfg.kernel : `${cfg.kernel}/`).toString();
    const fetcher = new HttpFetcher({ url, expect: endpoint.expect, timeoutMs: timing.timeoutMs, retries: timing.retries, maxBodyBytes: cfg.max_body_size });
    return {
      name,
      kind: 'ndtwin',
      timing,
      shape: endpoint.shape(cfg.flow_key),
      target: redactUrl(url),
      // The first record at start, not up to an interval later: as the original
      // recorder, and spawn → first request is what an operator waits for (BENCHMARKS.md §17).
      eager: true,
      fetch: (signal, deadline) => fetcher.fetch(signal, deadline),
      close: () => fetcher.close(),
    };
  },
};
