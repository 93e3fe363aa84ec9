/**
 * `nsr hub …`: the operator's hand on a running hub stream, over the
 * recorder's control server: list peripherals and routes, add or remove a
 * route, forget a peripheral. Changes are commands, so they carry the control
 * token (control.token, or the one the recorder wrote into its output
 * directory, readable by its user only).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { readControlToken } from '../pipeline/control-token.js';
import { configOption, EXIT_OK, EXIT_RUNTIME, fail, OperatorError, resolveConfigFile } from './common.js';
import { runningRecorder } from './running-recorder.js';
import { renderHub, type HubStatus } from './hub-status.js';

interface HubOptions {
  config?: string;
  stream?: string;
}

interface Target {
  url: string;
  stream: string;
  readToken: string | undefined;
  commandToken: () => string;
}

export function registerHub(program: Command): void {
  const hub = program.command('hub').description("a running hub stream (EGG's orchestrator): peripherals, routes, changes");
  const opts = (c: Command) => c.addOption(configOption()).option('--stream <name>', 'the hub stream (default: the only one of kind hub)');
  opts(hub.command('show').description('peripherals (last seen), routes (last used, queue) and recent activity')).action((o: HubOptions) => run(o, async (t) => show(t)));
  const route = hub.command('route').description('add or remove a route');
  opts(route.command('add <route> <from> <to>').description('add a route: every line <from> sends goes to <to> (peripheral names)')).action((name: string, from: string, to: string, o: HubOptions) =>
    run(o, (t) => change(t, 'route_add', { route: name, from, to })),
  );
  opts(route.command('remove <route>').description('remove a route (what it still queues is reported undelivered)')).action((name: string, o: HubOptions) => run(o, (t) => change(t, 'route_remove', { route: name })));
  const peripheral = hub.command('peripheral').description('forget a peripheral');
  opts(peripheral.command('remove <peripheral>').description('forget a peripheral (name or uuid); its routes stay and work again when it registers')).action((p: string, o: HubOptions) => run(o, (t) => change(t, 'peripheral_remove', { peripheral: p })));
}

async function run(o: HubOptions, action: (t: Target) => Promise<number>): Promise<void> {
  try {
    process.exitCode = await action(await target(o));
  } catch (err) {
    fail(err);
  }
}

async function target(o: HubOptions): Promise<Target> {
  const { loadConfig } = await import('../config/loader.js');
  const loaded = loadConfig(resolveConfigFile(o.config));
  const hubs = loaded.streams.filter((s) => s.kind === 'hub').map((s) => s.name);
  const stream = o.stream ?? (hubs.length === 1 ? hubs[0] : undefined);
  if (!stream) throw new OperatorError(hubs.length === 0 ? 'the configuration has no stream of kind hub' : `the configuration has ${hubs.length} hub streams (${hubs.join(', ')}): name one with --stream`);
  const dir = path.resolve(loaded.config.output.dir);
  const lock = runningRecorder(dir, '; start one with nsr run');
  if (!lock.controlUrl) throw new OperatorError(`the recorder (pid ${lock.pid}) has no control server: control.enabled is false in its configuration, or it is still starting`);
  const configured = loaded.control.token;
  return {
    url: lock.controlUrl,
    stream,
    readToken: configured,
    commandToken: () => {
      if (configured) return configured;
      const read = readControlToken(dir);
      if (!read) throw new OperatorError(`no control token in ${dir}: run nsr hub as the recorder's user`);
      if ('problem' in read) throw new OperatorError(`the control token file in ${dir} cannot be used: ${read.problem}`);
      return read.token;
    },
  };
}

async function show(t: Target): Promise<number> {
  const res = await request(t, `${t.url}/status`, { headers: t.readToken ? { authorization: `Bearer ${t.readToken}` } : {} });
  const status = (await res.json()) as { now: number; streams: Record<string, { hub?: HubStatus }> };
  const hub = status.streams[t.stream]?.hub;
  if (!hub) throw new OperatorError(`the running recorder has no hub stream "${t.stream}"`);
  process.stdout.write(`${renderHub(t.stream, hub, status.now).join('\n')}\n`);
  return EXIT_OK;
}

async function change(t: Target, action: string, args: Record<string, string>): Promise<number> {
  const res = await request(t, `${t.url}/streams/${encodeURIComponent(t.stream)}/source/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.commandToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
  const body = (await res.json()) as { message?: string; error?: string };
  process.stdout.write(`${body.message ?? body.error ?? JSON.stringify(body)}\n`);
  return res.ok ? EXIT_OK : EXIT_RUNTIME;
}

async function request(t: Target, url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new OperatorError(`the recorder does not answer on ${t.url} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
  }
  if (res.status === 401) throw new OperatorError(`the control server at ${t.url} refused the token: ${(await res.text()).trim()}`);
  if (res.status >= 500 || res.status === 400 || res.status === 415) throw new OperatorError(`the control server at ${t.url} answered ${res.status} ${(await res.text()).trim()}`);
  return res;
}
