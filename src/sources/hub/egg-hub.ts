/**
 * The hub itself: EGG's orchestrator, rebuilt on nsr's terms. Lines come in
 * on the listeners, each is recorded once (with its forwarding outcome) and
 * queued on every route whose incoming peripheral sent it; each route
 * delivers on its own connection (route-forwarder.ts). The registry is saved
 * to EGG's orch.cf and routes.cf, debounced. Peripherals unheard for
 * `expire_after` are forgotten.
 */
import path from 'node:path';
import type { NoteEvent } from '../../logging/note-event.js';
import { formatPortList, hubPorts, type HubConfig } from './hub-config.js';
import { orchText, readEggState, routesText, writeEggFiles, type EggState } from './egg-state.js';
import { HubRegistry } from './hub-registry.js';
import { HubListeners, type LineHandler, type Session } from './hub-listeners.js';
import { runCommand, type CommandTarget } from './hub-commands.js';
import { RouteForwarder } from './route-forwarder.js';
import { runDiscovery } from './discovery.js';

/** Lines each route gets to finish delivering at the stop (they are recorded either way). */
const STOP_GRACE_MS = 2000;
const ACTIVITY_KEPT = 20;
/** While the recorder's queue is full, how often the paused listeners look again. */
const ROOM_POLL_MS = 20;

export interface HubActivity {
  at: number;
  text: string;
}

export class EggHub implements CommandTarget, LineHandler {
  readonly registry: HubRegistry;
  readonly tokenSet: boolean;
  private readonly listeners: HubListeners;
  private readonly forwarders = new Map<string, RouteForwarder>();
  private readonly state: EggState;
  private readonly seqs = new Map<string, number>();
  private readonly activityLog: HubActivity[] = [];
  private readonly discoveryStop = new AbortController();
  private emit: ((body: Buffer) => void) | undefined;
  private room: () => boolean = () => true;
  private saveTimer: NodeJS.Timeout | undefined;
  private saveFailing = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private roomTimer: NodeJS.Timeout | undefined;
  private discovery: Promise<void> | undefined;
  private closed = false;
  /** Lines taken in, and those forwarded nowhere (no route from their sender). */
  received = 0;
  unrouted = 0;

  constructor(
    private readonly cfg: HubConfig,
    private readonly stateDir: string,
    private readonly note: NoteEvent,
  ) {
    this.tokenSet = cfg.token !== undefined;
    this.state = readEggState(stateDir);
    this.registry = new HubRegistry(this.state, cfg.data_ports, () => this.scheduleSave(), Date.now);
    this.listeners = new HubListeners({ host: cfg.host, commandPort: cfg.command_port, dataPorts: cfg.data_ports, token: cfg.token, requireAuth: cfg.require_auth, maxLine: cfg.max_line }, this, note);
  }

  /** Listens (nothing is read until `run`): a port that cannot be had stops the recorder's start. */
  async open(): Promise<void> {
    for (const problem of this.state.problems) this.note('hub_state_problem', { dir: this.stateDir, problem }, 'warn', problem);
    await this.listeners.open();
    this.routesChanged();
    this.note('hub_listening', { host: this.cfg.host, command_port: this.cfg.command_port, data_ports: formatPortList(this.cfg.data_ports), peripherals: this.registry.peripherals.size, routes: this.registry.routes.size, state_dir: this.stateDir, auth: this.tokenSet ? (this.cfg.require_auth ? 'every connection' : 'beyond loopback, /reset, routes, foreign uuids') : 'none (loopback only)' }, 'info', `hub listening on ${this.cfg.host}:${this.cfg.command_port} (commands) and ${formatPortList(this.cfg.data_ports)} (data)`);
  }

  /** From here lines are read and recorded; resolves at the stop, once routes had their grace and the state is saved. */
  async run(stop: AbortSignal, room: () => boolean, emit: (body: Buffer) => void): Promise<void> {
    this.emit = emit;
    this.room = room;
    this.listeners.startReading();
    const every = Math.max(1000, Math.min(30_000, this.cfg.expire_after / 4));
    this.expiryTimer = setInterval(() => this.expire(), every);
    if (this.cfg.discovery) {
      const d = this.cfg.discovery;
      this.discovery = runDiscovery({ host: this.cfg.peripheral_host, ports: d.ports, own: hubPorts(this.cfg), intervalMs: d.interval, rate: d.rate, timeoutMs: d.timeout }, (reply, port) => {
        const found = this.registry.discovered(reply.name, reply.uuid, reply.config, port);
        if (found?.added) this.activity(`discovered ${found.peripheral.name} on port ${port}`);
        if (found) this.routesChanged();
      }, this.discoveryStop.signal);
    }
    if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
    await this.shutdown();
  }

