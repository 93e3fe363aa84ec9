// What the simulator serves, read once from fixtures/ndtwin/ (bodies captured from a real
// kernel, dumped by nlohmann): the two dynamic bodies as templates, the static endpoints
// verbatim, and the kernel's own 404/500 error bodies (built-in copies when missing).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from '../fixture-dirs.js';
import { remapFlowPathDpids, remapGraphDpids } from './mininet-dpids.js';
import type { SwitchDpids } from './options.js';
import { buildFlowTemplate, buildGraphTemplate, type Template } from './template.js';

/**
 * Endpoints answered with their fixture as is (when the fixture exists). The Top-K
 * route is not among them: it is ranked from the current flows (top-k-flows.ts).
 */
const STATIC_ENDPOINTS = [
  'get_power_report',
  'get_cpu_utilization',
  'get_memory_utilization',
  'get_temperature',
  'get_switches_power_state',
  'get_average_link_usage',
  'get_switch_openflow_table_entries',
] as const;

const NOT_FOUND_FALLBACK = '{"error":"Not Found"}';
const ERROR_500_FIXTURES: [name: string, fallback: string][] = [
  ['500_internal_server_error.json', '{"details":"std::bad_alloc","error":"Internal server error"}'],
  ['500_unknown.json', '{"error":"An unknown error occurred"}'],
];

export interface NdtwinFixtures {
  /** /ndt/get_detected_flow_data */
  flowTpl: Template;
  /** /ndt/get_graph_data */
  graphTpl: Template;
  /** request path → body */
  staticBodies: Map<string, Buffer>;
  notFound: Buffer;
  /** the kernel's 500 bodies, served in turn by the http_500 fault */
  error500Bodies: Buffer[];
}

function readFixture(dir: string, name: string): string | undefined {
  const p = join(dir, name);
  if (!existsSync(p)) return undefined;
  let s = readFileSync(p, 'utf8');
  // Fixtures follow nlohmann dump (no trailing newline); be tolerant anyway.
  while (s.endsWith('\n') || s.endsWith('\r')) s = s.slice(0, -1);
  return s;
}

export function defaultFixturesDir(): string {
  return fixturesDir('ndtwin');
}

/**
 * Read the fixtures of a topology. The testbed's bodies already carry uint64 DPIDs; the
 * Mininet ones keep their DPIDs 1…N, or with `dpids: 'testbed'` get uint64 ones from
 * mininet-dpids.ts. Throws when a dynamic body is missing.
 */
export function loadFixtures(dir: string, topology: 'mininet' | 'testbed', dpids: SwitchDpids): NdtwinFixtures {
  const testbed = topology === 'testbed';

  const flowName = 'get_detected_flow_data.json';
  const graphName = testbed ? 'get_graph_data_testbed_u64_dpid.json' : 'get_graph_data.json';
  let flowText = readFixture(dir, flowName);
  let graphText = readFixture(dir, graphName);
  if (flowText === undefined) throw new Error(`simulator fixture missing: ${join(dir, flowName)}`);
  if (graphText === undefined) throw new Error(`simulator fixture missing: ${join(dir, graphName)}`);
  if (!flowText.startsWith('[')) throw new Error(`${flowName}: expected a JSON array`);
  if (!graphText.startsWith('{') || !graphText.endsWith('}')) throw new Error(`${graphName}: expected a JSON object`);
  if (!testbed && dpids === 'testbed') {
    flowText = remapFlowPathDpids(flowText);
    graphText = remapGraphDpids(graphText);
  }
  const flowTpl = buildFlowTemplate(flowText);
  const graphTpl = buildGraphTemplate(graphText);

  const staticBodies = new Map<string, Buffer>();
  for (const name of STATIC_ENDPOINTS) {
    const body = (testbed ? readFixture(dir, `${name}_testbed.json`) : undefined) ?? readFixture(dir, `${name}.json`);
    if (body !== undefined) staticBodies.set(`/ndt/${name}`, Buffer.from(body, 'utf8'));
  }
  const notFound = Buffer.from(readFixture(join(dir, 'errors'), '404_not_found.json') ?? NOT_FOUND_FALLBACK, 'utf8');
  const error500Bodies = ERROR_500_FIXTURES.map(([name, fallback]) =>
    Buffer.from(readFixture(join(dir, 'errors'), name) ?? fallback, 'utf8'),
  );
  return { flowTpl, graphTpl, staticBodies, notFound, error500Bodies };
}
