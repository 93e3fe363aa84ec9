// The two dynamic fixture bodies (flow array, graph object) as templates: literal chunks
// and value slots, found by plain text processing, never JSON.parse/JSON.stringify, so
// uint64 values above 2^53 and nlohmann's `0.0`-style doubles survive byte for byte.
// The slots are the rates and link usages that change every second (see render.ts) and
// the place of the `"sim_seq":N` marker that lets tests tell which answer a record is.

export type Slot =
  | { kind: 'flowBps'; flow: number; base: number }
  | { kind: 'flowPps'; flow: number; base: number }
  | {
      kind: 'edge';
      edge: number;
      capacity: number;
      usage: number;
      /** text between the left value and the usage value (capacity is constant) */
      mid1: Buffer;
      /** text between the usage value and the utilization percent */
      mid2: Buffer;
    }
  | { kind: 'marker'; before: string; after: string };

export interface Template {
  /** literals.length === slots.length + 1; output = l0 s0 l1 s1 ... ln (UTF-8) */
  literals: Buffer[];
  slots: Slot[];
  /** upper bound of the rendered size in bytes */
  maxBytes: number;
}

interface Cut {
  start: number;
  end: number;
  slot: Slot;
}

function makeTemplate(text: string, cuts: Cut[]): Template {
  cuts.sort((x, y) => x.start - y.start || x.end - y.end);
  const literals: Buffer[] = [];
  const slots: Slot[] = [];
  let maxBytes = 0;
  let last = 0;
  for (const c of cuts) {
    if (c.start < last) throw new Error('internal: overlapping template slots');
    literals.push(Buffer.from(text.slice(last, c.start), 'utf8'));
    slots.push(c.slot);
    const sl = c.slot;
    maxBytes +=
      sl.kind === 'edge' ? 20 + sl.mid1.length + 20 + sl.mid2.length + 32 : sl.kind === 'marker' ? sl.before.length + sl.after.length : 20;
    last = c.end;
  }
  literals.push(Buffer.from(text.slice(last), 'utf8'));
  for (const l of literals) maxBytes += l.length;
  return { literals, slots, maxBytes };
}

export function buildFlowTemplate(text: string): Template {
  const cuts: Cut[] = [];
  const re = /"estimated_(flow_sending_rate_bps|packet_rate)_in_the_last_sec":(\d+)/g;
  let flow = -1;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const base = Number(m[2]);
    if (!Number.isSafeInteger(base)) continue; // keep verbatim
    const start = m.index + m[0].length - m[2]!.length;
    const end = m.index + m[0].length;
    if (m[1] === 'flow_sending_rate_bps') {
      flow++;
      cuts.push({ start, end, slot: { kind: 'flowBps', flow, base } });
    } else {
      cuts.push({ start, end, slot: { kind: 'flowPps', flow: Math.max(flow, 0), base } });
    }
  }
  const mk = findFlowMarkerOffset(text);
  if (mk) cuts.push({ start: mk.offset, end: mk.offset, slot: { kind: 'marker', before: mk.before, after: mk.after } });
  return makeTemplate(text, cuts);
}

export function buildGraphTemplate(text: string): Template {
  const cuts: Cut[] = [];
  const re =
    /"left_link_bandwidth_bps":(\d+),"link_bandwidth_bps":(\d+),"link_bandwidth_usage_bps":(\d+),"link_bandwidth_utilization_percent":([-+.\deE]+|null)/g;
  let edge = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const capacity = Number(m[2]);
    const usage = Number(m[3]);
    if (!Number.isSafeInteger(capacity) || capacity <= 0 || !Number.isSafeInteger(usage)) continue; // keep verbatim
    const leftKey = '"left_link_bandwidth_bps":';
    cuts.push({
      start: m.index + leftKey.length,
      end: m.index + m[0].length,
      slot: {
        kind: 'edge',
        edge: edge++,
        capacity,
        usage: Math.min(usage, capacity),
        mid1: Buffer.from(`,"link_bandwidth_bps":${m[2]!},"link_bandwidth_usage_bps":`, 'latin1'),
        mid2: Buffer.from(',"link_bandwidth_utilization_percent":', 'latin1'),
      },
    });
  }
  // sim_seq goes last in the top-level object: just before the final '}'.
  const close = text.lastIndexOf('}');
  const empty = /^\{\s*\}$/.test(text);
  cuts.push({ start: close, end: close, slot: { kind: 'marker', before: empty ? '' : ',', after: '' } });
  return makeTemplate(text, cuts);
}

/**
 * Where `"sim_seq":N` goes in a flow array: inside the first element (an object), at the
 * sorted key position, i.e. just before the first key that sorts after `sim_seq` (with
 * the kernel's key set that is `"src_ip"`), or before the closing brace if there is none.
 * null when the array is empty or its first element is not an object.
 */
function findFlowMarkerOffset(text: string): { offset: number; before: string; after: string } | null {
  let depth = 0;
  let inString = false;
  let objStart = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      if (depth === 2 && objStart >= 0) {
        // a key or string value inside the first object
        const end = text.indexOf('"', i + 1);
        const word = text.slice(i + 1, end);
        if (text.charCodeAt(end + 1) === 0x3a /* : */ && word > 'sim_seq') {
          return { offset: i, before: '', after: ',' };
        }
      }
      inString = true;
      continue;
    }
    if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (depth === 1 && c === 0x5b) return null;
      depth++;
      if (depth === 2 && c === 0x7b && objStart < 0) objStart = i;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      if (depth === 2 && c === 0x7d && objStart >= 0) {
        // end of the first object without a key sorting after sim_seq
        const empty = i === objStart + 1;
        return { offset: i, before: empty ? '' : ',', after: '' };
      }
      depth--;
      if (depth === 0) return null;
    }
  }
  return null;
}
