// The old agent's per-exporter document and Akvorado's exporter, built from
// the fixtures: the agent's keys, order and value formats (quirks included),
// checked value by value and then as a whole against the document an
// independent Python re-implementation of the agent writes
// (fixtures/junos/agent-document.py).
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { agentConnections, agentExporter, agentMplsLabels, agentNextHopLabels, descendants } from '../src/sources/junos/agent-document.js';
import { akvoradoExporter } from '../src/sources/junos/akvorado-exporter.js';
import { xmlToJunosJson } from '../src/sources/junos/junos-xml.js';
import { stringifyPythonJson } from '../src/json/python-json.js';
import type { Inventory } from '../src/sources/common/inventory.js';
import { fixtureInventory, ROOT } from './helpers.js';

const read = (dir: string, name: string) => readFileSync(path.join(ROOT, 'fixtures', dir, name), 'utf8');
const fixture = (dir: string, name: string) => JSON.parse(read(dir, name));
const inventory: Inventory = fixtureInventory();
const replies = { interfaces: fixture('junos', 'get-interface-information.json'), 'inet.3': fixture('junos', 'get-route-information.inet.3.json'), 'mpls.0': fixture('junos', 'get-route-information.mpls.0.json') };
const pe01 = inventory.devices.find((d) => d.name === 'msk1-pe01')!;

t.test("the agent's document for msk1-pe01, value by value", async (t) => {
  const doc = agentExporter(pe01, replies, inventory);
  t.same(Object.keys(doc), ['name', 'site', 'regions', 'interfaces', 'nexthops', 'mpls_labels'], "the agent's key order");
  t.match(doc, { name: 'msk1-pe01', site: 'MSK1', regions: ['Moscow', 'Center', 'Russia'] }, 'the site name (not the slug), regions site first');

  t.same([...doc.interfaces.keys()], ['540', '746', '747', '748', '601', '610', '16', '21', '537'], 'keyed by unit SNMP index, in document order (a JS object would put 16 and 21 first)');
  t.same(Object.keys(doc.interfaces.get('540')!), ['name', 'speed', 'description', 'connection']);
  t.same(doc.interfaces.get('540'), { name: 'xe-0/1/0.0', speed: '10Gbps', description: '', connection: { device: 'spb2-p01', interface: 'xe-0/0/0' } }, "the unit's physical interface's cable; no description is \"\"");
  t.same(doc.interfaces.get('746'), { name: 'xe-0/1/1.212', speed: '10Gbps', description: 'VPN cust-A vlan 212', connection: { device: 'msk1-pe02', interface: 'xe-0/1/1' } });
  t.match(doc.interfaces.get('610'), { name: 'irb.100', speed: '' }, 'irb has no speed: ""');
  t.match(doc.interfaces.get('16'), { name: 'lo0.0', speed: 'Unspecified', connection: { device: '', interface: '' } }, 'no cable');
  t.match(doc.interfaces.get('537'), { speed: '800mbps' });

  t.same([...doc.nexthops.keys()], ['10.255.0.2', '10.255.0.11', '10.255.0.21', '192.0.2.51'], 'destinations without /32');
  t.same(doc.nexthops.get('10.255.0.11'), { name: 'spb2-p01', site: 'SPB2', regions: ['Saint Petersburg', 'North-West', 'Russia'], labels: new Map([['xe-0/1/0.0', ''], ['ae0.0', '']]) });
  t.same(doc.nexthops.get('10.255.0.21'), { name: '', site: '', regions: [], labels: new Map([['xe-0/1/0.0', '299872'], ['ae0.0', '299888']]) }, '"Push 299872" → "299872"; no device there → empty');
  t.same(doc.nexthops.get('192.0.2.51'), { name: 'lab-pe01', site: 'LAB', regions: [], labels: new Map([['xe-0/1/1.213', '301200, Push 299776(top)']]) }, 'only the leading Push goes, as the agent wrote it');

  t.same([...doc.mpls_labels.keys()], ['299776', '299776(S=0)', '299792', '299808'], 'labels as written; 0, 1 and 2 have no via and are left out');
  t.same(doc.mpls_labels.get('299808'), new Map([['xe-0/1/1.213', { action: 'Swap', label: '301200,' }]]), '"Swap 301200, Push 299776(top)": the agent\'s first two words, comma kept');
  t.same(doc.mpls_labels.get('299776'), new Map([['xe-0/1/1.213', { action: 'Pop', label: '' }]]));
  t.same(doc.mpls_labels.get('299792'), new Map([['xe-0/1/0.0', { action: 'Swap', label: '299872' }], ['ae0.0', { action: 'Swap', label: '299888' }]]));
});

