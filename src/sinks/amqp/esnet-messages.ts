/**
 * The ESnet Netbeam collector's messages (sand-ci/esnet-collector), derived
 * from nsr's netbeam records, so its consumers (sand-ci/ps-ingest's
 * EsNetInterfaceCollector and EsNetTrafficCollector) read them unchanged:
 *
 *   interfaces: one message per interface, the interface as Netbeam sent it
 *               plus `"timestamp": <ms>` (the snapshot's), under the interface key;
 *   points:     one message per point of every series,
 *               `{"name": <resource>, "recordType": "traffic"|"errors"|"discards",
 *                 "timestamp": <ms>, "in": <n>, "out": <n>}`, under the traffic key.
 *
 * Bodies are written as the original's `json.dumps` wrote them (python-dumps.ts):
 * same members, order, spacing and number types; null points are sent as null,
 * as the original sent them.
 */
import { createHash } from 'node:crypto';
import { elementSpans, kindAt, memberSpan, type Span } from '../../json/json-spans.js';
import { pythonDumps, pythonString } from '../../json/python-dumps.js';

export interface EsnetMessage {
  body: Buffer;
  /** The message id: for a point, ps-ingest's `_id` (sha1 of name, recordType and timestamp), so a consumer can drop one it has. */
  id: string;
}

const text = (b: Buffer, s: Span) => b.toString('utf8', s.start, s.end);

/** `{"timestamp":T,"interfaces":[…]}` → one message per interface object. */
export function interfaceMessages(line: Buffer): { messages: EsnetMessage[]; malformed: number } {
  const ts = memberSpan(line, 'timestamp');
  const list = memberSpan(line, 'interfaces');
  if (!ts || !list || kindAt(line, list) !== 'array') return { messages: [], malformed: 1 };
  const stamp = text(line, ts);
  const messages: EsnetMessage[] = [];
  let malformed = 0;
  for (const el of elementSpans(line, list)) {
    if (kindAt(line, el) !== 'object') {
      malformed++;
      continue;
    }
    // Python's `datum['timestamp'] = …`: replaced in place when the interface has one, else added last.
    const own = memberSpan(line, 'timestamp', el);
    let body: string;
    if (own) body = pythonDumps(text(line, { start: el.start, end: own.start }) + stamp + text(line, { start: own.end, end: el.end }));
    else {
      const rendered = pythonDumps(text(line, el));
      body = rendered === '{}' ? `{"timestamp": ${pythonDumps(stamp)}}` : `${rendered.slice(0, -1)}, "timestamp": ${pythonDumps(stamp)}}`;
    }
    messages.push({ body: Buffer.from(body), id: createHash('md5').update(body).digest('hex') });
  }
  return { messages, malformed };
}

/** A series record (`{"timestamp":…,"resource":…,"series":…,…,"points":[[t,in,out],…]}`) → one message per point. */
export function pointMessages(line: Buffer): { messages: EsnetMessage[]; malformed: number } {
  const resource = memberSpan(line, 'resource');
  const series = memberSpan(line, 'series');
  const points = memberSpan(line, 'points');
  if (!resource || !series || !points || kindAt(line, resource) !== 'string' || kindAt(line, series) !== 'string' || kindAt(line, points) !== 'array') return { messages: [], malformed: 1 };
  const name = JSON.parse(text(line, resource)) as string;
  const recordType = JSON.parse(text(line, series)) as string;
  const head = `{"name": ${pythonString(name)}, "recordType": ${pythonString(recordType)}, "timestamp": `;
  const messages: EsnetMessage[] = [];
  let malformed = 0;
  for (const p of elementSpans(line, points)) {
    const cells = kindAt(line, p) === 'array' ? elementSpans(line, p) : [];
    // The original indexed point[0..2]; a point without them would have stopped its series there.
    if (cells.length < 3) {
      malformed++;
      continue;
    }
    const [t, inn, out] = cells.map((c) => pythonDumps(text(line, c)));
    const body = `${head}${t}, "in": ${inn}, "out": ${out}}`;
    messages.push({ body: Buffer.from(body), id: createHash('sha1').update(name).update(recordType).update(t).digest('hex') });
  }
  return { messages, malformed };
}
