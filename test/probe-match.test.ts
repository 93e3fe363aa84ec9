// A probe's `match:` comes from whoever writes the configuration, the CSV file
// or the targets table, and the body it runs on from whatever the URL answers.
// Neither may stall the recorder: `^(a+)+$` on a 27-byte body (which V8's
// backtracking RegExp takes seconds over) leaves another stream's ticks and
// /healthz on time; patterns RE2 cannot run in linear time are refused by
// name; and a match looks at the first match_bytes of a body only.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { ProbeSimulator } from '../src/simulate/probe-simulator.js';
import { compileBodyMatch } from '../src/sources/probe/body-match.js';
import { pgSchema, readArchives, readEvents, sleep, startNsr, tempDir, type NsrProcess } from './helpers.js';

const EVIL_PATTERN = '^(a+)+$';
// 26 × "a" then a byte that fails the match: a backtracking engine tries every way to split the a's.
const EVIL_BODY = `${'a'.repeat(26)}!`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function probeSimulator(t: Tap.Test): Promise<{ sim: ProbeSimulator; url: string }> {
  const sim = new ProbeSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  return { sim, url };
}

/** Milliseconds /healthz took to answer (its status is not the point: that it answers). */
async function healthzMs(control: string): Promise<number> {
  const start = performance.now();
  try {
    await (await fetch(`${control}/healthz`, { signal: AbortSignal.timeout(20_000) })).text();
  } catch {
    return Infinity;
  }
  return performance.now() - start;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const openWindowLines = (out: string, stream: string) => (existsSync(out) ? readdirSync(out).filter((f) => f.endsWith(`_${stream}.json`)).flatMap((f) => lines(path.join(out, f))) : []);

/**
 * Runs nsr with a `steady` stream (an HTTP fetch every 200 ms) beside the
 * probe streams given (`name: yaml` lines), for 3 s and until each of them has
 * recorded 3 probes (20 s at most), while /healthz is asked every 100 ms; then
 * stops it and returns what a user sees.
 */
async function runBesideSteadyStream(t: Tap.Test, dir: string, url: string, probeStreams: Record<string, string>, extraYaml = '') {
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}
control: {port: ${port}}
${extraYaml}streams:
  steady: {kind: http, url: "${url}/p/steady?body=%7B%22ok%22%3A1%7D", interval: 200ms, timeout: 150ms}
${Object.entries(probeStreams).map(([name, yaml]) => `  ${name}: ${yaml}\n`).join('')}`,
  );
  const control = `http://127.0.0.1:${port}`;
  const out = path.join(dir, 'out');
  const nsr: NsrProcess = startNsr(dir, ['run', '-c', 'r.yaml']);
  let exited = false;
  void nsr.exit.then(() => (exited = true));
  t.teardown(() => void (exited || process.kill(nsr.pid, 'SIGKILL')));
  // Up: the control server answers and the steady stream records.
  for (let i = 0; i < 200 && !(openWindowLines(out, 'steady').length > 0 && (await healthzMs(control)) < Infinity); i++) await sleep(100);
  const health: number[] = [];
  const start = Date.now();
  const probed = () => Object.keys(probeStreams).every((name) => openWindowLines(out, name).length >= 3);
  while ((!probed() || Date.now() - start < 3000) && Date.now() - start < 20_000 && !exited) {
    health.push(await healthzMs(control));
    await sleep(100);
  }
  if (!exited) process.kill(nsr.pid, 'SIGTERM');
  const { code } = await nsr.exit;
  t.equal(code, 0, `nsr stopped cleanly\n${nsr.output().slice(-1500)}`);
  const records = async (stream: string) => (await readArchives(out, stream)).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  const steady = (await records('steady')).map((r) => r.timestamp as number);
  const gaps = steady.slice(1).map((ts, i) => ts - steady[i]);
  const probes = Object.fromEntries(await Promise.all(Object.keys(probeStreams).map(async (name) => [name, await records(name)] as const)));
  return { health, gaps, probes, events: await readEvents(out) };
}

