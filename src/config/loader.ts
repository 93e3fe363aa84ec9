/**
 * Loads the configuration: YAML → environment substitution → legacy conversion →
 * schema validation → cross-field checks → resolved streams. Every error names
 * the file, the path in it, the bad value and what was expected.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { resolveSecret } from './secrets.js';
import { resolvePostgres, type PostgresSettings } from '../connections/postgres-settings.js';
import { resolveMysql, type MysqlSettings } from '../connections/mysql-settings.js';
import { resolveAmqp, type AmqpSettings } from '../connections/amqp-settings.js';
import { convertLegacyConfig, isLegacyConfig } from './legacy.js';
import { configSchema, type ParsedConfig } from './schema.js';
import { formatDuration } from './duration.js';
import { overlayStreams, readRuntimeStreams, runtimeFile, type RuntimeStreams } from './runtime-streams.js';
import { guardRuntimeStreams, runtimeSecretsOf } from './runtime-secrets.js';
import { RESERVED_STREAM_NAMES, streamNameProblem } from './schema-types.js';
import { SOURCE_KINDS } from '../sources/registry.js';
import { isLoopbackHost } from '../control/local-address.js';
import { sinkKinds } from '../sinks/registry.js';
import type { StreamConfig } from './stream-config.js';

import { EVENTS_STREAM } from './defaults.js';
export { DEFAULT_CONFIG_FILE, EVENTS_STREAM } from './defaults.js';

export type { StreamConfig } from './stream-config.js';

export interface ControlConfig {
  enabled: boolean;
  host: string;
  port: number;
  /** The bearer token, from `token` or `token_file`; never logged. */
  token: string | undefined;
  /** More Host names the control server answers to (loopback names and the bound address always). */
  allowedHosts: string[];
}

export interface LoadedConfig {
  file: string;
  legacy: boolean;
  config: ParsedConfig;
  streams: StreamConfig[];
  control: ControlConfig;
  /** The postgres: section with its password resolved; never logged. */
  postgres?: PostgresSettings;
  mysql?: MysqlSettings;
  amqp?: AmqpSettings;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, runtime?: RuntimeStreams): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`config file ${file} not found: create it (setting/recorder.yaml in the nsr repository is a working example) or pass -c FILE`);
    if (code === 'EISDIR') throw new ConfigError(`config file ${file} is a directory: pass the YAML file itself with -c FILE`);
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, file, env, runtime);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, runtimeOverride?: RuntimeStreams): LoadedConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e.linePos ? `${file}:${e.linePos[0].line}:${e.linePos[0].col}` : file;
    throw new ConfigError(`${where}: the file is not valid YAML: ${e.message.split('\n')[0]}${e.code === 'DUPLICATE_KEY' ? ' (each stream name and setting may appear once)' : ''}`);
  }
  let raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) throw new ConfigError(`${file}: the file is empty: it needs at least a \`streams:\` section (see setting/recorder.yaml)`);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: expected a mapping with a \`streams:\` section at the top level, got ${describe(raw)}`);
  raw = substituteEnv(raw, env, file, []);
  const legacy = isLegacyConfig(raw);
  if (legacy) raw = convertLegacyConfig(raw as Record<string, unknown>, file);
  // Streams added or removed at run time (control commands) are laid over the file's.
  const top = raw as Record<string, unknown>;
  const outputDir = (top.output as { dir?: unknown } | undefined)?.dir;
  const runtimeDir = typeof outputDir === 'string' ? outputDir : 'recorded_info';
  const runtime = runtimeOverride ?? readRuntimeStreams(runtimeDir);
  if (Object.keys(runtime.added).length || runtime.removed.length) {
    raw = { ...top, streams: overlayStreams(top.streams, { ...runtime, added: guardedRuntime(runtime, top, env, file, runtimeOverride ? undefined : runtimeFile(runtimeDir)) }) };
  }
  const reserved = reservedStreamNames((raw as Record<string, unknown>).streams);
  if (reserved.length) {
    const problems = reserved.map((n) => `streams.${n}: ${streamNameProblem(n)}`);
    throw new ConfigError(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
  }

  const result = configSchema().safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, file));
  const config = result.data;
  const postgres = resolvePostgres(config.postgres, file);
  const streams = resolveStreams(config, file);
  const amqp = resolveAmqp(config.amqp, file);
  const connections = { postgres, mysql: resolveMysql(config.mysql, file), amqp };
  // What the sinks need of the rest of the file (a connection section), then the archiver's broker.
  const problems = sinkKinds().flatMap((k) => k.check?.(streams, connections) ?? []);
  const withoutBus = streams.filter((s) => s.kind === 'amqp' && !amqp).map((s) => s.name);
  if (withoutBus.length) problems.push(`streams.${withoutBus[0]}: it needs a broker, and there is no amqp: section; add one (url, password: \${AMQP_PASSWORD})`);
  if (problems.length) throw new ConfigError(`${file}: ${problems[0]}`);
  return { file, legacy, config, streams, control: resolveControl(config, file), ...connections };
}

