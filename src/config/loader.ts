/**
 * Loads the configuration: YAML → environment substitution → legacy conversion →
 * schema validation → cross-field checks → resolved streams. Every error names
 * the file, the path in it, the bad value (never one from the environment: see
 * env-substitution.ts) and what was expected, with a fix (issue-messages.ts).
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
import { convertDacIni, isDacIni } from './dac.js';
import { configSchema, type ParsedConfig } from './schema.js';
import { formatDuration } from './duration.js';
import { pathKey, showValue, substituteEnv, type EnvValues } from './env-substitution.js';
import { describe, formatIssues } from './issue-messages.js';
import { streamTiming, type TimingContext } from './timing.js';
import { overlayStreams, readRuntimeStreams, runtimeFile, type RuntimeStreams } from './runtime-streams.js';
import { checkRuntimeSecrets, runtimeSecretsOf } from './runtime-secrets.js';
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
  /** Read from DAC's collector.ini (dac.ts). */
  dac?: boolean;
  config: ParsedConfig;
  streams: StreamConfig[];
  control: ControlConfig;
  /** The postgres: section with its password resolved; never logged. */
  postgres?: PostgresSettings;
  mysql?: MysqlSettings;
  amqp?: AmqpSettings;
  /** What loads but is not what the file says (a legacy interval nsr cannot keep): `nsr run` logs them, `nsr check` prints them. */
  warnings: string[];
  /** For the original recorder's settings file: the settings in effect, defaults marked. */
  legacySettings?: string;
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

/** YAML aliases (`*name`) expanded at most this many times: more is an alias bomb ("billion laughs"), not a configuration. */
const MAX_ALIAS_COUNT = 100;

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, runtimeOverride?: RuntimeStreams): LoadedConfig {
  if (isDacIni(text, file)) {
    // DAC's collector.ini: its values are the file's own (no ${NAME} substitution, as DAC had none).
    const converted = convertDacIni(text, file, env);
    return resolveConfig(converted.doc, file, new Map(), runtimeOverride, { legacy: false, dac: true, warnings: converted.warnings }, env);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e.linePos ? `${file}:${e.linePos[0].line}:${e.linePos[0].col}` : file;
    throw new ConfigError(`${where}: the file is not valid YAML: ${e.message.split('\n')[0]}${e.code === 'DUPLICATE_KEY' ? ' (each stream name and setting may appear once)' : ''}`);
  }
  let parsed: unknown;
  try {
    parsed = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml throws a ReferenceError when aliases expand too far: a configuration error, not a crash.
    if (/alias/i.test((err as Error).message)) throw new ConfigError(`${file}: the file's YAML aliases (*name) expand too far (more than ${MAX_ALIAS_COUNT} times, or into each other): write the settings out instead of nesting aliases`);
    throw err;
  }
  if (parsed === null || parsed === undefined) throw new ConfigError(`${file}: the file is empty: it needs at least a \`streams:\` section (see setting/recorder.yaml)`);
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${file}: expected a mapping with a \`streams:\` section at the top level, got ${describe(parsed)}`);
  const { value: substituted, fromEnv } = substituteEnv(parsed, env, file);
  let raw = substituted as Record<string, unknown>;
  const legacy = isLegacyConfig(raw);
  const warnings: string[] = [];
  let legacySettings: string | undefined;
  if (legacy) {
    const converted = convertLegacyConfig(raw, file, fromEnv);
    raw = converted.doc;
    warnings.push(...converted.warnings);
    legacySettings = converted.settings;
  }
  return resolveConfig(raw, file, fromEnv, runtimeOverride, { legacy, dac: false, warnings, legacySettings }, env);
}