t.test(`${EVIL_PATTERN} on a 27-byte body, from the YAML file and from a probe_targets row: no stall`, async (t) => {
  const dir = tempDir(t);
  const { url } = await probeSimulator(t);
  const streams: Record<string, string> = {
    from_yaml: `{kind: probe, targets: [{id: evil, url: "${url}/p/evil?body=${EVIL_BODY}", interval: 1s, timeout: 900ms, match: "${EVIL_PATTERN}"}]}`,
  };
  let extra = '';
  // The table half needs the machine's PostgreSQL (a visible skip without it, a failure in CI).
  const db = await pgSchema(t);
  if (db) {
    writeFileSync(path.join(dir, 'r.yaml'), `postgres: {url: "${db.url}"}\nstreams:\n  from_table: {kind: probe, targets_table: probe_targets}\n`);
    const init = startNsr(dir, ['db', 'init', '-c', 'r.yaml']);
    t.equal((await init.exit).code, 0, init.output());
    await db.query('INSERT INTO probe_targets (id, url, interval_ms, timeout_ms, match) VALUES ($1, $2, 1000, 900, $3), ($4, $5, 1000, 900, $6)', ['evil', `${url}/p/evil?body=${EVIL_BODY}`, EVIL_PATTERN, 'peek', `${url}/p/peek`, 'ok(?=!)']);
    streams.from_table = '{kind: probe, targets_table: probe_targets}';
    extra = `postgres: {url: "${db.url}"}\n`;
  }
  const run = await runBesideSteadyStream(t, dir, url, streams, extra);
  for (const [name, records] of Object.entries(run.probes)) {
    const evil = records.filter((r) => r.target === 'evil');
    t.ok(evil.length >= 3, `${name}: the evil target was probed ${evil.length} times`);
    t.ok(evil.every((r) => r.match === false && r.error === null), `${name}: each probe: the body does not match, no error`);
    const slowest = Math.max(...evil.map((r) => r.latency_ms.total));
    t.ok(slowest < 1000, `${name}: each probe, match included, took well under a second (slowest ${slowest} ms)`);
  }
  const maxGap = Math.max(...run.gaps);
  t.ok(run.gaps.length >= 10 && maxGap < 1000, `the steady stream (every 200 ms) kept its ticks: ${run.gaps.length + 1} records, longest gap ${maxGap} ms`);
  const maxHealth = Math.max(...run.health);
  t.ok(run.health.length >= 10 && maxHealth < 1000, `/healthz answered fast meanwhile: ${run.health.length} requests, slowest ${Math.round(maxHealth)} ms`);
  if (db) {
    t.notOk(run.probes.from_table.some((r) => r.target === 'peek'), 'the lookahead row is not probed');
    t.match(run.events.find((e) => e.event === 'targets_rejected'), { stream: 'from_table', count: 1, problems: [/^probe_targets row 2: peek: match: "ok\(\?=!\)" uses a lookahead \(\?=…\).*e\.g\. foo\(\?=bar\) → foobar/] }, 'reported with its row, target and pattern, and an RE2 form');
  }
});

t.test('a lookbehind in the YAML file is refused at start (exit 2) with the target, the pattern and an RE2 form', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'r.yaml'), `streams:\n  p: {kind: probe, targets: [{id: web1, url: "http://127.0.0.1:9/", match: "(?<=id=)\\\\d+"}]}\n`);
  // --for: a build that accepted the pattern would record and stop, not hang the test.
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  t.equal((await nsr.exit).code, 2);
  t.match(nsr.output(), /streams\.p\.targets\.0: web1: match: "\(\?<=id=\)\\\\d\+" uses a lookbehind \(\?<=…\), which nsr's regular expressions \(RE2 syntax, matched in linear time so that no pattern can stall the recorder\) do not have; match the text itself, e\.g\. \(\?<=id=\)\\d\+ → id=\\d\+/);
});

