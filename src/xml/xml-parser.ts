/**
 * A small XML parser for machine-written replies (NETCONF `<rpc-reply>`
 * documents): elements, attributes, text, the five predefined entities and
 * numeric character references, CDATA, comments, processing instructions and
 * the `<?xml?>` declaration. It builds a plain tree and nothing else.
 *
 * Deliberately not supported: DTDs. A `<!DOCTYPE` is rejected outright, so no
 * entity can be declared and none expanded (no "billion laughs", no external
 * entities). Namespaces are not resolved: names stay as written (`junos:format`),
 * and `xmlns` declarations are ordinary attributes, as the Junos JSON rendering
 * shows them.
 *
 * Chosen over fast-xml-parser and txml by measurement (BENCHMARKS.md, section 13): on
 * Junos replies it converts faster, refuses DOCTYPE, mismatched and truncated
 * input where they did not, and needs no dependency.
 */

export interface XmlElement {
  name: string;
  /** In document order; names as written, prefixes kept. */
  attributes: [string, string][];
  /** Elements and text pieces (CDATA included), in document order. */
  children: (XmlElement | string)[];
}

export interface XmlParseOptions {
  /** Elements nested deeper than this are an error (a bound on the tree, not on the input size). */
  maxDepth?: number;
}

export const DEFAULT_MAX_DEPTH = 64;

/** The reason a document was refused, with where (1-based line and column, 0-based offset). */
export class XmlSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
    readonly offset: number,
  ) {
    super(`XML line ${line}, column ${column} (offset ${offset}): ${reason}`);
    this.name = 'XmlSyntaxError';
  }
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
// Characters that end a name; a name is anything else (Junos names are ASCII; the rest is not checked further).
const endsName = (c: number) => isSpace(c) || c === 0x2f /* / */ || c === 0x3e /* > */ || c === 0x3d /* = */ || c === 0x3c /* < */ || Number.isNaN(c);

