/**
 * Schema validation issues as messages for a person: each names the key as
 * written (its path), the value (never a secret's, never one that came from
 * the environment), what is expected and a fix that works as written
 * (`e.g. retries: 2`). zod's own texts ("expected number", a raw regex) say
 * what failed, not what to write.
 */
import type { z } from 'zod';
import { SOURCE_KINDS } from '../sources/registry.js';
import { redactUrlsIn } from '../sources/common/redact.js';
import { describeEnvValue, pathKey, type EnvValues } from './env-substitution.js';
import { SIZE_EXPECTED } from './schema-types.js';
import { suggestSize } from './duration.js';

type Path = readonly PropertyKey[];

export function formatIssues(issues: z.core.$ZodIssue[], file: string, schema: z.ZodType, doc: unknown, fromEnv: EnvValues): string {
  const lines = issues.slice(0, 10).map((issue) => formatIssue(issue, schema, doc, fromEnv));
  const more = issues.length > 10 ? `\n  … and ${issues.length - 10} more` : '';
  return lines.length === 1 ? `${file}: ${lines[0]}` : `${file}: ${issues.length} problems:\n  ${lines.join('\n  ')}${more}`;
}

/** Settings whose value is a secret: never echoed back, even a malformed one. */
const SECRET_KEY = /token|password|secret/i;

/** Where each secret setting's value should come from instead of the file. */
const SECRET_ENV: Record<string, string> = {
  'control.token': 'NSR_CONTROL_TOKEN',
  'postgres.password': 'PGPASSWORD',
  'mysql.password': 'MYSQL_PASSWORD',
  'amqp.password': 'AMQP_PASSWORD',
};

/** The text of an on_window command (a line, or an argument of a list): it may hold a token, and errors reach the events stream (reload_rejected). */
function isCommandText(path: Path): boolean {
  const inside = path[0] === 'output' && path[1] === 'on_window' ? 2 : path[0] === 'streams' && path[2] === 'on_window' ? 3 : -1;
  return inside >= 0 && !['timeout', 'retry', 'concurrency'].includes(String(path[inside]));
}

const STREAMS_EXAMPLE = 'streams:\n    flowinfo: {kind: ndtwin, data: flow}\n    graphinfo: {kind: ndtwin, data: graph}';