/** Runtime streams may read only the secrets the file allows (runtime-secrets.ts); `kept` names the runtime file they came from. */
function guardedRuntime(runtime: RuntimeStreams, top: Record<string, unknown>, env: NodeJS.ProcessEnv, file: string, kept: string | undefined) {
  try {
    return guardRuntimeStreams(runtime.added, runtimeSecretsOf(top.control), env, file);
  } catch (err) {
    if (err instanceof ConfigError && kept) throw new ConfigError(`${err.message}\n(the stream was added at run time and is kept in ${kept}: allow it as said, or remove it from that file)`);
    throw err;
  }
}

/** Names the schema would drop without a word (zod strips `__proto__`) or confuse with an object's own members. */
function reservedStreamNames(streams: unknown): string[] {
  if (!streams || typeof streams !== 'object' || Array.isArray(streams)) return [];
  return Object.keys(streams).filter((n) => RESERVED_STREAM_NAMES.includes(n));
}

function resolveControl(config: ParsedConfig, file: string): ControlConfig {
  const c = config.control;
  const token = resolveSecret(`${file}: control`, 'token', c.token, c.token_file);
  if (/[\s]/.test(token ?? '')) throw new ConfigError(`${file}: control.token: the token contains whitespace; use a token of letters, digits and punctuation (e.g. openssl rand -hex 32)`);
  if (c.enabled && !token && !isLoopbackHost(c.host)) {
    throw new ConfigError(`${file}: control.host: ${c.host} is not a loopback address, and the control server has no token; set control.token: \${NSR_CONTROL_TOKEN} (or control.token_file), or bind control.host: 127.0.0.1`);
  }
  return { enabled: c.enabled, host: c.host, port: c.port, token, allowedHosts: c.allowed_hosts };
}

