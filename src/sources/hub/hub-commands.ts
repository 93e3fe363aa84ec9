/**
 * EGG's command language on the command port, with EGG's answers word for
 * word where EGG had them (its tools parse some of them: `/ack <port>`).
 * Commands that change the hub for everyone (/reset, /routes add|remove)
 * need an authenticated connection whenever a token is set.
 */
import type { Session } from './hub-listeners.js';
import { redactConfigDocument } from './peripheral-config.js';
import { isDataCommand } from './data-command.js';
import type { HubRegistry } from './hub-registry.js';

/** What the commands act on: the hub (egg-hub.ts). */
export interface CommandTarget {
  readonly registry: HubRegistry;
  readonly tokenSet: boolean;
  /** Whether `session` may speak for `uuid` (its owner, or authenticated); a refusal is reported by the hub. */
  mayActFor(uuid: string, session: Session, what: string): boolean;
  payload(uuid: string, payload: Buffer, session: Session): void;
  routesChanged(): void;
  reset(by: string): void;
  activity(text: string): void;
}

export const HELP_TEXT = [
  'Available commands:',
  '/help - Show this help message',
  '/list or /available - List known peripherals',
  '/routes - Manage routes',
  '    /routes help - Show routes command help',
  '/reset - Reset the orchestrator by deleting config files and restarting',
  '/exit - Exit command mode or exit the orchestrator',
  '',
].join('\n');

export const ROUTES_HELP_TEXT = [
  'Routes command usage:',
  '/routes add <route-name> <incoming-peripheral-name> <outgoing-peripheral-name> - Add a new route',
  '/routes remove <route-name> - Remove an existing route',
  '/routes info - List all routes',
  '/routes help - Show this help message',
  '',
].join('\n');

const UNKNOWN = "Unknown command. Type '/help' for available commands.";
const NEEDS_TOKEN = '/error this command needs the hub token: send /auth <token> first';