  /** Stops listening, gives each route a moment to deliver what it holds, reports the rest, saves the state. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.discoveryStop.abort();
    clearInterval(this.expiryTimer);
    clearTimeout(this.roomTimer);
    this.listeners.setPaused(false);
    this.listeners.startReading();
    await this.listeners.close();
    await this.discovery;
    const left = await Promise.all([...this.forwarders.values()].map(async (f) => [f.route, await f.close(STOP_GRACE_MS)] as const));
    for (const [route, lines] of left) {
      if (lines > 0) this.note('route_undelivered', { route, lines }, 'warn', `route ${route}: ${lines} lines were recorded but not delivered before the stop (the peripheral was slow or away)`);
    }
    this.forwarders.clear();
    clearTimeout(this.saveTimer);
    this.save();
  }

  // ---- what the listeners hand in -------------------------------------------

  command(line: string, session: Session, body?: string): void {
    runCommand(line, session, this, body);
  }

  dataSender(uuid: string, session: Session): boolean {
    if (!HubRegistry.validToken(uuid)) {
      this.note('hub_refused', { port: session.port, remote: session.remote, reason: 'bad_uuid' }, 'warn', `a data connection to port ${session.port} did not start with a uuid; closed`);
      return false;
    }
    return this.mayActFor(uuid, session, 'data');
  }

  mayActFor(uuid: string, session: Session, what: string): boolean {
    if (!this.tokenSet || this.registry.mayActFor(uuid, session.id, session.authenticated)) return true;
    this.note('hub_refused', { port: session.port, remote: session.remote, uuid, what, reason: 'foreign_uuid' }, 'warn', `${what} for ${uuid} from ${session.remote}: that uuid was registered by another connection, and this one has not sent the token; refused`);
    return false;
  }

  /** One line from a peripheral: queued on its routes, then recorded once with what became of it. */
  payload(uuid: string, line: Buffer, session: Session): void {
    const seq = (this.seqs.get(uuid) ?? 0) + 1;
    this.seqs.set(uuid, seq);
    this.received++;
    const peripheral = this.registry.touch(uuid);
    const forward: Record<string, string> = {};
    let routed = false;
    for (const f of this.forwarders.values()) {
      const route = this.registry.routes.get(f.route);
      if (route?.incoming !== uuid) continue;
      routed = true;
      forward[f.route] = f.offer({ line: Buffer.concat([line, NEWLINE]), from: uuid, seq }) ? 'queued' : 'queue_full';
    }
    if (!routed) this.unrouted++;
    const record = { uuid, name: peripheral?.name ?? null, seq, via: session.port === this.cfg.command_port ? 'command' : 'data', port: session.port, bytes: line.length, payload: line.toString('utf8'), forward };
    this.emit!(Buffer.from(JSON.stringify(record), 'utf8'));
    if (!this.room()) this.waitForRoom();
  }

  // ---- what commands change ---------------------------------------------------

  /** Routes were added, removed or re-targeted: one forwarder per route, at its outgoing peripheral's port. */
  routesChanged(): void {
    if (this.closed) return;
    for (const [name, f] of this.forwarders) {
      const route = this.registry.routes.get(name);
      if (!route) {
        this.forwarders.delete(name);
        void f.close(0).then((left) => left > 0 && this.note('route_undelivered', { route: name, lines: left, reason: 'route_removed' }, 'warn', `route ${name} was removed with ${left} lines not yet delivered (they are recorded)`));
      } else f.retarget(route.outgoing_port);
    }
    for (const route of this.registry.routes.values()) {
      if (this.forwarders.has(route.name)) continue;
      const options = { host: this.cfg.peripheral_host, maxQueue: this.cfg.route_queue, reconnectMinMs: this.cfg.reconnect_min, reconnectMaxMs: this.cfg.reconnect_max, unconfirmedWindowMs: this.cfg.unconfirmed_window };
      this.forwarders.set(route.name, new RouteForwarder(route.name, route.outgoing_port, options, this.note, (at) => this.delivered(route.name, at)));
    }
  }

  reset(by: string): void {
    const counts = { peripherals: this.registry.peripherals.size, routes: this.registry.routes.size };
    this.registry.reset();
    this.routesChanged();
    this.note('hub_reset', { by, ...counts }, 'warn', `the hub was reset by ${by}: ${counts.peripherals} peripherals and ${counts.routes} routes forgotten`);
    this.activity('reset: every peripheral and route forgotten');
  }

  activity(text: string): void {
    this.activityLog.push({ at: Date.now(), text });
    if (this.activityLog.length > ACTIVITY_KEPT) this.activityLog.shift();
    this.note('hub_activity', { text }, 'debug');
  }

  /** `nsr hub …` over the control server: answers as HTTP status and body. */
  async control(action: string, args: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    const str = (k: string) => (typeof args[k] === 'string' ? (args[k] as string) : '');
    if (action === 'route_add') {
      const answer = this.registry.addRoute(str('route'), str('from'), str('to'));
      const ok = answer.endsWith('added successfully.');
      if (ok) {
        this.activity(`route ${str('route')} added: ${str('from')} → ${str('to')} (nsr hub)`);
        this.routesChanged();
      }
      return { status: ok ? 200 : answer.includes('already exists') ? 409 : 404, body: { applied: ok, message: answer } };
    }
    if (action === 'route_remove') {
      const answer = this.registry.removeRoute(str('route'));
      const ok = answer.endsWith('removed successfully.');
      if (ok) {
        this.activity(`route ${str('route')} removed (nsr hub)`);
        this.routesChanged();
      }
      return { status: ok ? 200 : 404, body: { applied: ok, message: answer } };
    }
    if (action === 'peripheral_remove') {
      const p = this.registry.find(str('peripheral'));
      if (!p) return { status: 404, body: { applied: false, message: `Peripheral '${str('peripheral')}' not found.`, peripherals: [...this.registry.peripherals.values()].map((x) => x.name) } };
      this.registry.removePeripheral(p.uuid);
      this.activity(`peripheral ${p.name} removed (nsr hub)`);
      return { status: 200, body: { applied: true, message: `Peripheral '${p.name}' removed.` } };
    }
    return { status: 404, body: { error: `unknown hub command ${JSON.stringify(action.slice(0, 40))}; expected route_add, route_remove or peripheral_remove` } };
  }

