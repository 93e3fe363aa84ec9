// The netbox stream kind against the simulated NetBox: paging, the fixtures'
// edge cases, filters, token auth, listings that change while paged, change-only.
import t from 'tap';
import { netboxKind } from '../src/sources/netbox/netbox.js';
import type { Source } from '../src/sources/source.js';
import { FetchError } from '../src/sources/source.js';
import { NetboxSimulator } from '../src/simulate/netbox-simulator.js';
import { elementSpans, memberSpan } from '../src/json/json-spans.js';
import { tempDir } from './helpers.js';

// A day-long window: change_only writes a snapshot at each new window, and none should start mid-test.
const timing = { intervalMs: 60_000, timeoutMs: 10_000, windowMs: 86_400_000, retries: 0 };

async function simulator(t: Tap.Test, opts: ConstructorParameters<typeof NetboxSimulator>[0] = {}) {
  const sim = new NetboxSimulator(opts);
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  return { sim, url };
}

function source(t: Tap.Test, cfg: Record<string, unknown>, outputDir?: string): Source {
  const parsed = netboxKind.schema.parse({ kind: 'netbox', ...cfg });
  const s = netboxKind.build('inventory', parsed, { timing, source: () => undefined, outputDir });
  t.teardown(() => s.close());
  return s;
}

const fetchOnce = (s: Source) => s.fetch!(new AbortController().signal, Date.now() + 10_000);
const parse = (b: Buffer) => JSON.parse(b.toString('utf8'));
/** The items of one listing in a record, as the bytes written. */
function rawItems(body: Buffer, key: string): string[] {
  return elementSpans(body, memberSpan(body, key)!).map((s) => body.subarray(s.start, s.end).toString('utf8'));
}

t.test('paging: every page is followed, items are written as NetBox sent them', async (t) => {
  const { sim, url } = await simulator(t);
  const s = source(t, { url, page_size: 3 });
  const body = await fetchOnce(s);
  t.equal(sim.requests.devices, 3, '7 devices in pages of 3: three requests');
  t.equal(sim.requests.cables, 2, '6 cables in pages of 3: two requests');
  const doc = parse(body);
  t.same(doc.counts, { devices: 7, cables: 6, sites: 4, regions: 7 });
  t.same(doc.devices.map((d: { id: number }) => d.id), [1, 2, 3, 4, 5, 6, 7]);
  const served = sim.items.devices.map(({ config_context: _c, ...d }) => JSON.stringify(d));
  t.same(rawItems(body, 'devices'), served, 'device items are byte for byte the served ones');
  t.notOk(body.includes('config_context'), 'config_context is excluded by default (?exclude=config_context)');
  t.notOk(body.includes(0x0a), 'one line');
});

t.test('next links naming another host (NetBox behind a proxy) are followed on the configured address', async (t) => {
  const { sim, url } = await simulator(t, { publicUrl: 'https://netbox.example.net' });
  const s = source(t, { url, page_size: 2 });
  const doc = parse(await fetchOnce(s));
  t.equal(doc.devices.length, 7);
  t.equal(sim.requests.devices, 4);
});

t.test('fixture edge cases: unnamed device, site without a region, no management address, IPv6 only, circuits, breakouts, planned cables', async (t) => {
  const { url } = await simulator(t);
  const s = source(t, { url });
  const doc = parse(await fetchOnce(s));
  const inv = s.inventory!.current()!;
  t.ok(inv, 'the snapshot is kept for pollers');
  const byId = new Map(inv.devices.map((d) => [d.id, d]));
  t.equal(byId.get(6)!.name, null, 'device 6 has no name and is still recorded');
  t.equal(byId.get(6)!.status, 'planned');
  t.equal(byId.get(4)!.address4, null, 'spb2-sw01 has no management address');
  t.equal(byId.get(4)!.address6, null);
  t.equal(byId.get(5)!.address4, null, 'nsk1-pe01 is IPv6 only');
  t.equal(byId.get(5)!.address6, '::1');
  t.equal(byId.get(7)!.site, 'lab');
  t.equal(inv.sites.get(19)!.region, null, 'site LAB has no region');
  t.ok(doc.sites.some((x: { slug: string; region: unknown }) => x.slug === 'lab' && x.region === null), 'the LAB site is in the record with region null');
  // Regions: only those on the way up from the recorded devices' sites.
  const regionNames = doc.regions.map((r: { name: string }) => r.name).sort();
  t.ok(regionNames.includes('Moscow') && regionNames.includes('Russia'), `regions of the sites and their parents (${regionNames})`);
  const cables = new Map(inv.cables.map((c) => [c.id, c]));
  t.same(cables.get(504)!.b, [{ type: 'circuits.circuittermination', circuit: 'ISP-000123', term_side: cables.get(504)!.b[0].term_side }], 'cable 504 ends on a circuit (no device)');
  t.equal(cables.get(505)!.b.length, 2, 'cable 505 is a breakout: two B ends');
  t.same(cables.get(505)!.b.map((e) => e.interface), ['xe-0/0/0', 'xe-0/0/1']);
  t.same(cables.get(506)!.b, [], 'cable 506 is planned with no B end');
  t.equal(cables.get(506)!.status, 'planned');
});

