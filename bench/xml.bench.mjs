#!/usr/bin/env node
// XML parsers for Junos NETCONF replies, measured on the job nsr gives them:
// turning an <rpc-reply> into the Junos JSON rendering the view reads. For each
// candidate: the three fixtures (each converted result must deep-equal the
// device's own JSON of the same data) and a scaled get-interface-information
// reply (the fixture's physical interfaces repeated to --interfaces, written
// as XML from the scaled JSON, so the JSON is the expected answer there too).
// Reports wall ms and CPU ms (user + system) per MB of XML, medians of --runs.
//
// Candidates: nsr's own parser (xml/xml-parser.js + junos-xml.js, from dist/);
// fast-xml-parser (preserveOrder) and txml, each followed by the same
// element → Junos JSON conversion. Packages not in nsr's node_modules are
// looked up under --modules DIR (or NSR_BENCH_MODULES): a scratch directory
// where they were installed (`npm i fast-xml-parser txml`); one not found is skipped.
//
// Usage: npx tsc -p tsconfig.json && node bench/xml.bench.mjs [--interfaces 2000] [--runs 15] [--modules DIR]
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { xmlToJunosJson, elementJson } from '../dist/sources/junos/junos-xml.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const interfaces = Number(arg('--interfaces', 2000));
const runs = Number(arg('--runs', 15));
const modulesDir = arg('--modules', process.env.NSR_BENCH_MODULES);
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A package (and its version) from nsr's own dependencies, else from the scratch directory; undefined when neither has it. */
async function load(name) {
  for (const from of [path.join(root, 'package.json'), modulesDir && path.join(modulesDir, 'package.json')].filter(Boolean)) {
    let entry;
    try {
      entry = createRequire(from).resolve(name);
    } catch {
      continue;
    }
    const m = await import(pathToFileURL(entry).href);
    // The version from the package's own package.json, found above its entry point (not every package exports it).
    let dir = path.dirname(entry);
    while (!existsSync(path.join(dir, 'package.json')) || JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== name) dir = path.dirname(dir);
    return { module: m.default ?? m, version: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version }; // a CommonJS entry point comes as the default export
  }
  return undefined;
}

// --- the inputs -------------------------------------------------------------

const fixtureNames = ['get-interface-information', 'get-route-information.inet.3', 'get-route-information.mpls.0'];
const fixtures = fixtureNames.map((name) => ({
  name,
  xml: readFileSync(path.join(root, 'fixtures/junos', `${name}.rpc-reply.xml`)),
  json: JSON.parse(readFileSync(path.join(root, 'fixtures/junos', `${name}.json`), 'utf8')),
}));

