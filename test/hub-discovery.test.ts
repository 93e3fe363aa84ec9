// The discovery scan's promise of what it never touches: the hub's own ports
// (a data port would take `/info` for a sender's uuid), even when the
// configured list names them. The hub run as bin/nsr is tested in
// hub-operations.test.ts; which ports a scan connects to is seen here, where
// listeners can stand in for the hub's ports.
import t from 'tap';
import { runDiscovery } from '../src/sources/hub/discovery.js';
import { fakePeripheral, freePorts, waitFor } from './hub-helpers.js';

t.test('a scan probes the configured ports, never the hub\'s own', async (t) => {
  const [ownCmd, ownData, peer] = await freePorts(3);
  const own = await Promise.all([ownCmd, ownData].map((p) => fakePeripheral(p, 'Hub\nuuid-hub\nEOF\n')));
  const other = await fakePeripheral(peer, 'Peer\nuuid-peer\nkey=abc\nEOF\n');
  t.teardown(() => Promise.all([...own, other].map((f) => f.close())));
  const stop = new AbortController();
  const found: string[] = [];
  const running = runDiscovery({ host: '127.0.0.1', ports: [ownCmd, ownData, peer], own: new Set([ownCmd, ownData]), intervalMs: 50, rate: 100, timeoutMs: 2000 }, (reply, port) => found.push(`${reply.name} ${reply.uuid} ${port}`), stop.signal);
  await waitFor('three scans of the peer', () => found.length >= 3, 20_000);
  stop.abort();
  await running;
  t.equal(own[0].connections + own[1].connections, 0, 'the hub\'s command and data ports were never connected to');
  t.same([...new Set(found)], [`Peer uuid-peer ${peer}`], 'the peer was found, each scan');
  t.equal(other.received.split('\n').filter(Boolean).every((l) => l === '/info'), true, 'with /info');
});