  /** What `nsr status` shows of the hub. */
  detail(): Record<string, unknown> {
    const now = Date.now();
    return {
      hub: {
        listen: `${this.cfg.host}:${this.cfg.command_port} + ${formatPortList(this.cfg.data_ports)}`,
        connections: this.listeners.connections,
        received: this.received,
        unrouted: this.unrouted,
        peripherals: [...this.registry.peripherals.values()].map((p) => ({ name: p.name, uuid: p.uuid, port: p.port, data_port: p.data_port ?? null, last_seen_ms: now - p.lastSeenMs, lines: this.seqs.get(p.uuid) ?? 0 })),
        routes: [...this.registry.routes.values()].map((r) => {
          const f = this.forwarders.get(r.name);
          return {
            name: r.name,
            from: this.registry.nameOf(r.incoming) ?? r.incoming,
            to: this.registry.nameOf(r.outgoing) ?? r.outgoing,
            to_port: r.outgoing_port,
            connected: f?.connected ?? false,
            queue: f?.depth ?? 0,
            delivered: f?.delivered ?? 0,
            overflowed: f?.overflowed ?? 0,
            possibly_lost: f?.possiblyLost ?? 0,
            last_used_ms: r.last_used ? now - r.last_used * 1000 : null,
          };
        }),
        activity: [...this.activityLog],
      },
    };
  }

  /** Immediate teardown (a reload retiring the stream without its run's stop). */
  destroy(): void {
    void this.shutdown();
  }

  // ---- inside -----------------------------------------------------------------

  private delivered(route: string, at: number): void {
    this.registry.used(route, at);
    this.scheduleSave();
  }

  private waitForRoom(): void {
    if (this.roomTimer) return;
    this.listeners.setPaused(true);
    const poll = () => {
      if (this.closed || this.room()) {
        this.roomTimer = undefined;
        if (!this.closed) this.listeners.setPaused(false);
        return;
      }
      this.roomTimer = setTimeout(poll, ROOM_POLL_MS);
    };
    this.roomTimer = setTimeout(poll, ROOM_POLL_MS);
  }

  private expire(): void {
    // Its sequence stays: `seq` counts a sender's lines in the whole run, and a peripheral that comes back continues it.
    for (const p of this.registry.expire(this.cfg.expire_after)) {
      this.note('peripheral_expired', { name: p.name, uuid: p.uuid, port: p.port, unheard_ms: Date.now() - p.lastSeenMs }, 'info', `peripheral ${p.name} unheard for ${Math.round((Date.now() - p.lastSeenMs) / 1000)} s: forgotten (its routes stay, and deliver again when it registers)`);
      this.activity(`${p.name} expired`);
    }
  }

  /** Changes gather for save_delay, then both files are written once. */
  private scheduleSave(): void {
    if (this.saveTimer || this.closed) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, this.cfg.save_delay);
  }

  private save(): void {
    const d = this.cfg.discovery;
    const settings = {
      known_ports: d ? formatPortList(d.ports) : typeof this.state.orch.known_ports === 'string' ? this.state.orch.known_ports : '',
      scan_interval: d ? d.interval / 1000 : typeof this.state.orch.scan_interval === 'number' ? this.state.orch.scan_interval : 5,
      command_port: this.cfg.command_port,
      data_port_range: formatPortList(this.cfg.data_ports),
    };
    const problem = writeEggFiles(this.stateDir, orchText({ orch: this.state.orch, peripherals: this.registry.eggPeripherals(), script_uuid: this.state.script_uuid }, settings), routesText(this.registry.eggRoutes()));
    if (problem && !this.saveFailing) this.note('hub_state_not_saved', { dir: this.stateDir, message: problem }, 'error', `orch.cf and routes.cf could not be written in ${this.stateDir}: ${problem}; retried with the next change`);
    else if (!problem && this.saveFailing) this.note('hub_state_saved', { dir: this.stateDir }, 'info', 'orch.cf and routes.cf are written again');
    this.saveFailing = problem !== undefined;
  }
}

const NEWLINE = Buffer.from('\n');

/** The directory of orch.cf and routes.cf: state_dir as configured (relative to the working directory), else the output directory. */
export function stateDirOf(cfg: HubConfig, outputDir: string | undefined): string {
  return path.resolve(cfg.state_dir ?? outputDir ?? '.');
}