/** Parses one document; its single root element, with everything under it. */
export function parseXml(text: string, options: XmlParseOptions = {}): XmlElement {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const n = text.length;

  const fail = (reason: string, at: number): never => {
    let line = 1;
    let lineStart = 0;
    for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    throw new XmlSyntaxError(reason, line, at - lineStart + 1, at);
  };

  // Entities and character references in `s`, which starts at offset `at` of the document (for errors).
  const decode = (s: string, at: number): string => {
    let amp = s.indexOf('&');
    if (amp === -1) return s;
    let out = '';
    let i = 0;
    for (; amp !== -1; amp = s.indexOf('&', i)) {
      out += s.slice(i, amp);
      const semi = s.indexOf(';', amp);
      if (semi === -1 || semi - amp > 12) fail('an "&" that does not start a reference (write &amp;)', at + amp);
      const ref = s.slice(amp + 1, semi);
      if (ref.charCodeAt(0) === 0x23 /* # */) {
        const code = /^#x[0-9a-fA-F]+$/.test(ref) ? parseInt(ref.slice(2), 16) : /^#\d+$/.test(ref) ? parseInt(ref.slice(1), 10) : NaN;
        // XML 1.0 Char: tab, LF, CR, and everything from space up except surrogates and FFFE/FFFF.
        const allowed = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
        if (!allowed) fail(`character reference &${ref}; is not an XML character`, at + amp);
        out += String.fromCodePoint(code);
      } else {
        const v = PREDEFINED[ref];
        if (v === undefined) fail(`unknown entity &${ref}; (no DTD: only &lt; &gt; &amp; &quot; &apos; and numeric references)`, at + amp);
        out += v;
      }
      i = semi + 1;
    }
    return out + s.slice(i);
  };
  // XML reads CR LF and lone CR as LF (section 2.11), before references are expanded (so &#13; stays a CR);
  // attribute values also turn literal tabs and newlines into spaces (3.3.3).
  const textAt = (from: number, to: number) => {
    const raw = text.slice(from, to);
    return decode(raw.includes('\r') ? raw.replace(/\r\n?/g, '\n') : raw, from);
  };
  const attrAt = (from: number, to: number) => {
    const raw = text.slice(from, to);
    return decode(/[\t\n\r]/.test(raw) ? raw.replace(/\r\n|[\t\n\r]/g, ' ') : raw, from);
  };

  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // a byte-order mark

  while (i < n) {
    const lt = text.indexOf('<', i);
    const end = lt === -1 ? n : lt;
    if (end > i) {
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(textAt(i, end));
      else for (let k = i; k < end; k++) if (!isSpace(text.charCodeAt(k))) fail(root ? 'text after the root element' : 'text before the root element', k);
    }
    if (lt === -1) break;
    const c = text.charCodeAt(lt + 1);
    if (c === 0x2f /* </ */) {
      const close = text.indexOf('>', lt);
      if (close === -1) fail('unterminated end tag', lt);
      const name = text.slice(lt + 2, close).trimEnd();
      const open = stack.pop();
      if (!open) fail(`end tag </${name}> with no element open`, lt);
      else if (open.name !== name) fail(`end tag </${name}> does not match <${open.name}>`, lt);
      i = close + 1;
    } else if (c === 0x3f /* <? */) {
      const close = text.indexOf('?>', lt + 2);
      if (close === -1) fail('unterminated processing instruction', lt);
      const target = /^[^\s?]*/.exec(text.slice(lt + 2, close))![0];
      if (target.toLowerCase() === 'xml') {
        if (lt !== (text.charCodeAt(0) === 0xfeff ? 1 : 0)) fail('the XML declaration must be at the start of the document', lt);
        const enc = /\bencoding\s*=\s*["']([^"']*)["']/.exec(text.slice(lt, close))?.[1];
        // The text was decoded as UTF-8 (or was a string already); another declared encoding would be misread.
        if (enc && !/^(utf-?8|us-ascii)$/i.test(enc)) fail(`encoding "${enc}" is not supported (UTF-8 only)`, lt);
      }
      i = close + 2;
    } else if (c === 0x21 /* <! */) {
      if (text.startsWith('<!--', lt)) {
        const close = text.indexOf('-->', lt + 4);
        if (close === -1) fail('unterminated comment', lt);
        i = close + 3;
      } else if (text.startsWith('<![CDATA[', lt)) {
        const close = text.indexOf(']]>', lt + 9);
        if (close === -1) fail('unterminated CDATA section', lt);
        const parent = stack[stack.length - 1];
        if (!parent) fail('CDATA outside the root element', lt);
        parent.children.push(text.slice(lt + 9, close).replace(/\r\n?/g, '\n'));
        i = close + 3;
      } else if (text.startsWith('<!DOCTYPE', lt)) {
        fail('DOCTYPE is not accepted (no DTDs, so no entity expansion)', lt);
      } else {
        fail('unexpected "<!"', lt);
      }
    } else {
      // A start tag: name, attributes, then `>` or `/>`.
      let k = lt + 1;
      while (!endsName(text.charCodeAt(k))) k++;
      const name = text.slice(lt + 1, k);
      if (name === '') fail('"<" not followed by a name', lt);
      if (root && stack.length === 0) fail(`a second root element <${name}>`, lt);
      if (stack.length >= maxDepth) fail(`elements nested deeper than ${maxDepth}`, lt);
      const el: XmlElement = { name, attributes: [], children: [] };
      let selfClosing = false;
      let names: Set<string> | undefined; // past a few attributes only: until then a scan is cheaper
      for (;;) {
        const spaced = k;
        while (isSpace(text.charCodeAt(k))) k++;
        const ch = text.charCodeAt(k);
        if (ch === 0x3e /* > */) {
          k++;
          break;
        }
        if (ch === 0x2f /* / */ && text.charCodeAt(k + 1) === 0x3e) {
          selfClosing = true;
          k += 2;
          break;
        }
        if (k >= n) fail(`unterminated start tag <${name}>`, lt);
        if (k === spaced) fail(`expected a space, ">" or "/>" in <${name}>`, k);
        const a = k;
        while (!endsName(text.charCodeAt(k))) k++;
        const attr = text.slice(a, k);
        if (attr === '') fail(`unexpected character in <${name}>`, k);
        while (isSpace(text.charCodeAt(k))) k++;
        if (text.charCodeAt(k) !== 0x3d /* = */) fail(`attribute ${attr} has no value`, k);
        k++;
        while (isSpace(text.charCodeAt(k))) k++;
        const q = text.charCodeAt(k);
        if (q !== 0x22 && q !== 0x27) fail(`attribute ${attr}: the value must be quoted`, k);
        const close = text.indexOf(q === 0x22 ? '"' : "'", k + 1);
        if (close === -1) fail(`attribute ${attr}: unterminated value`, k);
        // Both checks stay within this attribute: a search past the value, or a
        // comparison with every earlier name, is quadratic in a hostile tag.
        const lessThan = text.slice(k + 1, close).indexOf('<');
        if (lessThan !== -1) fail(`attribute ${attr}: "<" in a value`, k + 1 + lessThan);
        if (el.attributes.length < 8 ? el.attributes.some(([seen]) => seen === attr) : (names ??= new Set(el.attributes.map(([seen]) => seen))).has(attr)) fail(`attribute ${attr} given twice`, a);
        names?.add(attr);
        el.attributes.push([attr, attrAt(k + 1, close)]);
        k = close + 1;
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else root = el;
      if (!selfClosing) stack.push(el);
      i = k;
    }
  }
  if (stack.length) fail(`<${stack[stack.length - 1].name}> is not closed`, n);
  if (!root) fail('no root element', n);
  return root!;
}
