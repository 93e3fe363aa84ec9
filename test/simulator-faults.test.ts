// Fault injection in the NDTwin simulator: every fault kind, the served ledger, goDown(),
// the /sim/ control endpoints, seeded plans and the `nsr simulate` fault options.
import t, { type Test } from 'tap';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NdtwinSimulator, FAULT_KINDS, type FaultKind, type FaultPlan } from '../src/simulate/ndtwin-simulator.js';
import { FaultPicker, mulberry32, parseFaultPlan } from '../src/simulate/faults.js';
import { Command } from 'commander';
import { registerSimulate } from '../src/cli/simulate.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ERRORS = new URL('../fixtures/ndtwin/errors/', import.meta.url);
const FLOW = '/ndt/get_detected_flow_data';
const GRAPH = '/ndt/get_graph_data';
const BODIES_500 = ['500_internal_server_error.json', '500_unknown.json'].map((f) => readFileSync(new URL(f, ERRORS), 'utf8'));

interface Outcome {
  status?: number;
  headers?: http.IncomingHttpHeaders;
  body: Buffer;
  /** the request or the response failed (refused, reset, aborted, timed out) */
  error?: NodeJS.ErrnoException;
  ms: number;
}

/** One request on a fresh connection; never rejects: what happened is in the outcome. */
function request(
  url: string,
  path: string,
  opts: { method?: string; body?: string; timeoutMs?: number; agent?: http.Agent | false } = {},
): Promise<Outcome> {
  const u = new URL(url);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const out: Outcome = { body: Buffer.alloc(0), ms: 0 };
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (err?: NodeJS.ErrnoException): void => {
      if (done) return;
      done = true;
      out.body = Buffer.concat(chunks);
      out.ms = Date.now() - t0;
      if (err) out.error = err;
      resolve(out);
    };
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', agent: opts.agent ?? false },
      (res) => {
        out.status = res.statusCode;
        out.headers = res.headers;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish());
        res.on('error', (e) => finish(e));
        res.on('aborted', () => finish(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
      },
    );
    req.on('error', (e) => finish(e));
    if (opts.timeoutMs !== undefined) {
      req.setTimeout(opts.timeoutMs, () => {
        req.destroy(Object.assign(new Error('client timeout'), { code: 'ETIMEDOUT' }));
      });
    }
    req.end(opts.body);
  });
}