const escapeText = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s) => escapeText(s).replace(/"/g, '&quot;');
/** Junos JSON back to indented XML, the way the device writes it. */
function toXml(name, node, indent) {
  const attrs = Object.entries(node.attributes ?? {}).map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join('');
  if ('data' in node) return Array.isArray(node.data) ? `${indent}<${name}${attrs}/>\n` : `${indent}<${name}${attrs}>${escapeText(node.data)}</${name}>\n`;
  const inner = Object.entries(node)
    .filter(([k]) => k !== 'attributes')
    .map(([k, list]) => list.map((child) => toXml(k, child, indent + '    ')).join(''))
    .join('');
  return `${indent}<${name}${attrs}>\n${inner}${indent}</${name}>\n`;
}

const base = fixtures[0].json;
const physicals = base['interface-information'][0]['physical-interface'];
const scaledJson = structuredClone(base);
scaledJson['interface-information'][0]['physical-interface'] = Array.from({ length: interfaces }, (_, i) => {
  const p = structuredClone(physicals[i % physicals.length]);
  const from = p.name[0].data;
  const to = `${from}-${Math.floor(i / physicals.length)}`;
  // Rename the interface and its units (xe-0/1/0.0 → xe-0/1/0-7.0), so every one is distinct.
  p.name[0].data = to;
  for (const u of p['logical-interface'] ?? []) u.name[0].data = u.name[0].data.replace(from, to);
  return p;
});
const scaledXml = Buffer.from(
  `<?xml version="1.0" encoding="UTF-8"?>\n<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" xmlns:junos="http://xml.juniper.net/junos/21.4R3-S5/junos" message-id="urn:uuid:bench">\n` +
    toXml('interface-information', scaledJson['interface-information'][0], '    ') +
    '</rpc-reply>\n',
);

// --- the candidates ---------------------------------------------------------

/** Junos JSON from a root element in nsr's tree shape ({name, attributes: [[k, v]], children}). */
function fromTree(rootEl) {
  const local = rootEl.name.slice(rootEl.name.indexOf(':') + 1);
  if (local !== 'rpc-reply') return { [rootEl.name]: [elementJson(rootEl)] };
  return elementJson({ name: rootEl.name, attributes: [], children: rootEl.children });
}

const candidates = [{ name: 'nsr xml-parser', convert: (buf) => xmlToJunosJson(buf) }];

const fxp = await load('fast-xml-parser');
if (fxp) {
  const parser = new fxp.module.XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    trimValues: false,
    parseTagValue: false,
    parseAttributeValue: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
  // preserveOrder gives [{tag: [children], ':@': {attrs}}, {'#text': '…'}]; the same tree as nsr's, then the same conversion.
  const adapt = (node) => {
    const name = Object.keys(node).find((k) => k !== ':@');
    return { name, attributes: Object.entries(node[':@'] ?? {}), children: node[name].map((c) => ('#text' in c ? String(c['#text']) : adapt(c))) };
  };
  candidates.push({
    name: `fast-xml-parser ${fxp.version}`,
    convert: (buf) => fromTree(adapt(parser.parse(buf.toString('utf8')).find((n) => !('#text' in n)))),
  });
} else console.log('fast-xml-parser not found (give --modules DIR): skipped');

const txml = await load('txml');
if (txml) {
  const parse = txml.module.parse;
  const adapt = (node) => ({ name: node.tagName, attributes: Object.entries(node.attributes).map(([k, v]) => [k, v ?? '']), children: node.children.map((c) => (typeof c === 'string' ? c : adapt(c))) });
  candidates.push({
    name: `txml ${txml.version}`,
    convert: (buf) => fromTree(adapt(parse(buf.toString('utf8'), { keepWhitespace: true, decodeEntities: true, skipXmlDeclaration: true, selfClosingTags: [] }).find((n) => typeof n !== 'string'))),
  });
} else console.log('txml not found (give --modules DIR): skipped');

// --- measuring --------------------------------------------------------------

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Median wall and CPU ms for one conversion of `buf`, repeated `reps` times per run so a run lasts long enough to time. */
function measure(convert, buf, reps) {
  for (let i = 0; i < 3; i++) convert(buf); // warm-up: JIT, inline caches
  const walls = [];
  const cpus = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) convert(buf);
    walls.push(Number(process.hrtime.bigint() - t0) / 1e6 / reps);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000 / reps);
  }
  return { wall: median(walls), cpu: median(cpus) };
}

const fixtureBytes = fixtures.reduce((s, f) => s + f.xml.length, 0);
console.log(`node ${process.version}; fixtures ${fixtureBytes} bytes of XML in 3 replies; scaled reply ${interfaces} physical interfaces, ${(scaledXml.length / 1e6).toFixed(2)} MB; ${runs} runs, medians`);
// Replies a parser must refuse rather than turn into some JSON: an entity declared in a DTD, a mismatched end tag, a truncated reply.
const bad = {
  doctype: '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]><rpc-reply><x>&a;&a;</x></rpc-reply>',
  mismatched: '<rpc-reply><x><name>a</x></name></rpc-reply>',
  truncated: scaledXml.subarray(0, scaledXml.length >> 1).toString('utf8'),
};
console.log('| parser | fixtures = JSON | scaled = JSON | refuses DOCTYPE / mismatched / truncated | fixtures ms/MB (wall / CPU) | scaled ms/MB (wall / CPU) | scaled MB/s |');
console.log('| --- | --- | --- | --- | ---: | ---: | ---: |');
for (const c of candidates) {
  const equal = (buf, expected) => {
    try {
      return isDeepStrictEqual(c.convert(buf), expected);
    } catch (e) {
      return `threw: ${e.message}`;
    }
  };
  const refuses = Object.values(bad).map((xml) => {
    try {
      c.convert(Buffer.from(xml));
      return 'no';
    } catch {
      return 'yes';
    }
  });
  const fixturesOk = fixtures.map((f) => equal(f.xml, f.json));
  const scaledOk = equal(scaledXml, scaledJson);
  const small = fixtures.map((f) => measure(c.convert, f.xml, 200));
  const smallWall = small.reduce((s, m) => s + m.wall, 0) / (fixtureBytes / 1e6);
  const smallCpu = small.reduce((s, m) => s + m.cpu, 0) / (fixtureBytes / 1e6);
  const big = measure(c.convert, scaledXml, 1);
  const mb = scaledXml.length / 1e6;
  const ok = (v) => (v === true ? 'yes' : v === false ? 'NO' : v);
  console.log(
    `| ${c.name} | ${fixturesOk.every((v) => v === true) ? 'yes' : fixturesOk.map(ok).join(', ')} | ${ok(scaledOk)} | ${refuses.join(' / ')} | ${smallWall.toFixed(1)} / ${smallCpu.toFixed(1)} | ${(big.wall / mb).toFixed(1)} / ${(big.cpu / mb).toFixed(1)} | ${(mb / (big.wall / 1000)).toFixed(1)} |`,
  );
}
