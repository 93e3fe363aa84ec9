// The joined view of a Junos device: interfaces, next hops and MPLS labels from
// the fixtures, each interface's far end from the NetBox cables, matched by
// physical interface.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cablingOf, deviceView, hostAddress4, labelOps, physicalName, speedBps } from '../src/sources/junos/junos-view.js';
import { regionsSiteFirst, type Inventory } from '../src/sources/common/inventory.js';
import { stringifyWithRaw } from '../src/json/raw-json.js';
import { fixtureInventory, ROOT } from './helpers.js';

const fixture = (dir: string, name: string) => JSON.parse(readFileSync(path.join(ROOT, 'fixtures', dir, name), 'utf8'));
const inventory: Inventory = fixtureInventory();
const replies = { interfaces: fixture('junos', 'get-interface-information.json'), 'inet.3': fixture('junos', 'get-route-information.inet.3.json'), 'mpls.0': fixture('junos', 'get-route-information.mpls.0.json') };
const device = (name: string) => inventory.devices.find((d) => d.name === name)!;

t.test('speeds, unit names and label operations as Junos writes them', async (t) => {
  t.equal(speedBps('10Gbps'), 10e9);
  t.equal(speedBps('1000mbps'), 1e9, 'lower-case units (ge- interfaces)');
  t.equal(speedBps('800mbps'), 8e8);
  t.equal(speedBps('Unspecified'), null, 'lo0');
  t.equal(speedBps(null), null, 'irb has no speed');
  t.equal(physicalName('xe-0/1/1.32767'), 'xe-0/1/1');
  t.equal(physicalName('ae0'), 'ae0');
  t.same(labelOps('Pop'), [{ op: 'pop' }]);
  t.same(labelOps('Push 299872'), [{ op: 'push', label: 299872 }]);
  t.same(labelOps('Swap 301200, Push 299776(top)'), [{ op: 'swap', label: 301200 }, { op: 'push', label: 299776, top: true }]);
  t.same(labelOps('Push 301200, Push 299776(top)'), [{ op: 'push', label: 301200 }, { op: 'push', label: 299776, top: true }]);
});

t.test('regions site first; host destinations', async (t) => {
  t.same(regionsSiteFirst(inventory, 12), ['Saint Petersburg', 'North-West', 'Russia']);
  t.same(regionsSiteFirst(inventory, 19), [], 'a site without a region');
  t.same(regionsSiteFirst(inventory, null), []);
  const looped: Inventory = { ...inventory, sites: new Map([[1, { name: 'X', slug: 'x', region: 1 }]]), regions: new Map([[1, { name: 'A', parent: 2 }], [2, { name: 'B', parent: 1 }]]) };
  t.same(regionsSiteFirst(looped, 1), ['A', 'B'], 'a parent cycle ends');
  t.equal(hostAddress4('10.255.0.2/32'), '10.255.0.2');
  t.equal(hostAddress4('10.255.0.2'), '10.255.0.2', 'bare');
  t.equal(hostAddress4('10.255.0.0/24'), null, 'a subnet leads to no one device');
  t.equal(hostAddress4('2001:db8::1/128'), null);
  t.equal(hostAddress4(null), null);
});

t.test('cabling by physical interface: plain, breakout, circuit, planned', async (t) => {
  const pe02 = cablingOf(inventory, { id: device('msk1-pe02').id, name: 'msk1-pe02' });
  t.same(pe02.get('et-0/0/2')!.map((f) => `${f.device} ${f.interface}`), ['lab-pe01 xe-0/0/0', 'lab-pe01 xe-0/0/1'], 'a breakout: two far ends');
  t.same(pe02.get('xe-0/1/1')!.map((f) => `${f.device} ${f.interface}`), ['msk1-pe01 xe-0/1/1'], 'B side sees A side');
  const lab = cablingOf(inventory, { id: 7, name: 'lab-pe01' });
  t.same(lab.get('xe-0/0/1')!.map((f) => `${f.device} ${f.interface} ${f.cable}`), ['msk1-pe02 et-0/0/2 505'], 'each breakout leg sees the one A end');
  const p01 = cablingOf(inventory, { id: 3, name: 'spb2-p01' });
  t.match(p01.get('xe-0/0/3'), [{ circuit: 'ISP-000123', cable: 504 }], 'a circuit at the far end');
  const nsk = cablingOf(inventory, { id: 5, name: 'nsk1-pe01' });
  t.same(nsk.get('xe-0/1/0'), [{ cable: 506, label: null, status: 'planned' }], 'a planned cable with no far end yet is still listed');
  t.equal(cablingOf(undefined, { id: 1, name: 'msk1-pe01' }).size, 0, 'no inventory: no cabling, no crash');
});

