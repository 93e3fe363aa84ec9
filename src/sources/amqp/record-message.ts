/**
 * What the archiver accepts from its queue: exactly one record line as a
 * collector publishes it, `{"timestamp":<epoch ms>,…}`, one JSON object with no
 * raw newline (the line is written as it is, so a newline would put a second,
 * forged record into the window), whose timestamp is a time nsr could have
 * recorded (it names the window file: 8640000000000001 made a file named
 * `NaN_NaN…`). Anyone who can publish to the exchange can reach this, so
 * nothing of a refused body is repeated: only why, and where (a byte offset).
 */
import { jsonSyntaxError } from '../../json/json-syntax.js';
import { checkJson, OFF_THREAD_BYTES } from '../../json/json-check.js';

/** The earliest timestamp accepted: 2000-01-01T00:00:00Z. */
export const MIN_RECORD_TIME = Date.UTC(2000, 0, 1);
/** How far past the archiver's clock a timestamp may be (collectors' clocks drift; a day is generous). */
export const FUTURE_SLACK_MS = 24 * 3600_000;

export type RejectReason = 'too_large' | 'newline' | 'not_a_record' | 'timestamp_out_of_range' | 'not_json';

export interface Rejection {
  reason: RejectReason;
  /** What is wrong, without the body's contents. */
  detail: string;
}

// A collector's line: `{"timestamp":` then the integer, then `,` or `}`. JSON forbids leading zeros (the syntax check catches them).
const PREFIX = Buffer.from('{"timestamp":');

/**
 * The checks that need no parse: size, no newline, the record's leading
 * timestamp and its range. Returns the timestamp, or why the message is refused.
 */
export function checkRecordFrame(body: Buffer, maxBytes: number, now: number): number | Rejection {
  if (body.length > maxBytes) return { reason: 'too_large', detail: `${body.length} bytes, more than max_body_size (${maxBytes} bytes)` };
  const nl = body.indexOf(0x0a);
  if (nl !== -1) return { reason: 'newline', detail: `a raw newline at byte ${nl}: a record is one line` };
  if (body.length < PREFIX.length || body.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) !== 0) return { reason: 'not_a_record', detail: 'does not start with {"timestamp":' };
  let i = PREFIX.length;
  while (i < body.length && body[i] >= 0x30 && body[i] <= 0x39) i++;
  const digits = i - PREFIX.length;
  if (digits === 0 || (body[i] !== 0x2c && body[i] !== 0x7d)) return { reason: 'not_a_record', detail: 'the timestamp is not an integer of epoch milliseconds' };
  // 16 digits reach year 318857: anything longer is out of range without parsing it.
  const ts = digits <= 16 ? Number(body.toString('latin1', PREFIX.length, i)) : Infinity;
  if (!(ts >= MIN_RECORD_TIME && ts <= now + FUTURE_SLACK_MS)) {
    return { reason: 'timestamp_out_of_range', detail: `timestamp ${digits <= 16 ? ts : `of ${digits} digits`} is outside 2000-01-01 .. now + 1 day (epoch ms expected)` };
  }
  return ts;
}

/** The JSON syntax check: in place for a small body, on the JSON thread for a large one (the event loop stays free). */
export async function checkRecordJson(body: Buffer): Promise<Rejection | undefined> {
  const error = body.length < OFF_THREAD_BYTES ? jsonSyntaxError(body) : (await checkJson(body)).error;
  if (error === undefined) return undefined;
  // The syntax check says where ("… at byte N"); JSON.parse (checkJson's fallback when its thread died) quotes the text, which is not repeated.
  return { reason: 'not_json', detail: / at byte \d+$/.test(error) ? `not valid JSON: ${error}` : 'not valid JSON' };
}
