/**
 * What the hub knows: peripherals by uuid and routes by name, as EGG keeps
 * them (its orch.cf and routes.cf entries), plus who may speak for each uuid.
 * One owner of all of it, used from one thread: no locks to order. Every
 * change calls `changed`, which schedules one debounced write of the files.
 */
import type { EggPeripheral, EggRoute, EggState } from './egg-state.js';

/** A uuid, a name or a route name: printable, no spaces (they are split on spaces), bounded. */
const TOKEN = /^[\x21-\x7e]{1,128}$/;
/** At most this many of each: a flood of registrations costs a refusal, not memory. */
export const MAX_PERIPHERALS = 10_000;
export const MAX_ROUTES = 1000;

export interface Peripheral extends EggPeripheral {
  /** Epoch ms of the last thing heard from it (a line, a registration, a scan reply). */
  lastSeenMs: number;
}

export type ConnectionId = number;

export class HubRegistry {
  readonly peripherals = new Map<string, Peripheral>();
  readonly routes = new Map<string, EggRoute>();
  /** The connection that registered each uuid this run: only it, or a connection with the token, may speak for the uuid. */
  private readonly owners = new Map<string, ConnectionId>();
  private nextDataPort = 0;

  constructor(
    loaded: Pick<EggState, 'peripherals' | 'routes'>,
    private readonly dataPorts: readonly number[],
    private readonly changed: () => void,
    private readonly now: () => number,
  ) {
    // Loaded peripherals count as seen at the start: EGG wrote monotonic clock values into last_seen, and a restart must not forget everyone at once.
    const start = now();
    for (const p of loaded.peripherals) this.peripherals.set(p.uuid, { ...p, lastSeenMs: Math.max(start, p.last_seen * 1000) });
    for (const r of loaded.routes) this.routes.set(r.name, { ...r });
    this.nextDataPort = this.peripherals.size;
  }

  static validToken(s: string): boolean {
    return TOKEN.test(s);
  }

  /** EGG's `/register`: adds or updates the uuid, hands it a data port (round robin over data_ports, as EGG does). */
  register(name: string, uuid: string, port: number, conn: ConnectionId): Peripheral | string {
    if (!TOKEN.test(name) || !TOKEN.test(uuid)) return 'Invalid register command format.';
    let p = this.peripherals.get(uuid);
    if (!p && this.peripherals.size >= MAX_PERIPHERALS) return `Registration refused: the hub knows ${MAX_PERIPHERALS} peripherals already.`;
    const now = this.now();
    if (p) {
      p.port = port;
      p.last_seen = now / 1000;
      p.lastSeenMs = now;
    } else {
      const dataPort = this.dataPorts[this.nextDataPort++ % this.dataPorts.length];
      p = { name: this.uniqueName(name), uuid, config: '', port, last_seen: now / 1000, data_port: dataPort, lastSeenMs: now };
      this.peripherals.set(uuid, p);
    }
    p.data_port ??= this.dataPorts[0];
    this.owners.set(uuid, conn);
    this.syncRoutePorts(uuid, port);
    this.changed();
    return p;
  }

  /** A uuid registered by another connection needs the token to be spoken for. */
  mayActFor(uuid: string, conn: ConnectionId, authenticated: boolean): boolean {
    if (authenticated) return true;
    const owner = this.owners.get(uuid);
    return owner === undefined || owner === conn;
  }

  /** Heard from: not expiring. Cheap (called per line); the file keeps the time of the next save. */
  touch(uuid: string): Peripheral | undefined {
    const p = this.peripherals.get(uuid);
    if (p) p.lastSeenMs = this.now();
    return p;
  }

  /** `/update_data_port <uuid> <port>`: the peripheral listens elsewhere now; its routes follow. */
  updatePort(uuid: string, port: number): Peripheral | undefined {
    const p = this.touch(uuid);
    if (!p) return undefined;
    p.port = port;
    this.syncRoutePorts(uuid, port);
    this.changed();
    return p;
  }

  /** What a peripheral said of itself (/info, /config), already without its secrets. */
  describe(uuid: string, config: string): Peripheral | undefined {
    const p = this.touch(uuid);
    if (!p) return undefined;
    p.config = config;
    this.changed();
    return p;
  }

