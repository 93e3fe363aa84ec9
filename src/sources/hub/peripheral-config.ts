/**
 * What a peripheral tells of itself (EGG's `/info` reply: `name`, `uuid`,
 * then `key=value` lines up to `EOF`; or a `/config` JSON document) often
 * carries its own API keys: orch.cf, events and /status get it with every
 * secret-looking value replaced, never verbatim.
 */
import { isSecretParam, REDACTED } from '../common/redact.js';

/** At most this much of a peripheral's description is kept. */
const MAX_CONFIG_CHARS = 16 * 1024;

export interface InfoReply {
  name: string;
  uuid: string;
  /** The key=value lines, secrets replaced. */
  config: string;
}

/** Parses an `/info` reply; undefined when it is not one (fewer than two lines, no EOF is fine: EGG accepts that too). */
export function parseInfoReply(text: string): InfoReply | undefined {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const end = lines.indexOf('EOF');
  const body = (end === -1 ? lines : lines.slice(0, end)).filter((l, i) => i < 2 || l.trim() !== '');
  if (body.length < 2) return undefined;
  const name = body[0].trim();
  const uuid = body[1].trim();
  if (!name || !uuid) return undefined;
  return { name, uuid, config: redactKeyValueLines(body.slice(2)) };
}

/** `api_key=abc` → `api_key=***`; other lines as they are. */
export function redactKeyValueLines(lines: readonly string[]): string {
  return lines
    .map((l) => {
      const eq = l.indexOf('=');
      return eq > 0 && isSecretParam(l.slice(0, eq).trim()) ? `${l.slice(0, eq)}=${REDACTED}` : l;
    })
    .join('\n')
    .slice(0, MAX_CONFIG_CHARS);
}

/** A `/config` JSON document with the values of secret-looking keys replaced; text that is not JSON is kept as key=value lines would be. */
export function redactConfigDocument(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return redactKeyValueLines(text.split('\n'));
  }
  return JSON.stringify(redactValue(doc)).slice(0, MAX_CONFIG_CHARS);
}

function redactValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactValue);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, isSecretParam(k) && x !== '' && x !== null ? REDACTED : redactValue(x)]));
}
