/**
 * The Python NSR's `setting/recorder_setting.yaml` (a Nornir inventory host
 * named `Recorder`), converted to nsr's own config with the original semantics:
 * `request_interval` in seconds, `storage_interval` in minutes (both may be
 * fractional, e.g. 0.5), output into ./recorded_info, flowinfo + graphinfo.
 */
import { ConfigError } from './errors.js';

export function isLegacyConfig(doc: unknown): boolean {
  return isObject(doc) && isObject(doc.Recorder) && !('streams' in doc);
}

const LEVELS: Record<string, string> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', SUCCESS: 'info', WARNING: 'warn', WARN: 'warn', ERROR: 'error', CRITICAL: 'fatal' };

export function convertLegacyConfig(doc: Record<string, unknown>, file: string): Record<string, unknown> {
  const recorder = doc.Recorder as Record<string, unknown>;
  const data = (isObject(recorder.data) ? recorder.data : {}) as Record<string, unknown>;
  const kernel = data.ndtwin_kernel ?? data.ndtwin_server ?? 'http://127.0.0.1:8000';
  const seconds = positiveNumber(data.request_interval ?? 5, 'Recorder.data.request_interval', 'seconds', file);
  const minutes = positiveNumber(data.storage_interval ?? 2, 'Recorder.data.storage_interval', 'minutes', file);
  const levelText = String(data.log_level ?? 'DEBUG').toUpperCase();
  const level = LEVELS[levelText];
  if (!level) throw new ConfigError(`${file}: Recorder.data.log_level: got ${JSON.stringify(data.log_level)}; expected one of TRACE, DEBUG, INFO, WARNING, ERROR`);
  const interval = `${Math.round(seconds * 1000)}ms`;
  const stream = (dataKind: string) => ({ kind: 'ndtwin', kernel, data: dataKind, interval });
  return {
    output: { dir: 'recorded_info', window: `${Math.round(minutes * 60_000)}ms` },
    log: { level, console: data.display_on_console === undefined ? true : Boolean(data.display_on_console) },
    streams: { flowinfo: stream('flow'), graphinfo: stream('graph') },
  };
}

function positiveNumber(value: unknown, path: string, unit: string, file: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    throw new ConfigError(`${file}: ${path}: got ${JSON.stringify(value)}; expected a positive number of ${unit} (e.g. 1 or 0.5)`);
  }
  return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
