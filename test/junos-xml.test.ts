// NETCONF replies are XML; nsr turns them into the Junos JSON rendering so the
// one view serves both transports. The fixtures hold the same data in both
// forms: the converted XML must be the JSON, the whole tree, and the views
// built from either must be the same bytes. Then the parser's own rules: the
// references it expands, what it refuses and how it says where.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { xmlToJunosJson } from '../src/sources/junos/junos-xml.js';
import { parseXml, XmlSyntaxError } from '../src/xml/xml-parser.js';
import { deviceView } from '../src/sources/junos/junos-view.js';

import { stringifyWithRaw } from '../src/json/raw-json.js';
import { fixtureInventory, ROOT } from './helpers.js';

const file = (dir: string, name: string) => readFileSync(path.join(ROOT, 'fixtures', dir, name));
const rpcs = ['get-interface-information', 'get-route-information.inet.3', 'get-route-information.mpls.0'] as const;

t.test('each XML fixture converts to its JSON fixture, the whole tree', async (t) => {
  for (const rpc of rpcs) {
    const json = JSON.parse(file('junos', `${rpc}.json`).toString('utf8'));
    const xml = file('junos', `${rpc}.rpc-reply.xml`);
    t.strictSame(xmlToJunosJson(xml), json, `${rpc} from a Buffer`);
    t.equal(JSON.stringify(xmlToJunosJson(xml.toString('utf8'))), JSON.stringify(json), `${rpc}: key order too`);
  }
});

t.test('the joined view from XML replies is the view from JSON replies, byte for byte', async (t) => {
  const inv = fixtureInventory();
  const netbox = inv.devices.find((d) => d.name === 'msk1-pe01')!;
  const [interfaces, inet3, mpls0] = rpcs;
  const fromJson = { interfaces: JSON.parse(file('junos', `${interfaces}.json`).toString()), 'inet.3': JSON.parse(file('junos', `${inet3}.json`).toString()), 'mpls.0': JSON.parse(file('junos', `${mpls0}.json`).toString()) };
  const fromXml = { interfaces: xmlToJunosJson(file('junos', `${interfaces}.rpc-reply.xml`)), 'inet.3': xmlToJunosJson(file('junos', `${inet3}.rpc-reply.xml`)), 'mpls.0': xmlToJunosJson(file('junos', `${mpls0}.rpc-reply.xml`)) };
  const device = { label: 'msk1-pe01', host: '127.20.0.1', netbox };
  const a = stringifyWithRaw(deviceView(device, fromJson, inv));
  const b = stringifyWithRaw(deviceView(device, fromXml, inv));
  t.ok(a.length > 5000 && a.includes('"mpls_labels":[{'), 'a view with content, not two empty ones');
  t.equal(b, a);
});

t.test('the Junos JSON rules: leaves, empty elements, attributes, repeats, the wrapper', async (t) => {
  const xml = `<?xml version="1.0"?>
<!-- ncclient keeps comments out, a device may not -->
<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="1">
  <top xmlns="urn:x" junos:style="brief">
    <a> padded </a>
    <empty/>
    <empty-attr junos:x="1"></empty-attr>
    <a>second</a>
    <b><c>1</c></b>
  </top>
</rpc-reply>`;
  t.equal(
    JSON.stringify(xmlToJunosJson(xml)),
    JSON.stringify({
      top: [{ attributes: { xmlns: 'urn:x', 'junos:style': 'brief' }, a: [{ data: ' padded ' }, { data: 'second' }], empty: [{ data: [null] }], 'empty-attr': [{ data: [null], attributes: { 'junos:x': '1' } }], b: [{ c: [{ data: '1' }] }] }],
    }),
    'text kept as written; the rpc-reply and its attributes dropped; repeats appended in order',
  );
  t.strictSame(xmlToJunosJson('<interface-information><x>1</x></interface-information>'), { 'interface-information': [{ x: [{ data: '1' }] }] }, 'a REST body without the wrapper converts the same');
  t.strictSame(xmlToJunosJson('<nc:rpc-reply xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><ok/></nc:rpc-reply>'), { ok: [{ data: [null] }] }, 'a prefixed wrapper is the wrapper too');
  t.throws(() => xmlToJunosJson('<rpc-reply><a>text<b/></a></rpc-reply>'), /mixes text/, 'mixed content has no JSON form: refused, not lost');
  t.throws(() => xmlToJunosJson('<rpc-reply><__proto__/></rpc-reply>'), /__proto__/);
  t.throws(() => xmlToJunosJson(Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e])), /not valid UTF-8/);
});

