/**
 * A Junos XML reply (NETCONF `<rpc-reply>`, or a REST XML body) turned into the
 * Junos JSON rendering of the same data, so that one view serves both
 * transports (junos-view.ts reads only the JSON form).
 *
 * The rendering, as the device's own JSON replies show it (fixtures/junos/):
 * - every element is an array of objects under its name, repeated elements
 *   appended in document order: `"rt": [{…}, {…}]`;
 * - an element with no child elements is a leaf: `{"data": "text"}`, the text
 *   as written, not trimmed (`"VLAN-Tag [ 0x8100.212 ] "` keeps its trailing
 *   space); an empty one (`<ifdf-present/>`) is `{"data": [null]}`;
 * - attributes go in `attributes` under their written names (`junos:format`);
 *   namespace declarations are attributes too (`xmlns`), as in the JSON form;
 *   on a leaf `attributes` follows `data`, on a container it comes first;
 * - whitespace between child elements (indentation) is dropped. Text mixed with
 *   child elements has no place in the JSON form and Junos does not write it:
 *   it is an error rather than silently lost.
 * The `<rpc-reply>` wrapper (and its attributes: message-id, xmlns) is dropped:
 * its children become the top-level keys (`interface-information`). Any other
 * root is kept as the one top-level key, so a REST body converts the same.
 */
import { parseXml, type XmlElement } from '../../xml/xml-parser.js';

export type JunosJson = Record<string, unknown>;

export interface JunosXmlOptions {
  /** Nesting bound passed to the parser (Junos replies nest about a dozen deep). */
  maxDepth?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The Junos JSON rendering of an XML reply. Throws an Error naming the line and offset when the XML is malformed. */
export function xmlToJunosJson(body: Buffer | Uint8Array | string, options: JunosXmlOptions = {}): JunosJson {
  let text: string;
  if (typeof body === 'string') text = body;
  else {
    try {
      text = utf8.decode(body);
    } catch {
      throw new Error('XML reply is not valid UTF-8');
    }
  }
  const root = parseXml(text, { maxDepth: options.maxDepth });
  const local = root.name.slice(root.name.indexOf(':') + 1);
  if (local === 'rpc-reply') return childrenOf(root, {});
  return { [root.name]: [elementJson(root)] };
}

/** One element as the object inside its array. */
export function elementJson(el: XmlElement): JunosJson {
  const out: JunosJson = {};
  const attributes = el.attributes.length ? Object.fromEntries(el.attributes) : undefined;
  let leaf = true;
  for (const c of el.children)
    if (typeof c !== 'string') {
      leaf = false;
      break;
    }
  if (leaf) {
    const text = el.children.length === 1 ? (el.children[0] as string) : (el.children as string[]).join('');
    out.data = text === '' ? [null] : text;
    if (attributes) out.attributes = attributes;
    return out;
  }
  if (attributes) out.attributes = attributes;
  return childrenOf(el, out);
}

function childrenOf(el: XmlElement, out: JunosJson): JunosJson {
  for (const c of el.children) {
    if (typeof c === 'string') {
      if (c.trim() !== '') throw new Error(`XML element <${el.name}> mixes text (${JSON.stringify(c.trim().slice(0, 40))}) with child elements; the Junos JSON form has no place for it`);
      continue;
    }
    // Assigning `__proto__` would set the object's prototype instead of a key.
    if (c.name === '__proto__') throw new Error('XML element named __proto__ is not accepted');
    // Own keys only: `constructor`, `toString`… would otherwise read Object.prototype's.
    const list = Object.hasOwn(out, c.name) ? (out[c.name] as JunosJson[]) : undefined;
    if (list) list.push(elementJson(c));
    else out[c.name] = [elementJson(c)];
  }
  return out;
}