t.test("the whole document is the agent's, byte for byte, from JSON and from XML replies", async (t) => {
  const expected = read('junos', 'agent-document.msk1-pe01.json');
  t.equal(stringifyPythonJson(agentExporter(pe01, replies, inventory)), expected);
  const fromXml = {
    interfaces: xmlToJunosJson(read('junos', 'get-interface-information.rpc-reply.xml')),
    'inet.3': xmlToJunosJson(read('junos', 'get-route-information.inet.3.rpc-reply.xml')),
    'mpls.0': xmlToJunosJson(read('junos', 'get-route-information.mpls.0.rpc-reply.xml')),
  };
  t.equal(stringifyPythonJson(agentExporter(pe01, fromXml, inventory)), expected);
  const [first, second] = [expected.indexOf('"540"'), expected.indexOf('"16"')];
  t.ok(first > 0 && second > first, 'the fixture itself has 540 before 16: the order test can fail');
});

t.test('the rules on their own', async (t) => {
  t.same(agentConnections(inventory, { id: 2 }).get('et-0/0/2'), undefined, 'a breakout (two terminations at one end) is skipped, as the agent did');
  t.same(agentConnections(inventory, { id: 2 }).get('xe-0/1/1'), { device: 'msk1-pe01', interface: 'xe-0/1/1' }, 'the B side sees the A side');
  t.same(agentConnections(inventory, { id: 5 }).size, 0, 'a planned cable with no far end is skipped');
  const nh = (via: string | null, label: string | null) => ({ ...(via !== null ? { via: [{ data: via }] } : {}), ...(label !== null ? { 'mpls-label': [{ data: label }] } : {}) });
  const table = (dest: string, ...hops: object[]) => ({ 'route-information': [{ 'route-table': [{ rt: [{ 'rt-destination': [{ data: dest }], 'rt-entry': [{ nh: hops }] }] }] }] });
  t.same(agentNextHopLabels(table('10.0.0.0/24', nh(' ae1.0 ', 'Push 5'), nh('', 'Push 6'), nh(null, null))), new Map([['10.0.0.0', new Map([['ae1.0', '5']])]]), 'via stripped; no via skipped; a subnet is kept without its length');
  t.same(agentNextHopLabels(table('10.0.0.9/32', nh('ae1.0', null))), new Map([['10.0.0.9', new Map([['ae1.0', '']])]]), 'no label: ""');
  t.same(agentMplsLabels(table('17', nh('ae1.0', '  Swap   18  '))), new Map([['17', new Map([['ae1.0', { action: 'Swap', label: '18' }]])]]), "Python's split(): runs of whitespace");
  t.same(agentMplsLabels(table('17', nh('ae1.0', ''))).size, 0, 'no label action: the destination is left out');
  const x = { a: [{ b: [{ rt: [{ n: 1, rt: [{ n: 2 }] }] }], rt: [{ n: 3 }] }] };
  t.same(descendants(x, 'rt').map((r) => r.n), [1, 2, 3], "lxml's .//rt: every depth, document order");
  const unnamed = inventory.devices.find((d) => d.name === null)!;
  t.match(agentExporter(unnamed, {}, inventory), { name: '', site: 'LAB', regions: [], interfaces: new Map(), nexthops: new Map(), mpls_labels: new Map() }, 'no replies, no name: empty parts, no crash');
});

