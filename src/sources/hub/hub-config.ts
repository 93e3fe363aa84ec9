/**
 * The `hub` stream's settings: where the EGG-compatible listeners bind, where
 * the orchestrator's state files live, how routes queue and reconnect, and
 * the opt-in discovery scan. Port lists take EGG's spelling ("6001-6099",
 * "6200,6205-6210") as well as a list of numbers, so an `orch.cf` value can
 * be copied as it is.
 */
import { z } from 'zod';
import { commonStreamFields, duration, secret, size } from '../../config/schema-types.js';
import { isLoopbackHost } from '../../control/local-address.js';

/** At most this many ports in one list: a typo such as 1-65535 must not open 65k listeners. */
const MAX_PORTS = 1024;

/** "6001-6099" or "6000,6005-6010" → ports, or a problem naming what is wrong. */
export function parsePortList(text: string): number[] | string {
  const ports: number[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(part);
    if (!m) return `"${part.slice(0, 40)}" is not a port or a range such as 6001-6099`;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to > 65535 || to < from) return `"${part}" is not a range of ports between 1 and 65535 (low-high)`;
    if (ports.length + (to - from + 1) > MAX_PORTS) return `more than ${MAX_PORTS} ports; list only the ports the peripherals use`;
    for (let p = from; p <= to; p++) ports.push(p);
  }
  return [...new Set(ports)];
}

/** A port list as EGG writes it, or as numbers: both become a sorted list of ports. */
const portList = (what: string) =>
  z
    .union([z.string(), z.array(z.int().min(1).max(65535)).min(1)], { error: `expected ${what} as a range such as "6001-6099" (or a list of port numbers)` })
    .transform((v, ctx) => {
      const ports = typeof v === 'string' ? parsePortList(v) : [...new Set(v)];
      if (typeof ports === 'string') {
        ctx.addIssue({ code: 'custom', message: `expected ${what} such as "6001-6099": ${ports}` });
        return z.NEVER;
      }
      return ports.sort((a, b) => a - b);
    })
    .meta({ description: `${what}: "6001-6099", "6200,6205-6210" or [6001, 6002]` });

const discoverySchema = z.strictObject({
  ports: portList('the ports scanned for peripherals (the hub never probes its own ports)'),
  interval: duration('the time between scans').default(30_000),
  rate: z.int().min(1).max(1000).default(20).meta({ description: 'probes per second at most (a scan never floods the machine)' }),
  timeout: duration('how long one probe waits for its /info reply').default(1000),
});

export const hubSchema = z
  .strictObject({
    kind: z.literal('hub'),
    host: z.string().min(1).default('127.0.0.1').meta({ description: 'the address the command and data listeners bind (loopback by default; anything else needs token)' }),
    command_port: z.int().min(1).max(65535).default(6000).meta({ description: "EGG's command port (/register, /routes, /list …)" }),
    data_ports: portList('the data ports (first line the sender uuid, then one payload a line)').default([...Array(99)].map((_, i) => 6001 + i)),
    token: secret('a shared secret: connections send `/auth <token>` first; /reset and route changes need it, and so does speaking for a uuid another connection registered'),
    require_auth: z.boolean().default(false).meta({ description: 'every connection must send /auth <token> first, loopback included (with token set)' }),
    state_dir: z.string().min(1).optional().meta({ description: "the directory of EGG's orch.cf and routes.cf (read at start, written back in EGG's format); default the output directory" }),
    peripheral_host: z.string().min(1).default('127.0.0.1').meta({ description: 'where routes deliver: the host of the peripherals\' own ports (EGG: localhost)' }),
    route_queue: z.int().min(1).max(10_000_000).default(100_000).meta({ description: 'lines each route holds while its peripheral is slow or away; past it, lines are not forwarded (counted, route_overflow event)' }),
    max_line: size('the longest line accepted from a peripheral').default(1024 * 1024),
    reconnect_min: duration('the first wait before a route reconnects').default(100),
    reconnect_max: duration('the longest wait between a route\'s reconnects').default(5000),
    unconfirmed_window: duration('lines written to a peripheral this recently when its connection breaks are reported as possibly lost').default(2000),
    expire_after: duration('how long a peripheral may go unheard (no line, registration or scan reply) before it is forgotten').default(600_000),
    save_delay: duration("how long changes gather before orch.cf and routes.cf are written").default(1000),
    discovery: discoverySchema.optional().meta({ description: 'opt-in: scan these ports for peripherals answering /info' }),
    ...commonStreamFields,
  })
  .superRefine((cfg, ctx) => {
    if (cfg.data_ports.includes(cfg.command_port)) {
      ctx.addIssue({ code: 'custom', path: ['command_port'], message: `command_port ${cfg.command_port} is also one of data_ports (${cfg.data_ports[0]}-${cfg.data_ports[cfg.data_ports.length - 1]}); a port is either for commands or for data: choose e.g. command_port: 6000, data_ports: "6001-6099"` });
    }
    if (!isLoopbackHost(cfg.host) && !cfg.token) {
      ctx.addIssue({ code: 'custom', path: ['host'], message: `host ${cfg.host} is beyond loopback, and no token is set: anyone who reaches it could reset the hub, change routes or speak as any peripheral; set token: \${NSR_HUB_TOKEN} or host: 127.0.0.1` });
    }
    if (cfg.require_auth && !cfg.token) {
      ctx.addIssue({ code: 'custom', path: ['require_auth'], message: 'require_auth: true needs token: ${NSR_HUB_TOKEN} (the secret connections send with /auth)' });
    }
    if (cfg.reconnect_max < cfg.reconnect_min) {
      ctx.addIssue({ code: 'custom', path: ['reconnect_max'], message: `reconnect_max (${cfg.reconnect_max} ms) is shorter than reconnect_min (${cfg.reconnect_min} ms); e.g. reconnect_min: 100ms, reconnect_max: 5s` });
    }
  });

export type HubConfig = z.output<typeof hubSchema>;

/** The hub's own ports: never probed by discovery, never a peripheral's. */
export function hubPorts(cfg: HubConfig): Set<number> {
  return new Set([cfg.command_port, ...cfg.data_ports]);
}

/** EGG writes port lists as "6001-6099": runs of consecutive ports become ranges. */
export function formatPortList(ports: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1] === ports[j] + 1) j++;
    parts.push(i === j ? String(ports[i]) : `${ports[i]}-${ports[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
