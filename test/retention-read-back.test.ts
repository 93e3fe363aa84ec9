/**
 * Retention at start with a database sink that is away: the windows the last
 * run left for the sink to read back (its state file) are kept, even while the
 * sink is still connecting (a database that does not answer holds its start
 * for the connection timeout, and the index check is done long before).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { startNsr, tempDir } from './helpers.js';
import { makeWindow } from './zipped-windows.js';

const HOUR = 3_600_000;

t.test('retention waits for the sinks: a window a database sink must still read back stays while the sink connects', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  // Two days old, beyond max_age: retention would remove them, but the last run had not written them to the database.
  const old = Date.now() - 48 * HOUR;
  const files = [await makeWindow(out, 'graphinfo', old), await makeWindow(out, 'graphinfo', old + 600_000)];
  writeFileSync(path.join(out, '.nsr.postgres.json'), JSON.stringify({ inserted_below: { graphinfo: old } }));
  // A database that accepts connections and never answers: the sink's start waits for its connection timeout.
  const sockets = new Set<Socket>();
  const server = createServer((s) => void sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  writeFileSync(
    path.join(dir, 'r.yaml'),
    [
      'output: {dir: out, window: 1m, retention: {max_age: 1h}}',
      `postgres: {url: "postgres://nsr@127.0.0.1:${port}/nsr"}`,
      'shutdown: {grace: 1s}',
      'streams:',
      '  graphinfo: {kind: ndtwin, kernel: "http://127.0.0.1:9", data: graph, interval: 1s, postgres: true}',
      '',
    ].join('\n'),
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '8s']);
  const { code } = await nsr.exit;
  t.equal(code, 0, nsr.output().slice(-1500));
  for (const f of files) t.ok(existsSync(path.join(out, f)), `${f} is kept for the read-back`);
  t.notMatch(nsr.output(), /"event":"retention_deleted"/, 'nothing removed');
  t.match(nsr.output(), /"event":"retention_blocked".*"protected_by":"read_back"/, 'the block is reported');
});