  /** A discovery reply: a known uuid is updated, a new one added under a unique name. */
  discovered(name: string, uuid: string, config: string, port: number): { peripheral: Peripheral; added: boolean } | undefined {
    if (!TOKEN.test(name) || !TOKEN.test(uuid)) return undefined;
    const existing = this.peripherals.get(uuid);
    if (existing) {
      existing.port = port;
      existing.config = config;
      this.touch(uuid);
      this.syncRoutePorts(uuid, port);
      this.changed();
      return { peripheral: existing, added: false };
    }
    if (this.peripherals.size >= MAX_PERIPHERALS) return undefined;
    const now = this.now();
    const p: Peripheral = { name: this.uniqueName(name), uuid, config, port, last_seen: now / 1000, lastSeenMs: now };
    this.peripherals.set(uuid, p);
    this.changed();
    return { peripheral: p, added: true };
  }

  byName(name: string): Peripheral | undefined {
    for (const p of this.peripherals.values()) if (p.name === name) return p;
    return undefined;
  }

  /** By name or uuid (operators use either). */
  find(nameOrUuid: string): Peripheral | undefined {
    return this.peripherals.get(nameOrUuid) ?? this.byName(nameOrUuid);
  }

  /** EGG's `/routes add`, with EGG's answers. */
  addRoute(name: string, incomingName: string, outgoingName: string): string {
    if (!TOKEN.test(name)) return 'Usage: /routes add <route-name> <incoming-peripheral-name> <outgoing-peripheral-name>';
    const incoming = this.byName(incomingName);
    const outgoing = this.byName(outgoingName);
    if (!incoming) return `Incoming peripheral '${incomingName}' not found.`;
    if (!outgoing) return `Outgoing peripheral '${outgoingName}' not found.`;
    if (this.routes.has(name)) return `Route '${name}' already exists.`;
    if (this.routes.size >= MAX_ROUTES) return `Route '${name}' not added: the hub has ${MAX_ROUTES} routes already.`;
    this.routes.set(name, { name, incoming: incoming.uuid, outgoing: outgoing.uuid, incoming_port: incoming.port, outgoing_port: outgoing.port, last_used: null });
    this.changed();
    return `Route '${name}' added successfully.`;
  }

  removeRoute(name: string): string {
    if (!this.routes.delete(name)) return `Route '${name}' not found.`;
    this.changed();
    return `Route '${name}' removed successfully.`;
  }

  /** Forgets a peripheral (an operator's command, or expiry); its routes stay, and work again when it registers again. */
  removePeripheral(uuid: string): Peripheral | undefined {
    const p = this.peripherals.get(uuid);
    if (!p) return undefined;
    this.peripherals.delete(uuid);
    this.owners.delete(uuid);
    this.changed();
    return p;
  }

  /** Peripherals unheard for longer than `afterMs`: forgotten, and returned for the event. */
  expire(afterMs: number): Peripheral[] {
    const horizon = this.now() - afterMs;
    const gone = [...this.peripherals.values()].filter((p) => p.lastSeenMs < horizon);
    for (const p of gone) this.removePeripheral(p.uuid);
    return gone;
  }

  /** EGG's `/reset`: no peripherals, no routes. */
  reset(): void {
    this.peripherals.clear();
    this.routes.clear();
    this.owners.clear();
    this.nextDataPort = 0;
    this.changed();
  }

  /** A route delivered at `atMs`: last_used, written with the next save (never a write per message). */
  used(route: string, atMs: number): void {
    const r = this.routes.get(route);
    if (r) r.last_used = atMs / 1000;
  }

  nameOf(uuid: string): string | undefined {
    return this.peripherals.get(uuid)?.name;
  }

  /** The peripherals as orch.cf lists them (last_seen from the live time). */
  eggPeripherals(): EggPeripheral[] {
    return [...this.peripherals.values()].map(({ lastSeenMs, ...p }) => ({ ...p, last_seen: lastSeenMs / 1000 }));
  }

  eggRoutes(): EggRoute[] {
    return [...this.routes.values()];
  }

  /** EGG gives a second "ASR_Engine" the name "ASR_Engine_2", a third "_3". */
  private uniqueName(name: string): string {
    if (!this.byName(name)) return name;
    for (let i = 2; ; i++) if (!this.byName(`${name}_${i}`)) return `${name}_${i}`;
  }

  /** Routes name ports as well as uuids (EGG's format): keep them in step with the peripheral. */
  private syncRoutePorts(uuid: string, port: number): void {
    for (const r of this.routes.values()) {
      if (r.incoming === uuid) r.incoming_port = port;
      if (r.outgoing === uuid) r.outgoing_port = port;
    }
  }
}
