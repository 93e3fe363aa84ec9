/**
 * `hub` kind: nsr as the EGG orchestrator's hub. Peripherals register on the
 * command port and send lines to the data ports; each line is recorded once
 * in this stream's windows (uuid, name, sequence, payload, and what each
 * route did with it) and delivered along the routes from its sender
 * (egg-hub.ts). The stream runs on its own: it has no ticks.
 */
import type { SourceKind } from '../kind.js';
import type { CycleFailure, NoteEvent, Source } from '../source.js';
import { hubSchema } from './hub-config.js';
import { EggHub, stateDirOf } from './egg-hub.js';
import { readEggState } from './egg-state.js';
import { probe } from './discovery.js';

export const hubKind: SourceKind<typeof hubSchema> = {
  kind: 'hub',
  schema: hubSchema,
  build(name, cfg, { timing, outputDir, dryRun }): Source {
    // Events before the run (the listeners opening) wait for the run's own note, which names the stream.
    let note: NoteEvent | undefined;
    const early: Parameters<NoteEvent>[] = [];
    const noteAny: NoteEvent = (...args) => (note ? note(...args) : void early.push(args));
    let hub: EggHub | undefined;
    const getHub = () => (hub ??= new EggHub(cfg, stateDirOf(cfg, outputDir), noteAny));
    return {
      name,
      kind: 'hub',
      timing,
      shape: { mode: 'merge' },
      target: `hub ${cfg.host}:${cfg.command_port}`,
      // `nsr check` only validates: it must not take the ports of a running hub.
      open: dryRun ? undefined : () => getHub().open(),
      async run({ stop, room }, emit, runNote) {
        note = runNote;
        for (const args of early.splice(0)) note(...args);
        if (dryRun) return;
        await getHub().run(stop, room, (body) => emit({ body }));
      },
      /** `nsr check`: the state files read, and each known peripheral asked /info (the hub's own ports are left alone). */
      async sample() {
        const dir = stateDirOf(cfg, outputDir);
        const state = readEggState(dir);
        const failures: CycleFailure[] = state.problems.map((message) => ({ item: dir, reason: 'state_file', message }));
        for (const p of state.peripherals) {
          const reply = await probe(cfg.peripheral_host, p.port, 1000);
          if (!reply) failures.push({ item: `${p.name} (port ${p.port})`, reason: 'no_info', message: 'no /info reply (not running, or not an EGG peripheral)' });
        }
        return { items: state.peripherals.length + 1, records: 0, failures };
      },
      detail: () => hub?.detail() ?? {},
      control: (action, args) => getHub().control(action, args),
      close() {
        hub?.destroy();
      },
    };
  },
};
