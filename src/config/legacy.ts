/**
 * The Python NSR's `setting/recorder_setting.yaml` (a Nornir inventory host
 * named `Recorder`), converted to nsr's own config with the original semantics:
 * `request_interval` in seconds, `storage_interval` in minutes (both may be
 * fractional, e.g. 0.5), output into ./recorded_info, flowinfo + graphinfo.
 *
 * The original has no timeout (it waits for each answer, then sleeps
 * request_interval), so one is derived: the usual 80% of the interval. An
 * interval below nsr's shortest (MIN_INTERVAL_MS) is raised to it with a
 * warning rather than refused: the original accepts such a file.
 */
import { ConfigError } from './errors.js';
import { showValue, type EnvValues } from './env-substitution.js';
import { defaultTimeout, MIN_INTERVAL_MS } from './timing.js';
import { redactUrlsIn } from '../sources/common/redact.js';

export function isLegacyConfig(doc: unknown): boolean {
  return isObject(doc) && isObject(doc.Recorder) && !('streams' in doc);
}

const LEVELS: Record<string, string> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', SUCCESS: 'info', WARNING: 'warn', WARN: 'warn', ERROR: 'error', CRITICAL: 'fatal' };

export function convertLegacyConfig(doc: Record<string, unknown>, file: string, fromEnv: EnvValues): { doc: Record<string, unknown>; warnings: string[] } {
  const recorder = doc.Recorder as Record<string, unknown>;
  const data = (isObject(recorder.data) ? recorder.data : {}) as Record<string, unknown>;
  const kernel = data.ndtwin_kernel ?? data.ndtwin_server ?? 'http://127.0.0.1:8000';
  const at = (key: string) => ['Recorder', 'data', key];
  const kernelKey = data.ndtwin_kernel !== undefined ? 'ndtwin_kernel' : 'ndtwin_server';
  if (typeof kernel !== 'string' || !/^https?:\/\/[^\s/]/.test(kernel)) {
    throw new ConfigError(`${file}: Recorder.data.${kernelKey}: got ${showValue(fromEnv, at(kernelKey), redactUrlsIn(JSON.stringify(kernel)))}; expected the kernel's http:// URL, e.g. ${kernelKey}: "http://127.0.0.1:8000"`);
  }
  const seconds = positiveNumber(data.request_interval ?? 5, at('request_interval'), 'seconds', file, fromEnv);
  const minutes = positiveNumber(data.storage_interval ?? 2, at('storage_interval'), 'minutes', file, fromEnv);
  const levelText = String(data.log_level ?? 'DEBUG').toUpperCase();
  const level = LEVELS[levelText];
  if (!level) throw new ConfigError(`${file}: Recorder.data.log_level: got ${showValue(fromEnv, at('log_level'), JSON.stringify(data.log_level))}; expected one of TRACE, DEBUG, INFO, WARNING, ERROR`);
  const warnings: string[] = [];
  let intervalMs = Math.round(seconds * 1000);
  if (intervalMs < MIN_INTERVAL_MS) {
    const asWritten = showValue(fromEnv, at('request_interval'), `${seconds} s`);
    warnings.push(
      `${file}: Recorder.data.request_interval: ${asWritten} is shorter than nsr's shortest interval (${MIN_INTERVAL_MS} ms: a fetch's timeout must be shorter than its interval, in whole milliseconds); recording every ${MIN_INTERVAL_MS} ms with a ${defaultTimeout(MIN_INTERVAL_MS)} ms timeout. ` +
        `The original waited for each answer; here a fetch that takes longer is a missed tick (timeout): write the interval the kernel can answer in (e.g. request_interval: 0.1)`,
    );
    intervalMs = MIN_INTERVAL_MS;
  }
  const windowMs = Math.round(minutes * 60_000);
  if (windowMs < intervalMs) {
    throw new ConfigError(`${file}: Recorder.data.storage_interval: got ${showValue(fromEnv, at('storage_interval'), `${minutes}`)} (minutes${data.storage_interval === undefined ? ', the default' : ''}), shorter than request_interval (${showValue(fromEnv, at('request_interval'), `${seconds} s`)}); a file must hold at least one record, e.g. storage_interval: ${Math.max(1, Math.ceil(intervalMs / 60_000))}`);
  }
  const stream = (dataKind: string) => ({ kind: 'ndtwin', kernel, data: dataKind, interval: `${intervalMs}ms`, timeout: `${defaultTimeout(intervalMs)}ms` });
  return {
    doc: {
      output: { dir: 'recorded_info', window: `${windowMs}ms` },
      log: { level, console: data.display_on_console === undefined ? true : Boolean(data.display_on_console) },
      streams: { flowinfo: stream('flow'), graphinfo: stream('graph') },
    },
    warnings,
  };
}

function positiveNumber(value: unknown, path: string[], unit: string, file: string, fromEnv: EnvValues): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) {
    throw new ConfigError(`${file}: ${path.join('.')}: got ${showValue(fromEnv, path, JSON.stringify(value))}; expected a positive number of ${unit} (e.g. 1 or 0.5)`);
  }
  return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
