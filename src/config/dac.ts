/**
 * DAC's `collector.ini` (the async URL collector nsr replaces), read with
 * DAC's meaning and turned into nsr's configuration: one probe stream over
 * DAC's own `<schema>.urls` table (read again at every refresh) whose results
 * also go into `<schema>.stats`, so a DAC database needs no change.
 *
 *   [application] default_timeout_sec  the timeout of 1-second targets (DAC's
 *                                       timeout is the interval less 1 s otherwise)
 *                 maxretries           DAC retried handing a result to its full
 *                                       internal queue; nsr's queues wait instead
 *                                       of dropping: read and checked, no effect
 *                 targets_refresh_sec  (nsr only) how often urls is read again; 60
 *   [database]    user, password, host, port (5432), dbname, schema
 *                 password_file        (nsr only) instead of password
 *   [logging]     verbose              DEBUG, INFO, WARNING, ERROR, CRITICAL
 *                 logfilename          log.file (relative to the working directory)
 *                 logfile_size         bytes (Python's RotatingFileHandler maxBytes)
 *                 log_history          rotated files kept (backupCount); as in
 *                                       Python, 0 here or in logfile_size: never rotated
 *
 * `nsr run -t M` is DAC's -t (probes in flight, default 2 as DAC's tasks);
 * `-p N` runs N shards (cli/dac-shards.ts); each keeps its windows in
 * recorded_info/shard-k-of-N. See README "Coming from DAC".
 */
import { ConfigError } from './errors.js';
import { iniSection, parseIni, type IniSection } from './ini.js';
import type { Shard } from '../sources/probe/probe-targets.js';

/** What the command line adds to the file: DAC's -t, and this process's shard under -p. */
export interface DacRunOptions {
  tasks?: number;
  shard?: Shard;
}

let runOptions: DacRunOptions = {};

/** Set by `nsr run` before loading, and kept for reloads (SIGHUP reads the file again). */
export function setDacRunOptions(opts: DacRunOptions): void {
  runOptions = opts;
}

/** DAC's default number of tasks per collector process. */
export const DAC_DEFAULT_TASKS = 2;

/** The probe stream a DAC file becomes. */
export const DAC_STREAM = 'urls';