t.test('references, CDATA, line ends', async (t) => {
  const el = parseXml('<r a="x &amp; &quot;y&quot;&#10;" b=\'1\n2\'>&lt;&gt;&amp;&quot;&apos; &#65;&#x42;&#x1F600; <![CDATA[<raw> & ]]>\r\nend</r>');
  t.strictSame(el.attributes, [['a', 'x & "y"\n'], ['b', '1 2']], 'entities in attributes; a literal newline in a value becomes a space, &#10; stays a newline');
  t.equal(el.children.join(''), `<>&"' AB\u{1F600} <raw> & \nend`);
  t.equal(parseXml('\ufeff<r/>').name, 'r', 'a byte-order mark');
});

t.test('what the parser refuses, and where it says it is', async (t) => {
  const refused = (xml: string, reason: RegExp, line: number, msg: string) => {
    try {
      parseXml(xml, { maxDepth: 8 });
      t.fail(`${msg}: accepted`);
    } catch (e) {
      t.ok(e instanceof XmlSyntaxError, msg);
      t.match((e as XmlSyntaxError).message, reason, msg);
      t.equal((e as XmlSyntaxError).line, line, `${msg}: line`);
    }
  };
  refused('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaa">]>\n<r>&a;</r>', /DOCTYPE is not accepted/, 2, 'a DTD (entity expansion)');
  refused('<r>&a;</r>', /unknown entity &a;/, 1, 'an undeclared entity');
  refused('<r>a & b</r>', /does not start a reference/, 1, 'a bare ampersand');
  refused('<r>&#0;</r>', /not an XML character/, 1, 'a NUL by reference');
  refused('<r>\n  <a>\n  </b>\n</r>', /end tag <\/b> does not match <a>/, 3, 'mismatched tags');
  refused('<r>\n<a>', /<a> is not closed/, 2, 'a truncated reply');
  refused('<r/><r/>', /second root/, 1, 'two roots');
  refused('junk<r/>', /text before the root/, 1, 'text before the root');
  refused('<r a="1" a="2"/>', /given twice/, 1, 'a repeated attribute');
  refused('<r a=1/>', /must be quoted/, 1, 'an unquoted value');
  refused('<r a="<"/>', /"<" in a value/, 1, '< in a value');
  refused('<?xml version="1.0" encoding="ISO-8859-1"?><r/>', /UTF-8 only/, 1, 'another encoding');
  refused('', /no root element/, 1, 'an empty body');
  refused('<a><a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a></a>', /nested deeper than 8/, 1, 'the depth bound');
  t.equal(parseXml('<a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a>', { maxDepth: 8 }).name, 'a', 'exactly the bound is fine');
  t.throws(() => xmlToJunosJson('<r>\n\n<x></y></r>'), /XML line 3, column 4 \(offset 8\)/, 'the message names line, column and offset');
});

t.test('a start tag with many attributes is parsed in linear time', async (t) => {
  // Before: each attribute searched the rest of the tag for "<" and compared its
  // name with every earlier one (quadratic: 40000 attributes took seconds).
  const many = (n: number, name: (i: number) => string) => `<rpc-reply><x${Array.from({ length: n }, (_, i) => ` ${name(i)}="v"`).join('')}/></rpc-reply>`;
  let started = Date.now();
  const el = parseXml(many(40_000, (i) => `a${i}`));
  t.equal((el.children[0] as { attributes: unknown[] }).attributes.length, 40_000);
  t.ok(Date.now() - started < 3000, `distinct names in ${Date.now() - started} ms`);
  started = Date.now();
  t.throws(() => parseXml(many(40_000, (i) => (i === 39_999 ? 'a0' : `a${i}`))), /attribute a0 given twice/);
  t.ok(Date.now() - started < 3000, `a late duplicate in ${Date.now() - started} ms`);
  t.throws(() => parseXml(many(10, (i) => (i === 9 ? 'a1' : `a${i}`))), /attribute a1 given twice/, 'past the scan, the set finds it');
  t.throws(() => parseXml('<a b="1<2"/>'), /"<" in a value/, 'a "<" inside a value is still refused');
});

t.test('elements named like Object.prototype members are ordinary keys', async (t) => {
  // Before: out["constructor"] read the inherited Object function, and push() on it threw a TypeError.
  for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    const json = xmlToJunosJson(`<rpc-reply><x><${name}>1</${name}><${name}>2</${name}></x></rpc-reply>`);
    t.same(JSON.parse(JSON.stringify(json)), { x: [{ [name]: [{ data: '1' }, { data: '2' }] }] }, name);
  }
});