function resolveStreams(config: ParsedConfig, file: string): StreamConfig[] {
  const problems: string[] = [];
  const streams: StreamConfig[] = [];
  const names = Object.keys(config.streams);
  if (names.length === 0) problems.push(`streams: no stream is configured; add one, e.g. \`flowinfo: {kind: ndtwin, data: flow}\``);
  const lower = new Map<string, string>();
  for (const name of names) {
    const path = `streams.${name}`;
    const s = config.streams[name] as StreamConfig['options'] & { interval?: number; timeout?: number; window?: number; retries?: number };
    if (name === EVENTS_STREAM) problems.push(`${path}: the name "${EVENTS_STREAM}" is reserved for nsr's own events stream; choose another name`);
    const clash = lower.get(name.toLowerCase());
    if (clash) problems.push(`${path}: the name differs from "${clash}" only in case; file names would collide on case-insensitive disks, choose another name`);
    lower.set(name.toLowerCase(), name);
    const intervalMs = s.interval ?? config.defaults.interval;
    const windowMs = s.window ?? config.output.window;
    const timeoutMs = s.timeout ?? defaultTimeout(intervalMs);
    if (intervalMs <= 0) problems.push(`${path}.interval: got ${formatDuration(intervalMs)}; expected a positive duration such as 1s`);
    if (timeoutMs <= 0) problems.push(`${path}.timeout: got ${formatDuration(timeoutMs)}; expected a positive duration shorter than the interval`);
    else if (timeoutMs >= intervalMs) problems.push(`${path}.timeout: got ${formatDuration(timeoutMs)}, not shorter than the interval (${formatDuration(intervalMs)}); a fetch must end before the next tick, e.g. timeout: ${formatDuration(defaultTimeout(intervalMs))}`);
    if (windowMs < intervalMs) problems.push(`${path}.window: got ${formatDuration(windowMs)}, shorter than the interval (${formatDuration(intervalMs)}); a window must hold at least one record`);
    if (!s.enabled) continue;
    streams.push({ name, kind: s.kind, timing: { intervalMs, timeoutMs, windowMs, retries: s.retries ?? config.defaults.retries }, options: s });
  }
  if (config.output.window <= 0) problems.push(`output.window: expected a positive duration such as 5m`);
  if (config.output.max_window_size > MAX_WINDOW_BYTES) problems.push(`output.max_window_size: got ${config.output.max_window_size} bytes; at most 3GB (a zip entry without zip64 holds under 4 GiB)`);
  if (config.shutdown.grace >= config.shutdown.deadline) problems.push(`shutdown.grace: got ${formatDuration(config.shutdown.grace)}, not shorter than shutdown.deadline (${formatDuration(config.shutdown.deadline)})`);
  if (problems.length > 0) throw new ConfigError(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
  for (const s of streams) if (!SOURCE_KINDS[s.kind]) throw new ConfigError(`${file}: streams.${s.name}.kind: unknown kind ${s.kind}`);
  problems.push(...crossStreamProblems(config, streams));
  if (problems.length > 0) throw new ConfigError(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
  return streams;
}

/** What the kinds check across streams: references to other streams, and extra streams they write. */
function crossStreamProblems(config: ParsedConfig, streams: StreamConfig[]): string[] {
  const problems: string[] = [];
  const all = Object.fromEntries(streams.map((s) => [s.name, { kind: s.kind }]));
  const taken = new Map<string, string>([[EVENTS_STREAM, "nsr's events stream"], ...Object.keys(config.streams).map((n) => [n.toLowerCase(), `stream ${n}`] as [string, string])]);
  for (const s of streams) {
    const kind = SOURCE_KINDS[s.kind];
    problems.push(...(kind.check?.(s.name, s.options, all) ?? []));
    for (const out of kind.outputs?.(s.name, s.options) ?? []) {
      const clash = taken.get(out.toLowerCase());
      if (clash) problems.push(`streams.${s.name}: it also writes stream "${out}", which is taken by ${clash}; rename one (e.g. view_stream: ${s.name}_joined)`);
      taken.set(out.toLowerCase(), `the stream ${s.name} writes`);
    }
  }
  return problems;
}

const MAX_WINDOW_BYTES = 3 * 1024 ** 3;

/** 80% of the interval, leaving the rest for writing before the next tick. */
export function defaultTimeout(intervalMs: number): number {
  return Math.max(1, Math.floor(intervalMs * 0.8));
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** `${NAME}` and `${NAME:-default}` in string values; done after YAML parsing so a value cannot inject YAML. */
function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, file: string, path: (string | number)[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${file}: ${path.join('.')}: the environment variable ${name} is not set; export it (e.g. in the systemd unit's EnvironmentFile) or write \${${name}:-default}`);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, file, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, file, [...path, k])]));
  }
  return value;
}

function formatIssues(issues: z.core.$ZodIssue[], file: string): string {
  const lines = issues.slice(0, 10).map((issue) => formatIssue(issue));
  const more = issues.length > 10 ? `\n  … and ${issues.length - 10} more` : '';
  return lines.length === 1 ? `${file}: ${lines[0]}` : `${file}: ${issues.length} problems:\n  ${lines.join('\n  ')}${more}`;
}

/** Settings whose value is a secret: never echoed back, even a malformed one. */
const SECRET_KEY = /token|password|secret/i;

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length ? issue.path.join('.') : '(top level)';
  const input = SECRET_KEY.test(String(issue.path[issue.path.length - 1])) ? '[redacted]' : (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
      return `${path}: unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling (the JSON Schema in setting/recorder.schema.json lists every key)`;
    }
    case 'invalid_union': {
      if (issue.path[0] === 'streams' && issue.path.length <= 3) {
        const stream = `streams.${String(issue.path[1])}`;
        const known = Object.keys(SOURCE_KINDS).join(', ');
        const kind = input && typeof input === 'object' ? (input as Record<string, unknown>).kind : input;
        if (kind === undefined) return `${stream}: the stream has no \`kind\`; expected one of ${known}`;
        return `${stream}.kind: unknown stream kind ${JSON.stringify(kind)}; expected one of ${known}`;
      }
      return `${path}: ${issue.message}`;
    }
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? issue.message;
      return `${path}: ${inner}`;
    }
    case 'invalid_type':
      if (input === undefined) return `${path}: missing; expected ${issue.expected}`;
      return `${path}: got ${describe(input)}; ${issue.message.startsWith('expected') ? issue.message : `expected ${issue.expected}`}`;
    default:
      return input === undefined ? `${path}: ${issue.message}` : `${path}: got ${describe(input)}; ${issue.message}`;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const text = JSON.stringify(v);
  return `${text.length > 60 ? `${text.slice(0, 57)}...` : text} (a ${typeof v})`;
}