/** A DAC file: named *.ini, or its first line that says anything is an INI section header and it has [database]. */
export function isDacIni(text: string, file: string): boolean {
  if (/\.ini$/i.test(file)) return true;
  const first = text.split(/\r?\n/).find((l) => !/^\s*([#;].*)?$/.test(l));
  return first !== undefined && /^\[[A-Za-z_]+\]\s*$/.test(first) && /^\[database\]\s*$/m.test(text);
}

const LEVELS: Record<string, string> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', WARN: 'warn', ERROR: 'error', CRITICAL: 'fatal', FATAL: 'fatal' };

const KNOWN: Record<string, string[]> = {
  application: ['default_timeout_sec', 'maxretries', 'targets_refresh_sec'],
  database: ['user', 'password', 'password_file', 'host', 'port', 'dbname', 'schema'],
  logging: ['verbose', 'logfilename', 'logfile_size', 'log_history'],
};

export function convertDacIni(text: string, file: string, env: NodeJS.ProcessEnv): { doc: Record<string, unknown>; warnings: string[] } {
  const ini = parseIni(text, file);
  const warnings: string[] = [];
  const section = (name: string) => {
    const s = iniSection(ini, name, file);
    if (!s) throw new ConfigError(`${file}: no [${name}] section; DAC's collector.ini has [application], [database] and [logging] (see README "Coming from DAC")`);
    return s;
  };
  const app = section('application');
  const db = section('database');
  const logging = section('logging');
  for (const [name, s] of [['application', app], ['database', db], ['logging', logging]] as const) {
    for (const key of s.keys()) if (!KNOWN[name].includes(key) && !ini.get('DEFAULT')?.has(key)) warnings.push(`${file}: [${name}] ${key}: not a setting nsr (or DAC) reads; it is ignored (the ones read: ${KNOWN[name].join(', ')})`);
  }
  const need = (s: IniSection, name: string, key: string, example: string) => {
    const v = s.get(key);
    if (v === undefined || v === '') throw new ConfigError(`${file}: [${name}] ${key}: missing; DAC needs it too, e.g. ${key} = ${example}`);
    return v;
  };
  const whole = (s: IniSection, name: string, key: string, min: number, what: string, example: string, fallback?: number) => {
    const v = s.get(key);
    if ((v === undefined || v === '') && fallback !== undefined) return fallback;
    const text = need(s, name, key, example);
    if (!/^[+-]?\d+$/.test(text) || Number(text) < min) throw new ConfigError(`${file}: [${name}] ${key}: got ${JSON.stringify(text)}; expected ${what} (a whole number${min > 0 ? ` of at least ${min}` : ', 0 or more'}), e.g. ${key} = ${example}`);
    return Number(text);
  };

  const timeoutSec = whole(app, 'application', 'default_timeout_sec', 1, 'the timeout in seconds', '4');
  whole(app, 'application', 'maxretries', 0, 'a count', '10');
  const refreshSec = whole(app, 'application', 'targets_refresh_sec', 1, 'how often the urls table is read again, in seconds', '60', 60);

  const user = need(db, 'database', 'user', 'dac');
  const host = need(db, 'database', 'host', 'localhost');
  const dbname = need(db, 'database', 'dbname', 'postgres');
  const port = whole(db, 'database', 'port', 1, 'the PostgreSQL port', '5432', 5432);
  if (port > 65535) throw new ConfigError(`${file}: [database] port: got "${port}"; expected a TCP port (1-65535), e.g. port = 5432`);
  const schemaText = need(db, 'database', 'schema', 'public');
  // DAC put the schema into its SQL unquoted: PostgreSQL folds it to lower case, and so does nsr.
  if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(schemaText)) throw new ConfigError(`${file}: [database] schema: got ${JSON.stringify(schemaText)}; expected a plain schema name (letters, digits, _), e.g. schema = public`);
  const schema = schemaText.toLowerCase();
  const postgres: Record<string, unknown> = { url: `postgres://${encodeURIComponent(user)}@${host.includes(':') ? `[${host}]` : host}:${port}/${encodeURIComponent(dbname)}` };
  const password = db.get('password');
  const passwordFile = db.get('password_file');
  if (password && passwordFile) throw new ConfigError(`${file}: [database] both password and password_file are set; keep one (password_file, so that the password is not in this file)`);
  if (passwordFile) postgres.password_file = passwordFile;
  else if (password) {
    postgres.password = password;
    warnings.push(`${file}: [database] password: the password is written in this file; nsr uses it as DAC did, but it is safer elsewhere: remove it and set PGPASSWORD in nsr's environment, or write it into a file only nsr's user can read and set password_file = /path/to/that/file in [database]`);
  } else if (env.PGPASSWORD) postgres.password = env.PGPASSWORD;

  const levelText = need(logging, 'logging', 'verbose', 'INFO');
  const level = LEVELS[levelText.toUpperCase()];
  if (!level) throw new ConfigError(`${file}: [logging] verbose: got ${JSON.stringify(levelText)}; expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL (Python's logging levels), e.g. verbose = INFO`);
  const logFile = need(logging, 'logging', 'logfilename', 'logs/collection.log');
  const maxBytes = whole(logging, 'logging', 'logfile_size', 0, 'the size in bytes at which the log file is rotated (0: never)', '5242880');
  const history = whole(logging, 'logging', 'log_history', 0, 'how many rotated log files are kept', '3');
  // Python's RotatingFileHandler never rotates when either is 0: the file grows.
  const rotates = maxBytes > 0 && history > 0;

  const shard = runOptions.shard;
  const windowMs = Math.max(300_000, (timeoutSec + 1) * 1000);
  return {
    doc: {
      output: { dir: shard ? `recorded_info/shard-${shard.k}-of-${shard.n}` : 'recorded_info', window: `${windowMs}ms` },
      log: { level, file: logFile, ...(rotates ? { max_size: maxBytes } : {}), keep: rotates ? history : 0 },
      postgres,
      streams: {
        [DAC_STREAM]: {
          kind: 'probe',
          targets_table: `${schema}.urls`,
          targets_format: 'dac',
          dac_stats: `${schema}.stats`,
          // The stream's interval is no target's (each row has its own): it only lets the timeout of 1-second targets be DAC's default.
          interval: `${timeoutSec + 1}s`,
          timeout: `${timeoutSec}s`,
          refresh: `${refreshSec}s`,
          concurrency: runOptions.tasks ?? DAC_DEFAULT_TASKS,
          // DAC matched the whole body; nsr matches at most the first 1 MB (the time a match takes is linear in it).
          match_bytes: 1024 * 1024,
        },
      },
    },
    warnings,
  };
}