t.test('python-json: the layout of json.dump(indent=4, ensure_ascii=False)', async (t) => {
  t.equal(stringifyPythonJson(new Map<string, unknown>([['2', { a: [] }], ['1', { b: {}, c: 'ü"\n' }]])), '{\n    "2": {\n        "a": []\n    },\n    "1": {\n        "b": {},\n        "c": "ü\\"\\n"\n    }\n}');
  t.equal(stringifyPythonJson([1, null, true]), '[\n    1,\n    null,\n    true\n]');
});

t.test("Akvorado's exporter", async (t) => {
  const dflt = { name: 'unknown', description: 'unknown', speed: 1000 };
  const exp = akvoradoExporter(pe01, replies, inventory, { default: dflt })!;
  t.same(Object.keys(exp), ['exportersubnet', 'name', 'site', 'region', 'default', 'interfaces']);
  t.match(exp, { exportersubnet: '10.255.0.1/32', name: 'msk1-pe01', site: 'MSK1', region: 'Moscow', default: dflt });
  t.same(exp.interfaces.slice(0, 2), [
    { ifindex: 540, name: 'xe-0/1/0.0', description: 'xe-0/1/0.0', speed: 10000 },
    { ifindex: 746, name: 'xe-0/1/1.212', description: 'VPN cust-A vlan 212', speed: 10000 },
  ], 'ifindex a number; no description → the unit name; 10Gbps → 10000 Mbps');
  t.same(exp.interfaces.map((i) => [i.ifindex, i.speed]).slice(4), [[601, 20000], [610, 0], [16, 0], [21, 0], [537, 800]], 'LAG 20Gbps; irb none and lo0 Unspecified → 0; 800mbps → 800');
  t.ok(exp.interfaces.every((i) => Object.keys(i).join() === 'ifindex,name,description,speed'), 'lower-case keys, no dashes');
  const lab = akvoradoExporter(inventory.devices.find((d) => d.name === 'lab-pe01')!, {}, inventory, { skipMissingInterfaces: true })!;
  t.same(Object.keys(lab), ['exportersubnet', 'name', 'site', 'skipmissinginterfaces', 'interfaces'], 'skipping missing interfaces: no default (Akvorado refuses both)');
  t.notOk('region' in lab, 'a site without a region: region omitted');
  t.same(lab.interfaces, []);
  const v6only = inventory.devices.find((d) => d.name === 'nsk1-pe01')!;
  t.equal(v6only.address4, null);
  t.equal(akvoradoExporter(v6only, replies, inventory, { default: dflt })!.exportersubnet, `${v6only.address6}/128`, 'IPv6 only: a /128');
  t.equal(akvoradoExporter({ ...v6only, address6: null }, replies, inventory, { default: dflt }), null, 'no address: no exporter');
});

t.test('a JSON reply whose logical-interface is not a list (a REST device) loses only that physical interface', async (t) => {
  // Before: the units were iterated as the device wrote them, and an object or number threw (not iterable).
  const device = { id: 1, name: 'r1', status: null, site: null, site_id: null, role: null, platform: null, tags: [], address4: '10.0.0.1', address6: null };
  const unit = (name: string, idx: string) => ({ name: [{ data: name }], 'snmp-index': [{ data: idx }] });
  const interfaces = { 'interface-information': [{ 'physical-interface': [{ 'logical-interface': { name: 'x' } }, { 'logical-interface': 1 }, { 'logical-interface': [unit('xe-0/0/0.0', '530')] }] }] };
  const e = agentExporter(device, { interfaces } as never, undefined);
  t.same([...e.interfaces.keys()], ['530']);
  t.same(akvoradoExporter(device, { interfaces } as never, undefined, { skipMissingInterfaces: true })?.interfaces.map((i) => i.ifindex), [530]);
});
