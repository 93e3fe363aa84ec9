// nsr check: validates the configuration, fetches each stream once, says what it got.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NdtwinSimulator } from '../src/simulate/ndtwin-simulator.js';
import { NSR, tempDir } from './helpers.js';

function nsr(cwd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, ...args], { cwd });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

t.test('good and bad streams are told apart, with the reason', async (t) => {
  const dir = tempDir(t);
  const sim = new NdtwinSimulator({ port: 0 });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  writeFileSync(path.join(dir, 'ok.yaml'), `streams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph}\n`);
  const ok = await nsr(dir, ['check', '-c', 'ok.yaml']);
  t.equal(ok.code, 0, ok.out);
  t.match(ok.out, /ok\s+flowinfo: .*get_detected_flow_data answered [\d.]+ KB of valid JSON in \d+ ms/);
  t.match(ok.out, /ok\s+graphinfo: /);

  writeFileSync(path.join(dir, 'bad.yaml'), `streams:\n  down: {kind: ndtwin, kernel: "http://127.0.0.1:9", data: flow}\n  wrong: {kind: http, url: "${url}/ndt/get_graph_data", expect: array}\n  missing: {kind: http, url: "${url}/ndt/nope"}\n`);
  const bad = await nsr(dir, ['check', '-c', 'bad.yaml']);
  t.equal(bad.code, 1);
  t.match(bad.out, /FAIL\s+down: .*connection_refused/);
  t.match(bad.out, /FAIL\s+wrong: .*unexpected_body: expected a JSON array/);
  t.match(bad.out, /FAIL\s+missing: .*http_404: HTTP 404 .*Not Found/);
  t.equal(sim.served()['/ndt/get_detected_flow_data']?.length, 1, 'one fetch per stream, nothing recorded');

  writeFileSync(path.join(dir, 'broken.yaml'), 'streams: [');
  const broken = await nsr(dir, ['check', '-c', 'broken.yaml']);
  t.equal(broken.code, 2);
  t.match(broken.out, /not valid YAML/);
});
