// nsr stop: finds the recorder through its pidfile, stops it, and reports how it stopped.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NdtwinSimulator } from '../src/simulate/ndtwin-simulator.js';
import { NSR, sleep, startNsr, tempDir } from './helpers.js';

t.test('stops a running recorder cleanly; says so when none runs', async (t) => {
  const dir = tempDir(t);
  const sim = new NdtwinSimulator({ port: 0 });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  writeFileSync(path.join(dir, 'r.yaml'), `streams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n`);
  const recorder = startNsr(dir, ['run', '-c', 'r.yaml']);
  await sleep(2500);
  // spawnSync would block this process, and with it the simulator: run it async
  const stop = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [NSR, 'stop', '-c', 'r.yaml'], { cwd: dir });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('exit', (code: number | null) => resolve({ code, out }));
  });
  t.equal(stop.code, 0, stop.out);
  t.match(stop.out, new RegExp(`sent SIGTERM to pid ${recorder.pid}`));
  t.match(stop.out, /stopped cleanly in [\d.]+ s: every fetched record written and compressed/);
  t.equal((await recorder.exit).code, 0, 'the recorder itself exited 0');

  const none = spawnSync(process.execPath, [NSR, 'stop', '-c', 'r.yaml'], { cwd: dir, encoding: 'utf8' });
  t.equal(none.status, 1);
  t.match(none.stderr, /no recorder is running for .* \(no live pid in .*\.nsr\.lock\)/);
});