/** A document in nsr's own shape (written so, or converted from an older tool's file), validated and resolved. */
function resolveConfig(doc: Record<string, unknown>, file: string, fromEnv: Map<string, string>, runtimeOverride: RuntimeStreams | undefined, origin: { legacy: boolean; dac: boolean; warnings: string[]; legacySettings?: string }, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let raw = doc;
  const { legacy, dac, warnings, legacySettings } = origin;
  // Streams added or removed at run time (control commands) are laid over the file's.
  const top = raw as Record<string, unknown>;
  const outputDir = (top.output as { dir?: unknown } | undefined)?.dir;
  const runtimeDir = typeof outputDir === 'string' ? outputDir : 'recorded_info';
  const runtime = runtimeOverride ?? readRuntimeStreams(runtimeDir);
  if (Object.keys(runtime.added).length || runtime.removed.length) {
    guardRuntime(runtime, top, file, runtimeOverride ? undefined : runtimeFile(runtimeDir));
    // Allowed references are substituted as in the file, and remembered the same way: never echoed in an error.
    const added = substituteEnv(runtime.added, env, file, ['streams']);
    for (const [at, written] of added.fromEnv) fromEnv.set(at, written);
    raw = { ...top, streams: overlayStreams(top.streams, { ...runtime, added: added.value as RuntimeStreams['added'] }) };
  }
  const reserved = reservedStreamNames((raw as Record<string, unknown>).streams);
  if (reserved.length) {
    const problems = reserved.map((n) => `streams.${n}: ${streamNameProblem(n)}`);
    throw new ConfigError(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
  }

  const schema = configSchema();
  // jitless: zod would otherwise generate and compile (new Function) a fast path for
  // every object schema it parses, for a parse that runs once per load.
  const result = schema.safeParse(raw, { reportInput: true, jitless: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, file, schema, raw, fromEnv));
  const config = result.data;
  const postgres = resolvePostgres(config.postgres, file);
  const streams = resolveStreams(config, file, { raw, fromEnv });
  const amqp = resolveAmqp(config.amqp, file, env);
  const connections = { postgres, mysql: resolveMysql(config.mysql, file), amqp };
  // What the sinks need of the rest of the file (a connection section), then the archiver's broker.
  const problems = sinkKinds().flatMap((k) => k.check?.(streams, connections) ?? []);
  const withoutBus = streams.filter((s) => s.kind === 'amqp' && !amqp).map((s) => s.name);
  if (withoutBus.length) problems.push(`streams.${withoutBus[0]}: it needs a broker, and there is no amqp: section; add one (url, password: \${AMQP_PASSWORD})`);
  if (problems.length) throw new ConfigError(`${file}: ${problems[0]}`);
  return { file, legacy, dac, config, streams, control: resolveControl(config, file), ...connections, warnings, legacySettings };
}

/** Runtime streams may read only the secrets the file allows (runtime-secrets.ts); `kept` names the runtime file they came from. */
function guardRuntime(runtime: RuntimeStreams, top: Record<string, unknown>, file: string, kept: string | undefined): void {
  try {
    checkRuntimeSecrets(runtime.added, runtimeSecretsOf(top.control), file);
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

/** The file as written (after substitution, before validation), to tell a written setting from a default. */
interface Written {
  raw: Record<string, unknown>;
  fromEnv: EnvValues;
}

function resolveStreams(config: ParsedConfig, file: string, written: Written): StreamConfig[] {
  const problems: string[] = [];
  const streams: StreamConfig[] = [];
  const names = Object.keys(config.streams);
  if (names.length === 0) problems.push(`streams: no stream is configured; add one, e.g. \`flowinfo: {kind: ndtwin, data: flow}\``);
  const show = (path: string[], ms: number) => showValue(written.fromEnv, path, formatDuration(ms));
  const timingContext: TimingContext = {
    defaultIntervalMs: config.defaults.interval,
    defaultWindowMs: config.output.window,
    wrote: (path) => valueAt(written.raw, path) !== undefined,
    fromEnv: (path) => written.fromEnv.has(pathKey(path)),
    show,
  };
  if (config.output.window <= 0) problems.push(`output.window: got ${show(['output', 'window'], config.output.window)}; expected a positive duration, e.g. window: 5m`);
  const lower = new Map<string, string>();
  for (const name of names) {
    const path = `streams.${name}`;
    const s = config.streams[name] as StreamConfig['options'] & { interval?: number; timeout?: number; window?: number; retries?: number };
    if (name === EVENTS_STREAM) problems.push(`${path}: the name "${EVENTS_STREAM}" is reserved for nsr's own events stream; choose another name`);
    const clash = lower.get(name.toLowerCase());
    if (clash) problems.push(`${path}: the name differs from "${clash}" only in case; file names would collide on case-insensitive disks, choose another name`);
    lower.set(name.toLowerCase(), name);
    const { intervalMs, timeoutMs, windowMs, problems: timing } = streamTiming(name, s, timingContext);
    // A problem of an inherited setting (defaults.interval) is said once, not once per stream.
    for (const p of timing) if (!problems.includes(p)) problems.push(p);
    if (!s.enabled) continue;
    streams.push({ name, kind: s.kind, timing: { intervalMs, timeoutMs, windowMs, retries: s.retries ?? config.defaults.retries }, options: s });
  }
  if (config.output.max_window_size > MAX_WINDOW_BYTES) problems.push(`output.max_window_size: got ${showValue(written.fromEnv, ['output', 'max_window_size'], `${config.output.max_window_size} bytes`)}; at most 3GB (a zip entry without zip64 holds under 4 GiB), e.g. max_window_size: 1GB`);
  if (config.shutdown.grace >= config.shutdown.deadline) problems.push(`shutdown.grace: got ${show(['shutdown', 'grace'], config.shutdown.grace)}, not shorter than shutdown.deadline (${show(['shutdown', 'deadline'], config.shutdown.deadline)}); the grace for in-flight fetches is a part of the whole shutdown, e.g. grace: 2s with deadline: 60s`);
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

/** The value at `path` in the file as written; undefined when the file does not set it. */
function valueAt(doc: unknown, path: string[]): unknown {
  let v = doc;
  for (const step of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[step] : undefined;
  return v;
}
