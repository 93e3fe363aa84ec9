/**
 * Record lines, byte-compatible with the Python NSR (DESIGN 2.1). The body is
 * spliced in verbatim: no parse, no stringify, so uint64 values above 2^53 and
 * floats like `0.0` reach the archive exactly as the upstream sent them.
 */
import type { RecordShape } from '../sources/source.js';

const CLOSE_LINE = Buffer.from("}\n");
const NEWLINE = Buffer.from('\n');

export type RecordEncoder = (timestamp: number, body: Buffer) => Buffer;

/** Builds the encoder once per stream, so the per-record work is one concat. */
export function recordEncoder(shape: RecordShape): RecordEncoder {
  if (shape.mode === 'line') return (_timestamp, body) => Buffer.concat([body, NEWLINE]);
  if (shape.mode === 'wrap') {
    const key = JSON.stringify(shape.key);
    // {"timestamp":<ms>,"<key>":<body>}\n
    return (timestamp, body) => Buffer.concat([Buffer.from(`{"timestamp":${timestamp},${key}:`), body, CLOSE_LINE]);
  }
  // {"timestamp":<ms>,<body without its opening brace>\n — the body is a validated object
  return (timestamp, body) => {
    let i = 1;
    while (i < body.length && isSpace(body[i])) i++;
    if (body[i] === 0x7d /* } */) return Buffer.concat([Buffer.from(`{"timestamp":${timestamp}`), CLOSE_LINE]);
    return Buffer.concat([Buffer.from(`{"timestamp":${timestamp},`), body.subarray(1), Buffer.from('\n')]);
  };
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** Our own JSON records (events): plain objects, timestamp first. */
export function encodeObjectRecord(timestamp: number, fields: Record<string, unknown>): Buffer {
  const rest = JSON.stringify(fields);
  return Buffer.from(rest === '{}' ? `{"timestamp":${timestamp}}\n` : `{"timestamp":${timestamp},${rest.slice(1)}\n`);
}

const TIMESTAMP_PREFIX = /^\{"timestamp":(\d+)[,}]/;

/** Reads the timestamp of a record line without parsing the rest of it. */
export function recordTimestamp(line: Buffer | string): number | undefined {
  const head = typeof line === 'string' ? line.slice(0, 40) : line.subarray(0, 40).toString('latin1');
  const m = TIMESTAMP_PREFIX.exec(head);
  return m ? Number(m[1]) : undefined;
}