t.test('what RE2 cannot run in linear time is refused by name, with a form it accepts; JavaScript spellings still work', async (t) => {
  const refused: [string, RegExp][] = [
    ['foo(?=bar)', /uses a lookahead \(\?=…\).* foo\(\?=bar\) → foobar/],
    ['<b>(?!error)', /uses a negative lookahead \(\?!…\)/],
    ['(?<!no)ok', /uses a negative lookbehind \(\?<!…\)/],
    ['(\\w+)=\\1', /uses a backreference \(\\1\).*repeat the group's pattern/],
    ['(?<w>\\w+)=\\k<w>', /uses a named backreference \(\\k<…>\)/],
    ['(?>a+)b', /uses an atomic group \(\?>…\).*\(\?:…\)/],
    ['a{2000}', /^Invalid regular expression "a\{2000\}": invalid repeat count/],
    ['(', /^Invalid regular expression "\(": missing closing \)/],
  ];
  for (const [pattern, message] of refused) t.match(compileBodyMatch(pattern), message, pattern);
  // Not refused: the same characters inside a class or escaped.
  const accepted: [string, string, string | undefined][] = [
    ['[(?=]x', 'a=x', '=x'],
    ['\\(\\?=', 'f(?=', '(?='],
    ['caf\\u00e9', 'un café', 'café'],
    ['(?<year>\\d{4})-\\d\\d', 'on 2026-11-25', '2026-11'],
    ['a/b', 'xa/by', 'a/b'],
    ['<title>Example', '<html><title>Example Domain', '<title>Example'],
    ['^(a+)+$', `${'a'.repeat(5000)}!`, undefined],
  ];
  for (const [pattern, text, found] of accepted) {
    const m = compileBodyMatch(pattern);
    t.equal(typeof m === 'string' ? m : m.find(text), found, pattern);
  }
});

t.test('a match looks at the first match_bytes of the body only (64 KB by default)', async (t) => {
  const dir = tempDir(t);
  const { sim, url } = await probeSimulator(t);
  const KB64 = 64 * 1024;
  sim.set('edge', { body: `${'x'.repeat(KB64 - 4)}MARK${'x'.repeat(100)}` }); // ends at byte 65,536: seen
  sim.set('beyond', { body: `${'x'.repeat(KB64 - 3)}MARK` }); // its last byte is the 65,537th: not seen
  sim.set('small-edge', { body: `${'x'.repeat(1020)}MARK` });
  sim.set('small-beyond', { body: `${'x'.repeat(1021)}MARK` });
  const target = (id: string) => `{id: ${id}, url: "${url}/p/${id}", match: MARK}`;
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out}\nstreams:\n  wide: {kind: probe, interval: 1s, targets: [${target('edge')}, ${target('beyond')}]}\n  narrow: {kind: probe, interval: 1s, match_bytes: 1KB, targets: [${target('small-edge')}, ${target('small-beyond')}]}\n`,
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  let exited = false;
  void nsr.exit.then(() => (exited = true));
  const out = path.join(dir, 'out');
  const probed = () => [...openWindowLines(out, 'wide'), ...openWindowLines(out, 'narrow')].map((l) => JSON.parse(l).target);
  for (let i = 0; i < 200 && !exited && new Set(probed()).size < 4; i++) await sleep(100);
  if (!exited) process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));
  const recs = [...(await readArchives(out, 'wide')), ...(await readArchives(out, 'narrow'))].flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  const first = (id: string) => recs.find((r) => r.target === id);
  t.match(first('edge'), { match: true, matched: 'MARK', bytes: KB64 + 100 }, 'default: a match within the first 64 KB is seen');
  t.match(first('beyond'), { match: false, bytes: KB64 + 1 }, 'default: one byte past 64 KB is not seen (the bytes are still counted)');
  t.match(first('small-edge'), { match: true }, 'match_bytes: 1KB: within');
  t.match(first('small-beyond'), { match: false }, 'match_bytes: 1KB: one byte past');
});
