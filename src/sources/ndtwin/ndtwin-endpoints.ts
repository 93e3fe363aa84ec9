/**
 * The NDTwin kernel endpoints nsr knows, the body each returns, and the record
 * shape it is stored in. Shared by the `ndtwin` source kind and by replay,
 * which serves each stream back on the path it was recorded from; kept free of
 * heavy imports so the offline tools start fast.
 */
import type { BodyKind, RecordShape } from '../source.js';

export interface NdtwinEndpoint {
  path: string;
  expect: BodyKind;
  shape: (flowKey: string) => RecordShape;
}

export const NDTWIN_ENDPOINTS: Record<string, NdtwinEndpoint> = {
  flow: { path: '/ndt/get_detected_flow_data', expect: 'array', shape: (key) => ({ mode: 'wrap', key }) },
  graph: { path: '/ndt/get_graph_data', expect: 'object', shape: () => ({ mode: 'merge' }) },
  top_k_flow: { path: '/ndt/get_detected_top_k_flow_data', expect: 'array', shape: (key) => ({ mode: 'wrap', key }) },
  power: { path: '/ndt/get_power_report', expect: 'array', shape: () => ({ mode: 'wrap', key: 'power_report' }) },
  cpu: { path: '/ndt/get_cpu_utilization', expect: 'any', shape: () => ({ mode: 'wrap', key: 'cpu_utilization' }) },
  memory: { path: '/ndt/get_memory_utilization', expect: 'any', shape: () => ({ mode: 'wrap', key: 'memory_utilization' }) },
  temperature: { path: '/ndt/get_temperature', expect: 'any', shape: () => ({ mode: 'wrap', key: 'temperature' }) },
};

/** The endpoint recorded from a kernel path (query strings ignored), if nsr knows it. */
export function ndtwinEndpointByPath(path: string): NdtwinEndpoint | undefined {
  const pathname = path.split('?')[0];
  return Object.values(NDTWIN_ENDPOINTS).find((e) => pathname === e.path || pathname.endsWith(e.path));
}
