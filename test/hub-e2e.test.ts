// The hub (kind: hub) run as bin/nsr, with three peripheral processes speaking
// EGG's protocol (test/egg/peripheral.mjs, as EGG's asr, llm and tts do): they
// register, routes A→B and B→C are added over the command port, 10,000 lines
// go A→B→C; B is killed and restarted mid-stream; the hub is SIGTERMed and
// restarted with its routes and peripherals. Everything read back from the
// archives and the events stream.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, readArchives, readEvents, sleep, startNsr, tempDir, type NsrProcess } from './helpers.js';
import { hubCommands } from './hub-helpers.js';

const PERIPHERAL = path.join(ROOT, 'test', 'egg', 'peripheral.mjs');

/** A base port per run, so parallel test files do not collide. */
// Below Linux's ephemeral range (32768 and up), where outgoing connections take their local ports.
const BASE = 20000 + Math.floor(Math.random() * 120) * 100;

interface Peripheral {
  child: ChildProcess;
  send(line: string): void;
  output: () => string;
}

async function peripheral(t: Tap.Test, cwd: string, args: string[]): Promise<Peripheral> {
  const child = spawn(process.execPath, [PERIPHERAL, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  t.teardown(() => void child.kill('SIGKILL'));
  // Generous: on a busy machine a node process takes seconds to start and register.
  for (const until = Date.now() + 30_000; Date.now() < until && !/^ready \d+/m.test(out); ) await sleep(50);
  if (!/^ready \d+/m.test(out)) throw new Error(`peripheral ${args.join(' ')} did not register: ${out}`);
  return { child, send: (line) => child.stdin!.write(`${line}\n`), output: () => out };
}

async function waitFor(what: string, check: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function startHub(dir: string): Promise<NsrProcess> {
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  await waitFor('the hub to listen', () => nsr.output().includes('hub listening'), 15_000);
  return nsr;
}

const linesOf = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

t.test('A→B→C: 10,000 lines recorded once and delivered once in order; B killed mid-stream; the hub restarted with its state', async (t) => {
  const dir = tempDir(t);
  const cmd = BASE;
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\nstreams:\n  egg: {kind: hub, command_port: ${cmd}, data_ports: "${cmd + 1}-${cmd + 3}"}\n`);
  const out = path.join(dir, 'out');
  let nsr = await startHub(dir);
  // Whichever hub runs when the test ends (a failing test left one running, spinning, for 40 minutes).
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {
      // it stopped already
    }
  });
  const common = ['--hub', String(cmd)];
  const a = await peripheral(t, dir, ['--role', 'source', '--name', 'ASR_Engine', '--uuid', 'uuid-a', '--port', String(cmd + 11), ...common]);
  const bArgs = ['--role', 'relay', '--prefix', 'b:', '--name', 'LLM_Engine', '--uuid', 'uuid-b', '--port', String(cmd + 12), ...common];
  let b = await peripheral(t, dir, bArgs);
  await peripheral(t, dir, ['--role', 'sink', '--out', 'c.txt', '--name', 'TTS_Engine', '--uuid', 'uuid-c', '--port', String(cmd + 13), ...common]);
  const answers = await hubCommands(cmd, ['/routes add asr_llm ASR_Engine LLM_Engine', '/routes add llm_tts LLM_Engine TTS_Engine', '/routes add asr_llm ASR_Engine LLM_Engine', '/nonsense']);
  t.match(answers, /Route 'asr_llm' added successfully\.\nRoute 'llm_tts' added successfully\.\nRoute 'asr_llm' already exists\.\nUnknown command\. Type '\/help' for available commands\./);

  // 10,000 lines, nothing in the way.
  const cFile = path.join(dir, 'c.txt');
  a.send('send 10000 5000 a-');
  await waitFor('C to receive 10,000 lines', () => linesOf(cFile).length >= 10_000, 30_000);
  await sleep(300);
  const first = linesOf(cFile);
  t.equal(first.length, 10_000, 'C received each line once');
  t.ok(first.every((l, i) => l === `b:a-${i}`), 'in the order A sent them, through B');

  // B killed (SIGKILL) mid-stream and started again on its port.
  a.send('send 6000 2000 x-');
  await waitFor('the second run to reach C', () => linesOf(cFile).length > 10_500, 20_000);
  b.child.kill('SIGKILL');
  await sleep(700);
  b = await peripheral(t, dir, bArgs);
  await waitFor('A to finish', () => a.output().split('sent').length === 3, 20_000);
  // A's last line reaching C, then a second without news: a pause of a few polls is no proof on a loaded machine.
  await waitFor("A's last line at C", () => linesOf(cFile).at(-1) === 'b:x-5999', 60_000).catch(() => {});
  let stable = -1;
  let still = 0;
  await waitFor('C to settle', () => {
    const n = linesOf(cFile).length;
    still = n === stable ? still + 1 : 0;
    stable = n;
    return still >= 20;
  }, 30_000).catch(() => {});
  const second = linesOf(cFile).slice(10_000).map((l) => Number(/^b:x-(\d+)$/.exec(l)?.[1]));
  t.ok(second.every((n, i) => Number.isInteger(n) && (i === 0 || n > second[i - 1])), 'after the restart still in order, none twice');
  const got = new Set(second);
  const missing = [...Array(6000).keys()].filter((i) => !got.has(i));
  t.ok(missing.length < 6000 && got.has(5999), `B's restart resumed delivery (${missing.length} lines missing)`);

  // The hub stops (SIGTERM) cleanly…
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-2000));
  const records = (await readArchives(out, 'egg')).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  const fromA = records.filter((r) => r.uuid === 'uuid-a');
  t.equal(fromA.length, 16_000, 'every line A sent recorded, once');
  t.ok(fromA.every((r, i) => r.seq === i + 1 && r.name === 'ASR_Engine' && r.payload === (i < 10_000 ? `a-${i}` : `x-${i - 10_000}`)), 'in order, with name, sequence and payload');
  t.ok(fromA.every((r) => r.forward.asr_llm === 'queued' && typeof r.timestamp === 'number'), 'each with its forwarding outcome');
  const fromB = records.filter((r) => r.uuid === 'uuid-b');
  t.equal(new Set(fromB.map((r) => r.payload)).size, fromB.length, 'what B sent recorded once each');
  t.equal(fromB.length, 10_000 + second.length, 'everything B sent was recorded (and C got it)');
  // …and every line lost with B is inside what a route_disconnected event reported.
  const events = await readEvents(out);
  const lost = events.filter((e) => e.event === 'route_disconnected' && e.route === 'asr_llm');
  t.ok(lost.length >= 1, 'the broken connection to B is an event');
  const reported = (i: number) => lost.some((e) => e.from === 'uuid-a' && e.first_seq <= 10_001 + i && 10_001 + i <= e.last_seq);
  t.same(missing.filter((i) => !reported(i)), [], `every missing line (${missing.length}) is inside a reported range (${lost.map((e) => `${e.first_seq}-${e.last_seq}: ${e.possibly_lost}`).join(', ')})`);

  // EGG's files, written back in EGG's format.
  const orch = JSON.parse(readFileSync(path.join(out, 'orch.cf'), 'utf8'));
  t.same(Object.keys(orch), ['known_ports', 'scan_interval', 'command_port', 'data_port_range', 'peripherals', 'script_uuid']);
  t.same(orch.peripherals.map((p: { name: string }) => p.name).sort(), ['ASR_Engine', 'LLM_Engine', 'TTS_Engine']);
  const routes = JSON.parse(readFileSync(path.join(out, 'routes.cf'), 'utf8'));
  t.match(routes, [
    { name: 'asr_llm', incoming: 'uuid-a', outgoing: 'uuid-b', incoming_port: cmd + 11, outgoing_port: cmd + 12, last_used: Number },
    { name: 'llm_tts', incoming: 'uuid-b', outgoing: 'uuid-c', incoming_port: cmd + 12, outgoing_port: cmd + 13, last_used: Number },
  ]);

  // Restarted: the routes and peripherals are there, and lines flow again.
  nsr = await startHub(dir);
  const listed = await hubCommands(cmd, ['/list', '/routes info']);
  t.match(listed, /Known peripherals:\n1\. .*\n2\. .*\n3\. /);
  t.match(listed, /Route Name: asr_llm\n {2}From: ASR_Engine \(UUID: uuid-a, Port: \d+\)\n {2}To: LLM_Engine/);
  t.match(listed, /Route Name: llm_tts/);
  // A's and B's data connections went with the old hub; peripherals reconnect as EGG's do: one connection per message.
  const before = linesOf(cFile).length;
  await new Promise<void>((resolve) => {
    const s = net.connect(cmd + 1, '127.0.0.1', () => s.end('uuid-b\nafter restart\n'));
    s.on('close', () => resolve());
  });
  await waitFor('a line through the restarted hub', () => linesOf(cFile).length > before, 10_000);
  t.equal(linesOf(cFile).at(-1), 'after restart', 'B→C delivers after the restart');
  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0);
});