t.test('the joined view of msk1-pe01 from the fixtures', async (t) => {
  const view = deviceView({ label: 'msk1-pe01', host: '127.20.0.1', netbox: device('msk1-pe01') }, replies, inventory);
  t.equal(view.site, 'msk1');
  t.same(view.regions, ['Moscow', 'Center', 'Russia'], "the site's region first, the root last (the old agent's order)");
  const ifs = new Map(view.interfaces!.map((i) => [i.name, i]));
  t.same([...ifs.keys()], ['xe-0/1/0', 'xe-0/1/1', 'ge-1/0/0', 'ae0', 'irb', 'lo0', 'lc-1/0/0']);
  t.match(ifs.get('xe-0/1/0'), { admin_status: 'up', oper_status: 'up', speed: '10Gbps', speed_bps: 10e9, description: 'to spb2-p01 xe-0/0/0 [core]' });
  t.same(ifs.get('xe-0/1/0')!.far_end.map((f) => `${f.device} ${f.interface}`), ['spb2-p01 xe-0/0/0'], "the NetBox cable on the physical interface (the original matched unit names and missed)");
  t.match(ifs.get('ge-1/0/0'), { admin_status: 'down', units: [] }, 'admin-down with no units');
  t.match(ifs.get('irb'), { speed: null, speed_bps: null });
  t.match(ifs.get('lo0'), { speed: 'Unspecified', speed_bps: null });
  t.same(ifs.get('xe-0/1/1')!.units.map((u) => [u.name, u.description, u.internal ?? false]), [
    ['xe-0/1/1.212', 'VPN cust-A vlan 212', false],
    ['xe-0/1/1.213', null, false],
    ['xe-0/1/1.32767', null, true],
  ], 'units without a description; the internal unit flagged');
  t.same(ifs.get('xe-0/1/1')!.units.map((u) => u.snmp_index?.text), ['746', '747', '748'], "each unit's own SNMP index");
  t.equal(ifs.get('xe-0/1/0')!.units[0].snmp_index?.text, '540', 'not the physical interface\'s (530)');
  const json = JSON.parse(stringifyWithRaw(view));
  t.equal(json.interfaces[0].counters['input-packets'], 98231877102, 'counters are numbers');
  t.equal(json.interfaces[0].mtu, 1514);

  const hops = view.next_hops!;
  const to21 = hops.find((h) => h.destination === '10.255.0.21/32')!;
  t.equal(to21.next_hops.length, 2, 'a route with two next hops');
  t.match(to21.next_hops[0], { to: '10.1.0.0', via: 'xe-0/1/0.0', interface: 'xe-0/1/0', label_action: 'Push 299872', far_end: [{ device: 'spb2-p01', interface: 'xe-0/0/0' }] }, 'a next hop leads to the device at the far end of its physical interface');
  t.same(
    hops.map((h) => [h.destination, h.netbox]),
    [
      ['10.255.0.2/32', { id: 2, name: 'msk1-pe02', site: 'msk1', regions: ['Moscow', 'Center', 'Russia'] }],
      ['10.255.0.11/32', { id: 3, name: 'spb2-p01', site: 'spb2', regions: ['Saint Petersburg', 'North-West', 'Russia'] }],
      ['10.255.0.21/32', null],
      ['192.0.2.51/32', { id: 7, name: 'lab-pe01', site: 'lab', regions: [] }],
    ],
    'each destination resolved to the NetBox device with that primary IPv4; 10.255.0.21 is in no fixture device; LAB has no region',
  );
  t.equal(deviceView({ label: 'msk1-pe01', host: 'h' }, replies, undefined).next_hops![0].netbox, null, 'no inventory: nothing resolved, no crash');
  const stacked = hops.find((h) => h.destination === '192.0.2.51/32')!;
  t.same(stacked.next_hops[0].label_ops, [{ op: 'push', label: 301200 }, { op: 'push', label: 299776, top: true }]);

  const labels = view.mpls_labels!;
  t.match(labels.find((l) => l.label === 299808), { bottom_of_stack: true, next_hops: [{ label_action: 'Swap 301200, Push 299776(top)', label_ops: [{ op: 'swap', label: 301200 }, { op: 'push', label: 299776, top: true }] }] });
  t.ok(labels.some((l) => l.label === 299776 && l.bottom_of_stack === false), '299776(S=0): not the bottom of the stack');
  t.match(labels.find((l) => l.label === 0), { next_hops: [{ table: 'inet.0' }] }, 'label 0 looks up inet.0');
});

t.test('counters above 2^53 keep every digit', async (t) => {
  const big = structuredClone(replies.interfaces);
  big['interface-information'][0]['physical-interface'][0]['traffic-statistics'][0]['input-packets'][0].data = '18446744073709551615';
  const text = stringifyWithRaw(deviceView({ label: 'x', host: 'h' }, { interfaces: big }, undefined));
  t.match(text, /"input-packets":18446744073709551615[,}]/);
  t.equal(JSON.parse(text).next_hops, undefined, 'parts not asked for (or failed) are left out');
});
