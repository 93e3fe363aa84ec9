/**
 * EGG's state files, read at start and written back in EGG's own format, so
 * an existing deployment carries over and EGG's tools still read them:
 * `orch.cf` (settings, peripherals, script_uuid) and `routes.cf` (a list of
 * routes), both JSON indented by 4 as Python's json.dump writes them. Keys
 * nsr does not know are kept as they were. Written whole under a fresh
 * temporary and renamed (never half a file, never through a link).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { readOwnFileSync, replaceOwnFileSync } from '../../fs/safe-files.js';

export const ORCH_FILE = 'orch.cf';
export const ROUTES_FILE = 'routes.cf';

export interface EggPeripheral {
  name: string;
  uuid: string;
  /** What the peripheral told of itself (/info lines, /config), secrets replaced: never verbatim. */
  config: string;
  /** The peripheral's own listening port: routes deliver there, discovery asks /info there. */
  port: number;
  /** Epoch seconds (a float, as Python's time.time()). */
  last_seen: number;
  data_port?: number;
}

export interface EggRoute {
  name: string;
  incoming: string;
  outgoing: string;
  incoming_port: number;
  outgoing_port: number;
  /** Epoch seconds of the last delivery, null before the first. */
  last_used: number | null;
}

export interface EggState {
  /** orch.cf as read, whatever nsr does not manage itself (known_ports, scan_interval, and unknown keys). */
  orch: Record<string, unknown>;
  peripherals: EggPeripheral[];
  routes: EggRoute[];
  script_uuid: string;
  /** What was wrong with the files (each a sentence): they are read leniently, as EGG does, and the problems reported. */
  problems: string[];
}

/** Reads orch.cf and routes.cf from `dir`; missing files are a fresh start, broken entries are skipped and reported. */
export function readEggState(dir: string): EggState {
  const problems: string[] = [];
  const orch = readJson(path.join(dir, ORCH_FILE), problems);
  const orchObject = orch && typeof orch === 'object' && !Array.isArray(orch) ? (orch as Record<string, unknown>) : {};
  if (orch !== undefined && orchObject !== orch) problems.push(`${ORCH_FILE}: expected a JSON object; starting with no peripherals`);
  const peripherals: EggPeripheral[] = [];
  const rawPeripherals = Array.isArray(orchObject.peripherals) ? orchObject.peripherals : [];
  for (const [i, p] of rawPeripherals.entries()) {
    const parsed = peripheralOf(p);
    if (parsed) peripherals.push(parsed);
    else problems.push(`${ORCH_FILE}: peripherals[${i}] lacks a name, uuid or port; skipped`);
  }
  const routesRaw = readJson(path.join(dir, ROUTES_FILE), problems);
  const routes: EggRoute[] = [];
  if (routesRaw !== undefined && !Array.isArray(routesRaw)) problems.push(`${ROUTES_FILE}: expected a JSON list of routes; starting with none`);
  for (const [i, r] of (Array.isArray(routesRaw) ? routesRaw : []).entries()) {
    const parsed = routeOf(r);
    if (parsed && !routes.some((x) => x.name === parsed.name)) routes.push(parsed);
    else problems.push(`${ROUTES_FILE}: [${i}] is not a route (name, incoming, outgoing, outgoing_port) or repeats a name; skipped`);
  }
  const { peripherals: _p, script_uuid, ...rest } = orchObject;
  return { orch: rest, peripherals, routes, script_uuid: typeof script_uuid === 'string' && script_uuid ? script_uuid : randomUUID(), problems };
}

/** orch.cf's text: nsr's own settings over what was read, in EGG's key order. */
export function orchText(state: { orch: Record<string, unknown>; peripherals: readonly EggPeripheral[]; script_uuid: string }, settings: { known_ports: string; scan_interval: number; command_port: number; data_port_range: string }): string {
  const { known_ports: _k, scan_interval: _s, command_port: _c, data_port_range: _d, ...unknown } = state.orch;
  return `${JSON.stringify({ ...settings, ...unknown, peripherals: state.peripherals, script_uuid: state.script_uuid }, null, 4)}\n`;
}

export function routesText(routes: readonly EggRoute[]): string {
  return `${JSON.stringify(routes, null, 4)}\n`;
}

/** Writes both files; false (nothing thrown) when they could not be written: the next save tries again. */
export function writeEggFiles(dir: string, orch: string, routes: string): string | undefined {
  try {
    replaceOwnFileSync(path.join(dir, ORCH_FILE), orch);
    replaceOwnFileSync(path.join(dir, ROUTES_FILE), routes);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function readJson(file: string, problems: string[]): unknown {
  let text: Buffer | undefined;
  try {
    text = readOwnFileSync(file);
  } catch (err) {
    problems.push(`${path.basename(file)}: not read (${(err as Error).message})`);
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text.toString('utf8'));
  } catch (err) {
    problems.push(`${path.basename(file)}: not JSON (${(err as Error).message}); starting without it`);
    return undefined;
  }
}

const isPort = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
const asPort = (v: unknown): number | undefined => (isPort(v) ? v : typeof v === 'string' && isPort(Number(v)) ? Number(v) : undefined);

function peripheralOf(p: unknown): EggPeripheral | undefined {
  if (!p || typeof p !== 'object') return undefined;
  const o = p as Record<string, unknown>;
  const port = asPort(o.port);
  if (typeof o.name !== 'string' || !o.name || typeof o.uuid !== 'string' || !o.uuid || port === undefined) return undefined;
  const dataPort = asPort(o.data_port);
  return {
    name: o.name,
    uuid: o.uuid,
    config: typeof o.config === 'string' ? o.config : '',
    port,
    last_seen: typeof o.last_seen === 'number' && Number.isFinite(o.last_seen) ? o.last_seen : 0,
    ...(dataPort === undefined ? {} : { data_port: dataPort }),
  };
}

function routeOf(r: unknown): EggRoute | undefined {
  if (!r || typeof r !== 'object') return undefined;
  const o = r as Record<string, unknown>;
  const outgoingPort = asPort(o.outgoing_port);
  if (typeof o.name !== 'string' || !o.name || typeof o.incoming !== 'string' || typeof o.outgoing !== 'string' || outgoingPort === undefined) return undefined;
  return {
    name: o.name,
    incoming: o.incoming,
    outgoing: o.outgoing,
    incoming_port: asPort(o.incoming_port) ?? 0,
    outgoing_port: outgoingPort,
    last_used: typeof o.last_used === 'number' && Number.isFinite(o.last_used) ? o.last_used : null,
  };
}
