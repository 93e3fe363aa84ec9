/**
 * /metrics: Prometheus text from a registry of nsr's own (never the global
 * one). Every nsr metric is read from the recorder's counters when scraped,
 * so nothing is counted twice and recording allocates nothing for metrics.
 */
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { DurationHistogram } from '../pipeline/histogram.js';
import { freshnessBoundMs, type RecorderView } from './view.js';
import { diskFreeBytes } from './disk-free.js';

export { diskFreeBytes } from './disk-free.js';

type Labels = Record<string, string>;
interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
}

/** A metric whose samples are computed at scrape time (the registry only calls `get()`). */
function scraped(registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', samples: () => Sample[] | Promise<Sample[]>): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    async get() {
      return { name, help, type, aggregator: 'sum', values: await samples() };
    },
  };
  registry.registerMetric(metric as unknown as Metric);
}

function histogramSamples(name: string, h: DurationHistogram, labels: Labels): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cumulative += h.counts[i];
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(h.bounds[i]) }, value: cumulative });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

export function createMetricsRegistry(view: RecorderView): Registry {
  const registry = new Registry();
  const perStream = (pick: (s: ReturnType<RecorderView['streams']>[number]) => number) => () => view.streams().map((s) => ({ labels: { stream: s.name }, value: pick(s) }));
  const byReason = (pick: (s: ReturnType<RecorderView['streams']>[number]) => Map<string, number>) => () =>
    view.streams().flatMap((s) => [...pick(s)].map(([reason, n]) => ({ labels: { stream: s.name, reason }, value: n })));

  scraped(registry, 'nsr_fetches_total', 'Fetches started, per stream (one per tick that was not skipped).', 'counter', perStream((s) => s.stats.fetches));
  scraped(registry, 'nsr_fetch_failures_total', 'Fetches that gave no record, per stream and reason (after retries inside the tick).', 'counter', byReason((s) => s.stats.failures));
  scraped(registry, 'nsr_fetch_duration_seconds', 'How long a fetch took, retries included, successful or not.', 'histogram', () =>
    view.streams().flatMap((s) => histogramSamples('nsr_fetch_duration_seconds', s.stats.fetchSeconds, { stream: s.name })),
  );
  scraped(registry, 'nsr_records_total', 'Records written to window files, per stream.', 'counter', perStream((s) => s.stats.records));
  scraped(registry, 'nsr_record_bytes_total', 'Bytes of records written to window files, per stream.', 'counter', perStream((s) => s.stats.bytes));
  scraped(registry, 'nsr_missed_ticks_total', 'Ticks that produced no record, per stream and reason.', 'counter', byReason((s) => s.stats.missed));
  scraped(registry, 'nsr_last_record_age_seconds', 'Seconds since the stream last recorded (since its first tick if it has not yet).', 'gauge', () => {
    const now = view.now();
    return view.streams().map((s) => ({ labels: { stream: s.name }, value: (now - (s.stats.lastRecordAt || view.freshSince())) / 1000 }));
  });
  scraped(registry, 'nsr_stream_fresh', '1 while the stream recorded within its freshness bound (3 intervals plus the timeout), else 0; what /healthz checks.', 'gauge', () => {
    const now = view.now();
    return view.streams().map((s) => ({ labels: { stream: s.name }, value: now - (s.stats.lastRecordAt || view.freshSince()) <= freshnessBoundMs(s) ? 1 : 0 }));
  });
  scraped(registry, 'nsr_queue_depth', 'Records fetched and not yet written, per stream.', 'gauge', perStream((s) => s.queueDepth()));
  scraped(registry, 'nsr_queue_bytes', 'Bytes fetched and not yet written, per stream.', 'gauge', perStream((s) => s.queueBytes()));
  scraped(registry, 'nsr_window_files_open', 'Window files open for writing.', 'gauge', () => [{ labels: {}, value: view.windowsOpen() }]);
  scraped(registry, 'nsr_compression_backlog', 'Closed windows waiting to be compressed, being compressed, or waiting for a retry.', 'gauge', () => [{ labels: {}, value: view.compressionBacklog() }]);
  scraped(registry, 'nsr_compression_duration_seconds', 'How long compressing a window took.', 'histogram', () => histogramSamples('nsr_compression_duration_seconds', view.compressionSeconds, {}));
  scraped(registry, 'nsr_disk_free_bytes', 'Free bytes (for an unprivileged user) on the file system of the output directory.', 'gauge', async () => {
    const free = await diskFreeBytes(view.outputDir);
    return free === undefined ? [] : [{ labels: {}, value: free }];
  });
  scraped(registry, 'nsr_disk_low', '1 while the output file system is below output.min_free and records wait in their queues, else 0 (absent without min_free).', 'gauge', () => {
    const d = view.disk?.();
    return d ? [{ labels: {}, value: d.low ? 1 : 0 }] : [];
  });
  scraped(registry, 'nsr_info', 'The recorder: version and output directory.', 'gauge', () => [{ labels: { version: view.version, output_dir: view.outputDir }, value: 1 }]);
  // The event-loop lag monitor samples every 10 ms by default; 100 ms is plenty
  // for an operator's graph and costs a tenth (bench/control.bench.mjs).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  return registry;
}
