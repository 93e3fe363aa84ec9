/**
 * The kernel's Top-K route, `GET /ndt/get_detected_top_k_flow_data?k=N`, which
 * the Network-Traffic-Visualizer calls in its Top-K mode: the detected flows,
 * busiest first, the first k. Replay and the simulator answer it from a flow
 * body (`/ndt/get_detected_flow_data`), as the kernel does from its flow table.
 *
 * The order is the kernel's: `estimated_packet_rate_in_the_proceeding_1sec_timeslot`,
 * descending (FlowLinkUsageCollector::getTopKFlowInfoJson; the kernel's own
 * answer in fixtures/ndtwin/get_detected_top_k_flow_data.json is in that order
 * and in no other rate's). Works on bytes: rates are compared as exact numbers
 * (a uint64 above 2^53 is not rounded) and each flow is copied as it was sent.
 */
import { elementSpans, memberSpan, type Span } from '../../json/json-spans.js';
import { NDTWIN_ENDPOINTS } from './ndtwin-endpoints.js';

export const TOP_K_PATH = NDTWIN_ENDPOINTS.top_k_flow.path;
/** The flow field the kernel sorts on. */
export const TOP_K_ORDER_FIELD = 'estimated_packet_rate_in_the_proceeding_1sec_timeslot';
/** The kernel's k when the request gives none. */
export const TOP_K_DEFAULT = 50;

export type TopKRequest = { k: number } | { error: Buffer };

/**
 * The k of a request on the Top-K route, or undefined when the target is
 * another route. k must be a whole number of flows, 0 or more; without k the
 * kernel's default (50) applies. Anything else gets a 400 body in the kernel's
 * error shape ({"details":…,"error":…}) that says what to send instead.
 */
export function topKRequest(target: string): TopKRequest | undefined {
  const q = target.indexOf('?');
  if ((q < 0 ? target : target.slice(0, q)) !== TOP_K_PATH) return undefined;
  const raw = new URLSearchParams(q < 0 ? '' : target.slice(q + 1)).get('k');
  if (raw === null) return { k: TOP_K_DEFAULT };
  if (/^\d+$/.test(raw)) return { k: Number(raw) };
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  const details = `k: got ${JSON.stringify(shown)}; expected a whole number of flows, 0 or more, e.g. ${TOP_K_PATH}?k=10`;
  return { error: Buffer.from(JSON.stringify({ details, error: 'Bad Request' })) };
}

/**
 * The first k flows of a flow array body, largest TOP_K_ORDER_FIELD first, as
 * a JSON array of the flows' bytes. Flows of equal rate keep their order;
 * a flow without a numeric rate goes last. Throws when the body is not an array.
 */
export function topKFlows(body: Buffer, k: number): Buffer {
  let start = 0;
  while (start < body.length && (body[start] === 0x20 || body[start] === 0x0a || body[start] === 0x0d || body[start] === 0x09)) start++;
  if (body[start] !== 0x5b /* [ */) throw new Error(`the flow body is not a JSON array: ${body.subarray(start, start + 40).toString('utf8')}`);
  const flows = elementSpans(body, { start, end: body.length }).map((span, i) => ({ span, i, rate: rateOf(body, span) }));
  // Array.prototype.sort is stable; BigInt and Number compare exactly with each other.
  flows.sort((a, b) => (a.rate > b.rate ? -1 : a.rate < b.rate ? 1 : 0));
  const parts: Buffer[] = [Buffer.from('[')];
  for (let n = 0; n < flows.length && n < k; n++) {
    if (n > 0) parts.push(Buffer.from(','));
    parts.push(body.subarray(flows[n].span.start, flows[n].span.end));
  }
  parts.push(Buffer.from(']'));
  return Buffer.concat(parts);
}

/** The flow's rate as an exact number: a BigInt for an integer, else a Number; -Infinity when missing. */
function rateOf(body: Buffer, flow: Span): bigint | number {
  const element = body.subarray(flow.start, flow.end);
  const value = memberSpan(element, TOP_K_ORDER_FIELD);
  if (!value) return -Infinity;
  const text = element.subarray(value.start, value.end).toString('latin1');
  if (/^-?\d+$/.test(text)) return BigInt(text);
  const n = Number(text);
  return Number.isNaN(n) || text.trim() === '' ? -Infinity : n;
}