function formatIssue(issue: z.core.$ZodIssue, schema: z.ZodType, doc: unknown, fromEnv: EnvValues): string {
  const path = issue.path.length ? issue.path.join('.') : '(top level)';
  const key = String(issue.path[issue.path.length - 1] ?? '');
  const input = (issue as { input?: unknown }).input;
  const written = fromEnv.get(pathKey(issue.path));
  const secret = SECRET_KEY.test(key);
  // What the message may say of the value: a secret's kind only; one from the environment by its name.
  const got =
    written !== undefined
      ? describeEnvValue(written)
      : secret
        ? `${kindOf(input)} (not shown: it is a secret)`
        : typeof input === 'string' && input !== '' && isCommandText(issue.path)
          ? 'a string (not shown: a command line may hold a secret)'
          : describe(input);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
      return `${path}: unknown key${issue.keys.length > 1 ? 's' : ''} ${keys}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling (the JSON Schema in setting/recorder.schema.json lists every key)`;
    }
    case 'invalid_union': {
      const meant = meantIssue(issue);
      if (meant) return formatIssue(meant, schema, doc, fromEnv);
      // A stream whose `kind` is missing or unknown (zod puts the issue at streams.<name>.kind).
      if (issue.path[0] === 'streams' && (issue.path.length === 2 || (issue.path.length === 3 && issue.path[2] === 'kind'))) {
        const stream = `streams.${String(issue.path[1])}`;
        const known = Object.keys(SOURCE_KINDS).join(', ');
        const kind = input && typeof input === 'object' ? (input as Record<string, unknown>).kind : input;
        if (kind === undefined) return `${stream}: the stream has no \`kind\`; expected one of ${known}`;
        const kindWritten = fromEnv.get(pathKey([...issue.path.slice(0, 2), 'kind']));
        return `${stream}.kind: unknown stream kind ${kindWritten !== undefined ? describeEnvValue(kindWritten) : JSON.stringify(kind)}; expected one of ${known}`;
      }
      if (input === undefined) return `${path}: missing; ${expectation(issue.message)}`;
      return `${path}: got ${got}; ${expectation(issue.message)}`;
    }
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? issue.message;
      return `${path}: ${inner}`;
    }
    case 'invalid_type': {
      // A schema's own wording (`expected a mapping of …`) says more than zod's type name.
      if (input === undefined) return `${path}: missing; ${issue.message.startsWith('expected') ? issue.message : `expected ${issue.expected}`}`;
      if (issue.path.length === 1 && issue.path[0] === 'streams') {
        return `streams: got ${describe(input)}; expected a mapping of stream name → stream settings, each stream under its name without a leading "- ", e.g.\n  ${STREAMS_EXAMPLE}`;
      }
      if (secret && issue.expected === 'string') {
        const env = SECRET_ENV[issue.path.join('.')] ?? issue.path.join('_').toUpperCase();
        return `${path}: got ${got}; a ${key} must be a string: quote it (${key}: "…"), or better keep it out of the file: ${key}: "\${${env}}"`;
      }
      // A type's own message ("expected the fetch interval such as 500ms…") already says what to write.
      if (issue.message.startsWith('expected')) return `${path}: got ${got}; ${issue.message}`;
      return `${path}: got ${got}; ${typeFix(issue.expected, key, input, written !== undefined, leafAt(schema, issue.path, doc))}`;
    }
    case 'too_big':
    case 'too_small': {
      const bound = issue.code === 'too_big' ? issue.maximum : issue.minimum;
      const numeric = typeof bound === 'number' && typeof input === 'number' && !issue.message.includes(SIZE_EXPECTED);
      if (!numeric || written !== undefined) return `${path}: got ${got}; ${expectation(issue.message)}`;
      const edge = issue.inclusive ? bound : issue.code === 'too_big' ? bound - 1 : bound + 1;
      const relation = issue.code === 'too_big' ? `at most ${edge} (<=${bound})` : `at least ${edge} (>=${bound})`;
      return `${path}: got ${got}; expected ${relation}, e.g. ${key}: ${edge}`;
    }
    default: {
      if (input === undefined) return `${path}: ${expectation(issue.message)}`;
      const size = issue.message.includes(SIZE_EXPECTED) && written === undefined && typeof input === 'string' ? suggestSize(input) : undefined;
      return `${path}: got ${got}; ${expectation(issue.message)}${size ? `, e.g. ${key}: ${size}` : ''}`;
    }
  }
}

/** An issue on the value's type itself: the value was not meant for that option of a union. */
const TYPE_CODES = ['invalid_type', 'invalid_value', 'invalid_union'];

/**
 * The issue of the one union option a value was meant for: a value that fails
 * inside one option (a mapping with a bad field, a list with a bad element) and
 * on the type of every other is reported as that option's issue
 * (`output.on_window.timeout: …`), not as "no option matched". Undefined when
 * it fails on the type of every option, or inside more than one.
 */
function meantIssue(issue: z.core.$ZodIssueInvalidUnion): z.core.$ZodIssue | undefined {
  const meant = issue.errors.flatMap((errs) => {
    const resolved = errs.map((e) => (e.code === 'invalid_union' && e.path.length === 0 ? (meantIssue(e) ?? e) : e));
    const onType = resolved.some((e) => e.path.length === 0 && TYPE_CODES.includes(e.code));
    return resolved.length > 0 && !onType ? [resolved[0]] : [];
  });
  return meant.length === 1 ? { ...meant[0], path: [...issue.path, ...meant[0].path] } : undefined;
}

/** zod's own wording ("Too big: expected number to be <=9") without its label. */
function expectation(message: string): string {
  return message.replace(/^(Invalid input|Too big|Too small|Invalid string|Invalid option): /, '');
}

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
const TRUE_WORDS = ['yes', 'y', 'on', 'true', '1'];
const FALSE_WORDS = ['no', 'n', 'off', 'false', '0'];

