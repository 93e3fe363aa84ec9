/** How `nsr status` and `nsr hub show` draw a hub stream: peripherals, routes, recent activity. */

export interface HubStatus {
  listen: string;
  connections: number;
  received: number;
  unrouted: number;
  peripherals: { name: string; uuid: string; port: number; data_port: number | null; last_seen_ms: number; lines: number }[];
  routes: { name: string; from: string; to: string; to_port: number; connected: boolean; queue: number; delivered: number; overflowed: number; possibly_lost: number; last_used_ms: number | null }[];
  activity: { at: number; text: string }[];
}

export function renderHub(stream: string, h: HubStatus, now: number): string[] {
  const lines = [`hub ${stream}  listening ${h.listen}  connections ${h.connections}  lines ${h.received} (${h.unrouted} with no route)`];
  const peripherals = [['PERIPHERAL', 'UUID', 'PORT', 'DATA PORT', 'LAST SEEN', 'LINES'], ...h.peripherals.map((p) => [p.name, p.uuid, String(p.port), String(p.data_port ?? '-'), `${seconds(p.last_seen_ms)} ago`, String(p.lines)])];
  lines.push(...table(peripherals).map((l) => `  ${l}`));
  const routes = [['ROUTE', 'FROM → TO', 'STATE', 'LAST USED', 'QUEUE', 'DELIVERED', 'OVERFLOW', 'MAYBE LOST'], ...h.routes.map((r) => [r.name, `${r.from} → ${r.to}:${r.to_port}`, r.connected ? 'connected' : 'away', r.last_used_ms === null ? 'never' : `${seconds(r.last_used_ms)} ago`, String(r.queue), String(r.delivered), String(r.overflowed), String(r.possibly_lost)])];
  lines.push(...table(routes).map((l) => `  ${l}`));
  for (const a of h.activity.slice(-5)) lines.push(`  ${seconds(now - a.at)} ago  ${a.text}`);
  return lines;
}

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}m`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}
