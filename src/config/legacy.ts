/**
 * The Python NSR's `setting/recorder_setting.yaml` (a Nornir inventory host
 * named `Recorder`), converted to nsr's own config with the original semantics:
 * `request_interval` in seconds, `storage_interval` in minutes (both may be
 * fractional, e.g. 0.5), output into ./recorded_info, flowinfo + graphinfo.
 *
 * Missing keys take the defaults of the original's code (network_state_recorder.py,
 * start()): request_interval 1 s, storage_interval 5 minutes, log_level INFO,
 * display_on_console true. (Its shipped recorder_setting.yaml writes 5 s and 2
 * minutes, but those are the file's values, not the defaults.)
 *
 * display_on_console: false is the original's service mode (its start script
 * sets it): nothing on the console, loguru writing `logs/NSR_{time:YYYY-MM-DD}.log`
 * relative to the working directory with `rotation="1 day"` and no retention,
 * so every day's file stays. nsr writes the same names (a file per local day)
 * and deletes none (keep: all).
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

/** The original's defaults, for keys its setting file leaves out. */
export const LEGACY_DEFAULTS = { requestIntervalS: 1, storageIntervalMin: 5, logLevel: 'INFO', displayOnConsole: true, logFile: 'logs/NSR_{date}.log' } as const;

const LEVELS: Record<string, string> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', SUCCESS: 'info', WARNING: 'warn', WARN: 'warn', ERROR: 'error', CRITICAL: 'fatal' };

export interface ConvertedLegacyConfig {
  doc: Record<string, unknown>;
  warnings: string[];
  /** The original's settings as nsr applies them, defaults marked: `nsr check` prints it, `nsr run` logs it. */
  settings: string;
}

export function convertLegacyConfig(doc: Record<string, unknown>, file: string, fromEnv: EnvValues): ConvertedLegacyConfig {
  const recorder = doc.Recorder as Record<string, unknown>;
  const data = (isObject(recorder.data) ? recorder.data : {}) as Record<string, unknown>;
  const kernel = data.ndtwin_kernel ?? data.ndtwin_server ?? 'http://127.0.0.1:8000';
  const at = (key: string) => ['Recorder', 'data', key];
  const kernelKey = data.ndtwin_kernel !== undefined ? 'ndtwin_kernel' : 'ndtwin_server';
  if (typeof kernel !== 'string' || !/^https?:\/\/[^\s/]/.test(kernel)) {
    throw new ConfigError(`${file}: Recorder.data.${kernelKey}: got ${showValue(fromEnv, at(kernelKey), redactUrlsIn(JSON.stringify(kernel)))}; expected the kernel's http:// URL, e.g. ${kernelKey}: "http://127.0.0.1:8000"`);
  }
  const seconds = positiveNumber(data.request_interval ?? LEGACY_DEFAULTS.requestIntervalS, at('request_interval'), 'seconds', file, fromEnv);
  const minutes = positiveNumber(data.storage_interval ?? LEGACY_DEFAULTS.storageIntervalMin, at('storage_interval'), 'minutes', file, fromEnv);
  const levelText = String(data.log_level ?? LEGACY_DEFAULTS.logLevel).toUpperCase();
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
  const log = legacyLog(level, data.display_on_console);
  const given = (key: string, shown: string) => `${key} ${shown}${data[key] === undefined ? ' (default)' : ''}`;
  const settings = [
    given('request_interval', `${seconds} s`),
    given('storage_interval', `${minutes} min`),
    given('log_level', levelText),
    given('display_on_console', `${log.console}`) + (log.console ? ': logging to the console' : `: logging to ${log.file} only`),
  ].join(', ');
  const stream = (dataKind: string) => ({ kind: 'ndtwin', kernel, data: dataKind, interval: `${intervalMs}ms`, timeout: `${defaultTimeout(intervalMs)}ms` });
  return {
    doc: {
      output: { dir: 'recorded_info', window: `${windowMs}ms` },
      log,
      streams: { flowinfo: stream('flow'), graphinfo: stream('graph') },
    },
    warnings,
    settings,
  };
}

/** The original logs to the console, or (display_on_console false, read as Python's truth) only to a file per day. */
function legacyLog(level: string, displayOnConsole: unknown): { level: string; console: boolean; file?: string; keep?: 'all' } {
  const console = displayOnConsole === undefined ? LEGACY_DEFAULTS.displayOnConsole : Boolean(displayOnConsole);
  return console ? { level, console } : { level, console, file: LEGACY_DEFAULTS.logFile, keep: 'all' };
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