/** What a value of the wrong type should have been, with a fix to copy (unless the value came from the environment). */
function typeFix(expected: string, key: string, input: unknown, fromEnv: boolean, leaf: Leaf): string {
  const text = typeof input === 'string' ? input.trim() : undefined;
  if (expected === 'number' || expected === 'int') {
    const what = `${expected === 'int' || leaf.int ? 'a whole number' : 'a number'}${range(leaf)}`;
    if (fromEnv) return `expected ${what}`;
    if (text !== undefined && text !== '' && Number.isFinite(Number(text))) return `expected ${what}, written without quotes (quotes make it text), e.g. ${key}: ${Number(text)}`;
    const word = text === undefined ? -1 : NUMBER_WORDS.indexOf(text.toLowerCase());
    const example = word >= 0 ? word : typeof input === 'number' ? Math.round(input) : exampleNumber(leaf);
    return `expected ${what}${text !== undefined ? ' in digits' : ''}, e.g. ${key}: ${example}`;
  }
  if (expected === 'boolean') {
    if (fromEnv) return 'expected true or false';
    const lower = text?.toLowerCase() ?? String(input);
    const example = FALSE_WORDS.includes(lower) ? false : TRUE_WORDS.includes(lower) ? true : (leaf.default ?? true);
    return `expected true or false, without quotes (YAML reads yes, on and "true" as text), e.g. ${key}: ${example}`;
  }
  if (expected === 'string' && (typeof input === 'number' || typeof input === 'boolean') && !fromEnv) return `expected text; put it in quotes, e.g. ${key}: "${String(input)}"`;
  if (expected === 'record' || expected === 'object') return `expected a mapping (key: value lines under ${key}:)`;
  if (expected === 'array') return `expected a list (lines starting with "- ")`;
  return `expected ${expected}`;
}

function range(leaf: Leaf): string {
  const { min, max } = leaf;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return '';
}

function exampleNumber(leaf: Leaf): number {
  if (typeof leaf.default === 'number') return leaf.default;
  return Math.min(Math.max(1, leaf.min ?? 1), leaf.max ?? 1);
}

interface Leaf {
  min?: number;
  max?: number;
  int?: boolean;
  default?: unknown;
}

type Def = { type: string; innerType?: z.ZodType; shape?: Record<string, z.ZodType>; valueType?: z.ZodType; element?: z.ZodType; options?: z.ZodType[]; in?: z.ZodType; defaultValue?: unknown };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema of the setting at `path` (the stream's kind picks its options), for its range and default. */
function leafAt(schema: z.ZodType, path: Path, doc: unknown): Leaf {
  let s: z.ZodType | undefined = schema;
  let value: unknown = doc;
  let fallback: unknown;
  const unwrap = () => {
    for (let d = defOf(s!); ; d = defOf(s!)) {
      if (d.type === 'default' || d.type === 'prefault') fallback ??= d.defaultValue;
      if (d.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(d.type)) s = d.innerType;
      else if (d.type === 'pipe' && d.in) s = d.in;
      else return d;
    }
  };
  for (const step of path) {
    const d = unwrap();
    value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[step] : undefined;
    fallback = undefined;
    if (d.type === 'object') s = d.shape?.[String(step)];
    else if (d.type === 'record') s = d.valueType;
    else if (d.type === 'array') s = d.element;
    else return {};
    if (!s) return {};
    const u = unwrap();
    if (u.type === 'union' && u.options) {
      // A stream: the option whose `kind` is the one written.
      const kind = value && typeof value === 'object' ? (value as Record<string, unknown>).kind : undefined;
      s = u.options.find((o) => (defOf(o).shape?.kind as unknown as { _zod?: { def: { values?: unknown[] } } } | undefined)?._zod?.def.values?.includes(kind));
      if (!s) return {};
    }
  }
  unwrap();
  const n = s as unknown as { minValue?: number | null; maxValue?: number | null; isInt?: boolean };
  // z.int()'s own bounds are the safe integers: no range a person wrote.
  const bound = (v: number | null | undefined) => (typeof v === 'number' && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined);
  return {
    min: bound(n.minValue),
    max: bound(n.maxValue),
    int: n.isInt,
    default: fallback,
  };
}

/** A value's kind, for a secret: "a number". */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

/** A value as a message shows it: short, quoted, its URL credentials hidden. */
export function describe(v: unknown): string {
  if (v === null || typeof v === 'object') return kindOf(v);
  const text = redactUrlsIn(JSON.stringify(v) ?? String(v));
  return `${text.length > 60 ? `${text.slice(0, 57)}...` : text} (${kindOf(v)})`;
}