t.test('filters go to NetBox as its query parameters', async (t) => {
  const { url } = await simulator(t);
  const active = parse(await fetchOnce(source(t, { url, filter: { status: 'active' } })));
  t.notOk(active.devices.some((d: { id: number }) => d.id === 6), 'status: active leaves out the planned device');
  t.equal(active.devices.length, 6);
  const lab = parse(await fetchOnce(source(t, { url, filter: { site: ['lab'] } })));
  t.same(lab.devices.map((d: { id: number }) => d.id), [6, 7]);
  t.same(lab.cables.map((c: { id: number }) => c.id), [505], 'cables of the site only');
  t.same(lab.sites.map((x: { slug: string }) => x.slug), ['lab']);
  t.same(lab.regions, [], 'a site without a region needs no region');
  const withContext = parse(await fetchOnce(source(t, { url, config_context: true, filter: { role: 'p-router' } })));
  t.same(withContext.devices.map((d: { name: string }) => d.name), ['spb2-p01']);
  t.ok(withContext.devices[0].config_context, 'config_context: true keeps it');
});

t.test('token auth: the token is sent; a wrong one is a clear http_403', async (t) => {
  const { url } = await simulator(t, { token: 'secret-token-1' });
  t.equal(parse(await fetchOnce(source(t, { url, token: 'secret-token-1' }))).devices.length, 7);
  const err = await fetchOnce(source(t, { url, token: 'wrong' })).catch((e) => e);
  t.ok(err instanceof FetchError);
  t.equal(err.reason, 'http_403');
  t.notMatch(err.message, /wrong/, 'the token is not in the message');
});

t.test('a listing that changes while it is paged is read again; one that never holds still fails the tick', async (t) => {
  const { sim, url } = await simulator(t);
  const s = source(t, { url, page_size: 3 });
  let edits = 0;
  sim.onPage = (list, offset) => {
    if (list === 'devices' && offset === 3 && edits++ === 0) sim.items.devices.splice(0, 1); // device 1 deleted between pages
  };
  const doc = parse(await fetchOnce(s));
  t.same(doc.devices.map((d: { id: number }) => d.id), [2, 3, 4, 5, 6, 7], 'the snapshot is the state after the change, nothing read twice or lost');
  t.equal(sim.requests.devices, 2 + 2, 'the first listing stopped at the change (page 2 of 3), the second read the 6 left in 2 pages');

  sim.onPage = (list, offset) => {
    if (list === 'devices' && offset > 0) sim.items.devices.push({ ...sim.items.devices[0], id: 100 + sim.items.devices.length });
  };
  const err = await fetchOnce(s).catch((e) => e);
  t.equal(err.reason, 'inconsistent_snapshot');
  t.match(err.message, /changed while it was paged/);
});

t.test('change_only: a snapshot when the inventory changed, a heartbeat otherwise', async (t) => {
  const { sim, url } = await simulator(t);
  const s = source(t, { url, change_only: true });
  const first = parse(await fetchOnce(s));
  t.equal(first.devices.length, 7, 'the first fetch writes the snapshot');
  const second = parse(await fetchOnce(s));
  t.same(Object.keys(second).sort(), ['counts', 'digest', 'netbox', 'unchanged'], 'unchanged: a heartbeat without items');
  t.equal(second.unchanged, true);
  t.equal(second.digest, first.digest);
  // Page order is not a change.
  sim.items.devices.reverse();
  t.equal(parse(await fetchOnce(s)).unchanged, true, 'the same items in another order are unchanged');
  sim.items.devices[0].description = 'moved to rack 4';
  const third = parse(await fetchOnce(s));
  t.equal(third.devices?.length, 7, 'a changed device: the whole snapshot again');
  t.not(third.digest, first.digest);
  t.equal(parse(await fetchOnce(s)).unchanged, true);
});

t.test('a URL that is not NetBox, and one that does not answer, say so', async (t) => {
  const { url } = await simulator(t);
  const notNetbox = await fetchOnce(source(t, { url: `${url}/api` })).catch((e) => e);
  t.equal(notNetbox.reason, 'http_404');
  const refused = await fetchOnce(source(t, { url: 'http://127.0.0.1:1' })).catch((e) => e);
  t.equal(refused.reason, 'connection_refused');
});

t.test('track_changes: devices added, removed and changed, remembered across a restart', async (t) => {
  const { sim, url } = await simulator(t);
  const dir = tempDir(t);
  const cycle = async (s: Source) => {
    const out: { output?: string; body: string }[] = [];
    const report = await s.cycle!(new AbortController().signal, Date.now() + 10_000, (r) => out.push({ output: r.output, body: r.body.toString('utf8') }));
    return { report, changes: out.filter((r) => r.output === 'inventory_changes').map((r) => JSON.parse(r.body)), snapshot: out.find((r) => r.output === undefined) };
  };
  const first = await cycle(source(t, { url, track_changes: {} }, dir));
  t.equal(first.changes.length, 7, 'every device is added at the first snapshot');
  t.ok(first.snapshot, 'the snapshot record is written too');
  t.match(first.changes[0], { change: 'added', key: '1', item: { name: 'msk1-pe01' } });
  sim.items.devices.splice(3, 1); // spb2-sw01 goes
  sim.items.devices[0].description = 'moved';
  // A new source: as after a restart, the last snapshot comes from the state beside the windows.
  const second = await cycle(source(t, { url, track_changes: {} }, dir));
  t.same(second.changes.map((c) => `${c.change} ${c.key}`).sort(), ['changed 1', 'removed 4']);
  t.match(second.report, { items: 1, records: 3, failures: [] });
  t.same((await cycle(source(t, { url, track_changes: {} }, dir))).changes, [], 'nothing changed: no change records');
});