function isJson(buf: Buffer): boolean {
  try {
    JSON.parse(buf.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function started(t: Test, opts: ConstructorParameters<typeof NdtwinSimulator>[0] = {}) {
  const sim = new NdtwinSimulator({ port: 0, ...opts });
  const info = await sim.start();
  t.teardown(() => sim.stop());
  return { sim, url: info.url, port: info.port };
}

t.test('each faulty kind, rate 1: the fault is observed and nothing enters the ledger', async (t) => {
  const { sim, url } = await started(t);
  const only = (kind: FaultKind, extra: Partial<FaultPlan> = {}): void => sim.setFaults({ rate: 1, kinds: [kind], ...extra });

  only('http_500');
  const e1 = await request(url, FLOW);
  const e2 = await request(url, GRAPH);
  for (const r of [e1, e2]) {
    t.equal(r.status, 500);
    t.match(r.headers?.['content-type'], /application\/json/);
    t.ok(BODIES_500.includes(r.body.toString('utf8')), 'a 500 fixture body');
  }
  t.not(e1.body.toString(), e2.body.toString(), 'both 500 bodies are used');

  only('http_404');
  for (const p of [FLOW, GRAPH]) {
    const r = await request(url, p);
    t.equal(r.status, 404);
    t.equal(r.body.toString(), '{"error":"Not Found"}');
  }

  only('hang');
  const h = await request(url, GRAPH, { timeoutMs: 300 });
  t.equal(h.status, undefined, 'hang: no response at all');
  t.equal(h.error?.code, 'ETIMEDOUT');
  t.ok(h.ms >= 280);
  await t.rejects(fetch(url + FLOW, { signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' }, 'hang with fetch');

  only('trickle', { trickleMs: 2000 });
  // a client with a timeout shorter than trickleMs: headers come, the body does not
  const res = await fetch(url + GRAPH, { signal: AbortSignal.timeout(400) });
  t.equal(res.status, 200);
  await t.rejects(res.arrayBuffer(), { name: 'TimeoutError' }, 'trickle body outlasts the client timeout');
  // a patient client gets the whole valid body, slowly; still not in the ledger
  only('trickle', { trickleMs: 400 });
  const tr = await request(url, FLOW);
  t.equal(tr.status, 200);
  t.equal(tr.body.length, Number(tr.headers?.['content-length']));
  t.ok(isJson(tr.body), 'trickled body is complete and valid');
  t.ok(tr.ms >= 350, `took ${tr.ms} ms`);

  only('reset');
  for (const p of [FLOW, GRAPH]) {
    const r = await request(url, p);
    const len = Number(r.headers?.['content-length']);
    t.equal(r.status, 200);
    t.ok(len > 1000, 'full Content-Length announced');
    t.ok(r.body.length > 0 && r.body.length < len, `part of the body (${r.body.length}/${len})`);
    t.ok(r.error, `then the connection breaks (${r.error?.code ?? ''} ${r.error?.message ?? ''})`);
  }

  only('malformed');
  for (const p of [FLOW, GRAPH]) {
    const r = await request(url, p);
    t.equal(r.status, 200);
    t.match(r.headers?.['content-type'], /application\/json/);
    t.equal(r.body.length, Number(r.headers?.['content-length']), 'complete as announced');
    t.ok(r.body.length > 100);
    t.notOk(isJson(r.body), 'not valid JSON');
    t.notOk(r.error);
  }

  only('empty');
  for (const p of [FLOW, GRAPH]) {
    const r = await request(url, p);
    t.equal(r.status, 200);
    t.equal(r.headers?.['content-length'], '0');
    t.equal(r.body.length, 0);
  }

  await sleep(50);
  t.same(sim.served(), {}, 'no faulty response in the ledger');
  const ledger = await request(url, '/sim/served');
  t.same(JSON.parse(ledger.body.toString()), {});
  t.same(sim.faultCounts(), { http_500: 2, http_404: 2, hang: 2, trickle: 2, reset: 2, malformed: 2, empty: 2, large: 0 });

  // static endpoints are never faulted
  only('http_500');
  t.equal((await request(url, '/ndt/get_power_report')).status, 200);

  sim.setFaults(null);
  const ok = await request(url, GRAPH);
  t.equal(ok.status, 200);
  const seq = (JSON.parse(ok.body.toString()) as { sim_seq: number }).sim_seq;
  t.same(sim.served(), { [GRAPH]: [seq] }, 'setFaults(null): normal answers, recorded again');
});

t.test('large: valid JSON above 30 MB with the marker, in the ledger', async (t) => {
  const { sim, url } = await started(t);
  sim.setFaults({ rate: 1, kinds: ['large'] });

  const f = await request(url, FLOW);
  t.equal(f.status, 200);
  t.equal(f.body.length, Number(f.headers?.['content-length']));
  t.ok(f.body.length > 30e6 && f.body.length < 42e6, `flow body ${f.body.length} bytes`);
  const ftext = f.body.toString('utf8');
  const flows = JSON.parse(ftext) as Record<string, unknown>[];
  t.ok(Array.isArray(flows) && flows.length > 64 * 500, `${flows.length} flows`);
  t.type(flows[0]!.sim_seq, 'number', 'first object keeps the marker');
  t.equal(ftext.indexOf('"sim_seq"', ftext.indexOf('"sim_seq"') + 1), -1, 'exactly one marker');
  t.same(Object.keys(flows[64]!), Object.keys(flows[0]!).filter((k) => k !== 'sim_seq'), 'copies are flow objects');
  t.notOk('sim_seq' in flows[64]!, 'the copy of the first object has no marker');

  const g = await request(url, GRAPH);
  t.equal(g.status, 200);
  t.ok(g.body.length > 30e6 && g.body.length < 42e6, `graph body ${g.body.length} bytes`);
  const gtext = g.body.toString('utf8');
  const graph = JSON.parse(gtext) as { edges: unknown[]; nodes: unknown[]; sim_seq: number };
  t.same(Object.keys(graph), ['edges', 'nodes', 'sim_seq']);
  t.equal(graph.nodes.length, 138, 'nodes unchanged');
  t.ok(graph.edges.length > 288 * 100, `${graph.edges.length} edges`);
  t.ok(gtext.endsWith(`,"sim_seq":${graph.sim_seq}}`));

  // second request: cached parts, new marker
  const t0 = Date.now();
  const g2 = await request(url, GRAPH);
  const seq2 = Number(/"sim_seq":(\d+)\}$/.exec(g2.body.toString('latin1'))![1]);
  t.comment(`second large graph answered in ${Date.now() - t0} ms`);
  t.equal(g2.body.length - String(seq2).length, g.body.length - String(graph.sim_seq).length, 'same body apart from the marker');

  await sleep(20);
  t.same(sim.served(), { [FLOW]: [flows[0]!.sim_seq as number], [GRAPH]: [graph.sim_seq, seq2] });
  t.equal(sim.faultCounts().large, 3);

  // the size follows largeBytes
  sim.setFaults({ rate: 1, kinds: ['large'], largeBytes: 2_000_000 });
  const small = await request(url, FLOW);
  t.ok(small.body.length >= 2_000_000 && small.body.length < 2_000_000 + 40_000, `about largeBytes (${small.body.length})`);
  t.ok(isJson(small.body));
});

t.test('goDown: refused while down, answering again afterwards', async (t) => {
  const { sim, url } = await started(t);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  t.equal((await request(url, FLOW, { agent })).status, 200, 'keep-alive socket open');
  sim.setFaults({ rate: 1, kinds: ['hang'], paths: [GRAPH] });
  const hanging = request(url, GRAPH);
  await sleep(50);

  const t0 = Date.now();
  const down = sim.goDown(600);
  const h = await hanging;
  t.ok(h.error, `open requests are cut (${h.error?.code ?? ''})`);
  await sleep(50); // let the client see its idle keep-alive socket closed
  const r1 = await request(url, FLOW, { agent });
  t.equal(r1.error?.code, 'ECONNREFUSED', `keep-alive client: refused (${r1.error?.message ?? ''})`);
  const r2 = await request(url, FLOW);
  t.equal(r2.error?.code, 'ECONNREFUSED', 'new connection: refused');
  await down;
  t.ok(Date.now() - t0 >= 590, 'down for the whole time');
  const r3 = await request(url, FLOW, { agent });
  t.equal(r3.status, 200, 'answering again on the same port');
  t.ok(isJson(r3.body));

  // called twice: the later end wins, one promise
  const t1 = Date.now();
  const a = sim.goDown(200);
  const b = sim.goDown(400);
  t.equal(a, b);
  await a;
  t.ok(Date.now() - t1 >= 390);
  t.equal((await request(url, FLOW)).status, 200);

  await t.rejects(sim.goDown(-1), RangeError);
});

t.test('goDown then stop(): resolves, does not listen again', async (t) => {
  const sim = new NdtwinSimulator({ port: 0 });
  const { url } = await sim.start();
  const down = sim.goDown(5000);
  await sleep(50);
  const t0 = Date.now();
  await sim.stop();
  await down;
  t.ok(Date.now() - t0 < 1000, 'stop() ended the down time');
  await sleep(100);
  t.equal((await request(url, FLOW)).error?.code, 'ECONNREFUSED', 'still closed');
  await t.rejects(sim.goDown(10), /not running/);
  // and it can be started again
  const again = await sim.start();
  t.equal((await request(again.url, FLOW)).status, 200);
  await sim.stop();
});

t.test('HTTP control endpoints', async (t) => {
  const { sim, url } = await started(t);
  const post = (path: string, body?: string) => request(url, path, { method: 'POST', ...(body !== undefined ? { body } : {}) });

  const p1 = await post('/sim/faults', JSON.stringify({ rate: 1, kinds: ['http_500'], paths: [FLOW] }));
  t.equal(p1.status, 204);
  t.equal((await request(url, FLOW)).status, 500);
  t.equal((await request(url, GRAPH)).status, 200, 'paths restricts the faults');
  const info = JSON.parse((await request(url, '/sim/faults')).body.toString()) as { plan: FaultPlan; counts: Record<string, number> };
  t.equal(info.counts.http_500, 1);
  t.same(info.plan.kinds, ['http_500']);
  t.same(sim.faultPlan()?.paths, [FLOW]);

  const bad = await post('/sim/faults', '{"rate":1,');
  t.equal(bad.status, 400);
  t.match(JSON.parse(bad.body.toString()), { error: 'JSON parsing error' });
  const invalid = await post('/sim/faults', JSON.stringify({ rate: 2, kinds: ['hang'] }));
  t.equal(invalid.status, 400);
  t.match(JSON.parse(invalid.body.toString()), { error: 'Invalid fault plan', details: /rate/ });
  t.equal((await post('/sim/faults', JSON.stringify({ rate: 1, kinds: ['nope'] }))).status, 400);
  t.equal((await request(url, FLOW)).status, 500, 'a rejected plan leaves the old one');

  t.equal((await post('/sim/faults', 'null')).status, 204);
  t.equal(sim.faultPlan(), null);
  t.equal((await request(url, FLOW)).status, 200);

  t.equal((await request(url, '/sim/served?pretty=1')).status, 200, 'query strings allowed on /sim/');
  t.equal((await request(url, FLOW + '?x=1')).status, 404, 'but not on /ndt/');
  t.equal((await request(url, '/sim/faults', { method: 'PUT' })).status, 404);
  t.equal((await post('/sim/down')).status, 400, 'ms required');
  t.equal((await post('/sim/down?ms=-5')).status, 400);

  const d = await post('/sim/down?ms=500');
  t.equal(d.status, 202);
  const t0 = Date.now();
  await sleep(30);
  t.equal((await request(url, FLOW)).error?.code, 'ECONNREFUSED', 'down after 202');
  let back: Outcome | undefined;
  while (Date.now() - t0 < 3000) {
    const r = await request(url, FLOW);
    if (r.status === 200) {
      back = r;
      break;
    }
    await sleep(25);
  }
  t.equal(back?.status, 200, 'up again');
  t.ok(Date.now() - t0 >= 450, `down for ~500 ms (${Date.now() - t0})`);
});

t.test('seeded plans are reproducible', async (t) => {
  const plan: FaultPlan = { rate: 0.5, kinds: ['http_500', 'http_404', 'empty', 'malformed'], seed: 42 };
  const run = async (p: FaultPlan): Promise<string[]> => {
    const sim = new NdtwinSimulator({ port: 0, faults: p });
    const { url } = await sim.start();
    const seen: string[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const r = await request(url, i % 2 ? FLOW : GRAPH);
        seen.push(r.status !== 200 ? String(r.status) : r.body.length === 0 ? 'empty' : isJson(r.body) ? 'ok' : 'malformed');
      }
    } finally {
      await sim.stop();
    }
    return seen;
  };
  const a = await run(plan);
  const b = await run(plan);
  t.same(a, b, 'same seed, same faults');
  t.ok(a.includes('ok') && a.some((x) => x !== 'ok'), a.join(' '));
  t.not((await run({ ...plan, seed: 7 })).join(), a.join(), 'another seed, other faults');

  // the picker itself: same seed, same choices; rate 0 never, rate 1 always
  const pick = (seed: number) => {
    const p = new FaultPicker({ rate: 0.3, kinds: [...FAULT_KINDS], seed });
    return Array.from({ length: 200 }, (_, i) => p.pick(i % 3 ? FLOW : GRAPH));
  };
  t.same(pick(1), pick(1));
  const picks = pick(1);
  const share = picks.filter((x) => x !== null).length / picks.length;
  t.ok(share > 0.15 && share < 0.45, `about 30% faulted (${share})`);
  t.ok(new Set(picks.filter((x) => x !== null)).size >= 6, 'kinds chosen among all');
  t.equal(new FaultPicker({ rate: 0, kinds: ['hang'], seed: 1 }).pick(FLOW), null);
  t.equal(new FaultPicker({ rate: 1, kinds: ['hang'] }).pick(FLOW), 'hang');
  t.equal(new FaultPicker({ rate: 1, kinds: ['hang'], paths: [GRAPH] }).pick(FLOW), null);
  const r = mulberry32(5);
  const s = mulberry32(5);
  t.same([r(), r(), r()], [s(), s(), s()]);
});

t.test('plan validation', async (t) => {
  const sim = new NdtwinSimulator({ port: 0 });
  const bad: [unknown, RegExp][] = [
    [{ rate: 1.5, kinds: ['hang'] }, /rate/],
    [{ rate: 0.5, kinds: [] }, /kinds/],
    [{ rate: 0.5, kinds: ['boom'] }, /unknown fault kind "boom"/],
    [{ rate: 0.5, kinds: ['hang'], paths: ['/ndt/get_power_report'] }, /not a faultable endpoint/],
    [{ rate: 0.5, kinds: ['hang'], seed: 1.5 }, /seed/],
    [{ rate: 0.5, kinds: ['hang'], trickleMs: -1 }, /trickleMs/],
    [{ rate: 0.5, kinds: ['hang'], largeBytes: 'big' }, /largeBytes/],
    [{ rate: 0.5, kinds: ['hang'], rat: 1 }, /unknown field 'rat'/],
    [[], /expected an object/],
  ];
  for (const [plan, msg] of bad) t.throws(() => sim.setFaults(plan as FaultPlan), msg, JSON.stringify(plan));
  t.throws(() => new NdtwinSimulator({ faults: { rate: -1, kinds: ['hang'] } }), /rate/);
  t.same(parseFaultPlan({ rate: 0.1, kinds: ['empty'] }), {
    rate: 0.1,
    kinds: ['empty'],
    paths: [FLOW, GRAPH],
    seed: undefined,
    trickleMs: 5000,
    largeBytes: 40_000_000,
  });
});

t.test('nsr simulate: --fault-rate, --faults, --seed', async (t) => {
  // Usage errors in-process: process.exit and stderr stubbed (validation runs before listening).
  class Exit extends Error {
    constructor(readonly code: number) {
      super(`exit ${code}`);
    }
  }
  const usage = async (args: string[]): Promise<{ code: number | undefined; stderr: string }> => {
    const program = new Command().exitOverride((e) => {
      throw new Exit(e.exitCode === 0 ? 0 : 2);
    });
    program.configureOutput({ writeErr: () => undefined });
    registerSimulate(program);
    let stderr = '';
    const exit = process.exit;
    const write = process.stderr.write;
    process.exit = ((code?: number) => {
      throw new Exit(code ?? 0);
    }) as typeof process.exit;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += chunk.toString();
      return true;
    }) as typeof process.stderr.write;
    try {
      await program.parseAsync(['simulate', '--port', '0', ...args], { from: 'user' });
      return { code: undefined, stderr };
    } catch (err) {
      if (err instanceof Exit) return { code: err.code, stderr };
      throw err;
    } finally {
      process.exit = exit;
      process.stderr.write = write;
    }
  };
  const cases: [string[], RegExp][] = [
    [['--fault-rate', '1.5'], /invalid --fault-rate '1\.5': expected a probability between 0 and 1/],
    [['--fault-rate', 'often'], /invalid --fault-rate 'often'/],
    [['--fault-rate', '0.1', '--faults', 'hang,boom'], /unknown fault kind 'boom'/],
    [['--fault-rate', '0.1', '--faults', ''], /invalid --faults/],
    [['--faults', 'hang'], /--faults needs --fault-rate/],
    [['--fault-rate', '0.1', '--seed', 'x'], /invalid --seed 'x': expected an integer/],
    [['--seed', '3'], /--seed needs --fault-rate/],
  ];
  for (const [args, msg] of cases) {
    const r = await usage(args);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, msg);
  }

  // A working one in a child process (under tap's TypeScript loader, no build needed):
  // every request faulted with 404, SIGTERM ends it cleanly.
  const loader = process.execArgv.filter((a) => a.includes('typescript'));
  const script = `
    import { Command } from 'commander';
    const { registerSimulate } = await import(${JSON.stringify(new URL('../src/cli/simulate.ts', import.meta.url).href)});
    const program = new Command();
    registerSimulate(program);
    await program.parseAsync(['simulate', '--port', '0', '--fault-rate', '1', '--faults', 'http_404', '--seed', '3'], { from: 'user' });
  `;
  const child = spawn(process.execPath, [...loader, '--input-type=module', '-e', script], { cwd: ROOT });
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  let stdout = '';
  let stderr = '';
  let status: number | undefined;
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    const m = /listening on (http:\S+)/.exec(stdout);
    if (m && status === undefined && stdout.includes('injecting faults')) {
      status = 0;
      void request(m[1]!, FLOW).then((r) => {
        status = r.status;
        child.kill('SIGTERM');
      });
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(killer);
  t.equal(status, 404, `faults active ${stderr}`);
  t.match(stdout, /injecting faults into 100% of the flow\/graph requests \(http_404\), seed 3/);
  t.equal(code, 0, 'SIGTERM: clean exit');
});