export function runCommand(line: string, s: Session, hub: CommandTarget, body?: string): void {
  const { registry } = hub;
  const tokens = line.split(/\s+/);
  const verb = tokens[0];
  if (isDataCommand(line)) {
    // `/data <uuid> <payload…>`: the payload is the rest of the line as it was sent.
    const m = /^\/data\s+(\S+)\s(.*)$/s.exec(line);
    if (!m) return s.reply('Invalid data command format.');
    if (!hub.mayActFor(m[1], s, '/data')) return s.reply(`/error uuid ${m[1]} was registered by another connection; send /auth <token> first`);
    return hub.payload(m[1], Buffer.from(m[2], 'utf8'), s);
  }
  if (verb === '/register') {
    if (tokens.length !== 4) return s.reply('Invalid register command format.');
    const port = Number(tokens[3]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return s.reply('Port must be an integer.');
    if (!hub.mayActFor(tokens[2], s, '/register')) return s.reply(`/error uuid ${tokens[2]} was registered by another connection; send /auth <token> first`);
    const p = registry.register(tokens[1], tokens[2], port, s.id);
    if (typeof p === 'string') return s.reply(p);
    hub.activity(`registered ${p.name} (port ${port})`);
    hub.routesChanged();
    return s.reply(`/ack ${p.data_port}`);
  }
  if (verb === '/update_data_port') {
    const port = Number(tokens[2]);
    if (tokens.length !== 3 || !Number.isInteger(port) || port < 1 || port > 65535) return s.reply('Usage: /update_data_port <uuid> <port>');
    if (!hub.mayActFor(tokens[1], s, '/update_data_port')) return s.reply(`/error uuid ${tokens[1]} was registered by another connection; send /auth <token> first`);
    const p = registry.updatePort(tokens[1], port);
    if (!p) return s.reply(`Peripheral '${tokens[1]}' not found; /register first.`);
    hub.activity(`${p.name} listens on port ${port} now`);
    hub.routesChanged();
    return s.reply(`/ack ${port}`);
  }
  if (verb === '/config') {
    if (tokens.length !== 2 || body === undefined) return s.reply('Usage: /config <uuid>, the configuration as JSON on the following lines, then EOF');
    if (!hub.mayActFor(tokens[1], s, '/config')) return s.reply(`/error uuid ${tokens[1]} was registered by another connection; send /auth <token> first`);
    const p = registry.describe(tokens[1], redactConfigDocument(body));
    return s.reply(p ? 'Configuration received.' : `Peripheral '${tokens[1]}' not found; /register first.`);
  }
  if (line === '/help') return s.reply(HELP_TEXT.trimEnd());
  if (line === '/list' || line === '/available') return s.reply(listPeripherals(registry));
  if (verb === '/routes') return routesCommand(tokens, s, hub);
  if (line === '/reset') {
    if (hub.tokenSet && !s.authenticated) return s.reply(NEEDS_TOKEN);
    hub.reset(`${s.remote} (command port)`);
    return s.reply('Configuration files deleted and peripherals list cleared.');
  }
  if (line === '/exit') {
    s.reply('Exiting command mode.');
    return s.close();
  }
  s.reply(UNKNOWN);
}

function routesCommand(tokens: string[], s: Session, hub: CommandTarget): void {
  const { registry } = hub;
  const action = tokens[1];
  if (!action) return s.reply("Invalid routes command. Type '/routes help' for usage.");
  if (action === 'help') return s.reply(ROUTES_HELP_TEXT.trimEnd());
  if (action === 'info') return s.reply(listRoutes(registry));
  if (action !== 'add' && action !== 'remove') return s.reply("Unknown routes command. Type '/routes help' for usage.");
  if (hub.tokenSet && !s.authenticated) return s.reply(NEEDS_TOKEN);
  if (action === 'add') {
    if (tokens.length !== 5) return s.reply('Usage: /routes add <route-name> <incoming-peripheral-name> <outgoing-peripheral-name>');
    const answer = registry.addRoute(tokens[2], tokens[3], tokens[4]);
    if (answer.endsWith('added successfully.')) {
      hub.activity(`route ${tokens[2]} added: ${tokens[3]} → ${tokens[4]}`);
      hub.routesChanged();
    }
    return s.reply(answer);
  }
  if (tokens.length !== 3) return s.reply('Usage: /routes remove <route-name>');
  const answer = registry.removeRoute(tokens[2]);
  if (answer.endsWith('removed successfully.')) {
    hub.activity(`route ${tokens[2]} removed`);
    hub.routesChanged();
  }
  s.reply(answer);
}

/** EGG's `time.strftime('%Y-%m-%d %H:%M:%S', localtime)`. */
export function localTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function listPeripherals(registry: HubRegistry): string {
  if (registry.peripherals.size === 0) return 'No peripherals discovered.';
  const lines = ['Known peripherals:'];
  let i = 1;
  for (const p of registry.peripherals.values()) lines.push(`${i++}. ${p.name} (UUID: ${p.uuid}, Port: ${p.port}, Last Seen: ${localTime(p.lastSeenMs)})`);
  return lines.join('\n');
}

export function listRoutes(registry: HubRegistry): string {
  if (registry.routes.size === 0) return 'No routes configured.';
  const lines = ['Configured routes:'];
  for (const r of registry.routes.values()) {
    lines.push(`Route Name: ${r.name}`);
    lines.push(`  From: ${registry.nameOf(r.incoming) ?? 'Unknown'} (UUID: ${r.incoming}, Port: ${r.incoming_port})`);
    lines.push(`  To: ${registry.nameOf(r.outgoing) ?? 'Unknown'} (UUID: ${r.outgoing}, Port: ${r.outgoing_port})`);
    lines.push(`  Last Used: ${r.last_used ? localTime(r.last_used * 1000) : 'Never'}`);
  }
  return lines.join('\n');
}
