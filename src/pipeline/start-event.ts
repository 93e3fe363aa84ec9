/**
 * The `start` event: what this run records and how, so offline tools need no
 * configuration file. `shape` tells them how to cut an upstream's body back out
 * of a record (replay); `records_per_tick` tells `nsr stats` to count ticks, not
 * records, for coverage; extra outputs name the stream that writes them.
 */
import type { LoadedConfig } from '../config/loader.js';
import type { StreamUnit } from './stream-unit.js';
import { redactUrlsIn } from '../sources/common/redact.js';

export function startEvent(loaded: LoadedConfig, units: readonly StreamUnit[], run: { version?: string; outputDir: string }): Record<string, unknown> {
  const { config, file, legacy } = loaded;
  return {
    version: run.version,
    pid: process.pid,
    config: file,
    legacy_config: legacy || undefined,
    output_dir: run.outputDir,
    streams: Object.fromEntries(
      units.flatMap(({ config: s, source }) => {
        const timing = { interval_ms: s.timing.intervalMs, timeout_ms: s.timing.timeoutMs, window_ms: s.timing.windowMs, records_per_tick: source.cycle ? 'many' : undefined };
        return [
          // Archived for good: the target's URL credentials are hidden whatever the source kind did.
          [s.name, { kind: s.kind, target: redactUrlsIn(source.target), shape: source.shape, ...timing }],
          ...(source.outputs ?? []).map((out) => [out.name, { kind: s.kind, written_by: s.name, shape: out.shape, ...timing }]),
        ];
      }),
    ),
    window_ms: config.output.window,
  };
}
