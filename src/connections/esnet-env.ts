/**
 * The ESnet Netbeam collector's broker settings (`amqp: {from_env: esnet}`):
 * RMQ_USER, RMQ_PASS, RMQ_HOST, RMQ_VHOST, RMQ_EXCHANGE, RMQ_INTERFACE_KEY,
 * RMQ_TRAFFIC_KEY, from the environment or from a `.env` file, as the
 * original read them with python-dotenv (the environment wins over the file).
 * The file may also spell them as its README did (`rmq-user = …`, under a
 * `[rabbitmq]` line). Only these names are read from the file; the password
 * is never printed.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/errors.js';

export const ESNET_ENV = ['RMQ_USER', 'RMQ_PASS', 'RMQ_HOST', 'RMQ_VHOST', 'RMQ_EXCHANGE', 'RMQ_INTERFACE_KEY', 'RMQ_TRAFFIC_KEY'] as const;
type EsnetName = (typeof ESNET_ENV)[number];

export interface EsnetBroker {
  /** amqp://user@host[:port]/vhost, without the password. */
  url: string;
  password: string;
  exchange: string;
  routingKeys: { interfaces: string; traffic: string };
  /** Where each value came from, for the start event: `env`, the file's name, or `default`. */
  sources: Record<string, string>;
}

/** `KEY=value` lines (dotenv syntax: `export`, quotes, `#` comments; `[section]` lines skipped). */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || /^\[.*\]$/.test(line)) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2].replace(/\\n/g, '\n').replace(/\\"/g, '"') : quoted[2];
    else value = value.replace(/\s+#.*$/, '').trim();
    out.set(m[1], value);
  }
  return out;
}

/** The broker as the original's variables describe it; `where` names the setting in errors. */
export function esnetBroker(env: Record<string, string | undefined>, envFile: string | undefined, where: string): EsnetBroker {
  let file = new Map<string, string>();
  if (envFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(envFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`${where}.env_file: cannot read ${envFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give the path of the original collector's .env (relative to the working directory), or leave env_file out to read the environment only`);
    }
    file = parseEnvFile(text);
  }
  const sources: Record<string, string> = {};
  const get = (name: EsnetName, fallback?: string): string | undefined => {
    const dashed = name.toLowerCase().replace(/_/g, '-');
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return (sources[name] = 'env'), fromEnv;
    const inFile = file.get(name) ?? file.get(dashed);
    if (inFile !== undefined && inFile !== '') return (sources[name] = envFile!), inFile;
    if (fallback !== undefined) return (sources[name] = 'default'), fallback;
    return undefined;
  };
  const need = (name: EsnetName): string => {
    const v = get(name);
    if (v === undefined) throw new ConfigError(`${where}.from_env: esnet, but ${name} is not set (looked in the environment${envFile ? ` and in ${envFile}` : ''}); set it as the original collector had it (e.g. ${name}=${EXAMPLES[name]})${envFile ? '' : ', or name its .env with env_file:'}`);
    return v;
  };
  const user = need('RMQ_USER');
  const password = need('RMQ_PASS');
  const host = need('RMQ_HOST');
  const vhost = get('RMQ_VHOST', '/')!;
  const exchange = need('RMQ_EXCHANGE');
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(host)) {
    throw new ConfigError(`${where}.from_env: RMQ_HOST is "${host}"; expected a host name or address, optionally with :port (e.g. rabbit.example.net or 127.0.0.1:5672), no scheme or path`);
  }
  const u = new URL(`amqp://${host}/`);
  u.username = encodeURIComponent(user);
  // pika's vhost "/" is amqplib's path "/" too; any other vhost is the path, escaped.
  u.pathname = vhost === '/' ? '/' : `/${encodeURIComponent(vhost)}`;
  return {
    url: u.toString(),
    password,
    exchange,
    routingKeys: { interfaces: get('RMQ_INTERFACE_KEY', 'esnet_interfaces')!, traffic: get('RMQ_TRAFFIC_KEY', 'esnet_traffic')! },
    sources,
  };
}

const EXAMPLES: Record<EsnetName, string> = {
  RMQ_USER: 'esnet-data',
  RMQ_PASS: '…',
  RMQ_HOST: 'rabbit.example.net',
  RMQ_VHOST: '/',
  RMQ_EXCHANGE: 'osg.psdata.raw',
  RMQ_INTERFACE_KEY: 'esnet_interfaces',
  RMQ_TRAFFIC_KEY: 'esnet_traffic',
};
