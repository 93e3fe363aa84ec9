/**
 * `probe` kind: URL health probes at scale. Each target (from the YAML file, a
 * CSV file or a PostgreSQL table) is probed on its own interval with a stable
 * random offset, by one scheduler for all of them (probe-scheduler.ts); each
 * probe is one record, nsr's own document:
 *
 *   {"timestamp":…,"target":"web1","url":…,"scheduled_at":…,"lateness_ms":2,"status":200,
 *    "latency_ms":{"connect":0.4,"first_byte":12.1,"total":12.5},"bytes":512,"match":true,"matched":"…",
 *    "matches":["…","…"],"match_count":2,"error":null}
 *
 * `matches` and `match_count` are there when the target has a pattern: every
 * match (what DAC joined into stats.regex_mach), [] when no body was read.
 *
 * `error` is null, `unexpected_status`, `timeout`, `connection_refused`,
 * `connection_reset`, `dns_error`, `tls_error`, `unreachable` or `fetch_error`.
 * With `nsr run --shard k/N`, this process probes only its share of the targets.
 */
import { readFile } from 'node:fs/promises';
import PQueue from 'p-queue';
import { z } from 'zod';
import { ConfigError } from '../../config/errors.js';
import { commonStreamFields, duration, size } from '../../config/schema-types.js';
import type { SourceKind } from '../kind.js';
import { probeAgents, runProbe } from './probe-client.js';
import { ProbeScheduler, type DueProbe } from './probe-scheduler.js';
import { checkTargets, inShard, parseCsvWithLines, type ProbeTarget, type RawTarget, type TargetDefaults } from './probe-targets.js';
import { readTargetsTable } from './probe-targets-table.js';
import { dacTargets, isDacRows, readDacUrlsTable } from './dac-targets.js';
import { redactUrlsIn } from '../common/redact.js';
import type { CycleFailure, Source } from '../source.js';

/** The match looks at the first 64 KB of a body by default: a page's head, where a title or a status sits. */
const DEFAULT_MATCH_BYTES = 64 * 1024;
const MAX_MATCH_BYTES = 1024 * 1024;

const statusList = z.union([z.int().min(100).max(599), z.array(z.int().min(100).max(599)).min(1)]);

const targetSchema = z.strictObject({
  id: z.string().min(1).optional().meta({ description: 'stable id (default: the URL); it decides the schedule offset and the shard' }),
  url: z.string().min(1),
  interval: duration('the probe interval (at least 1s)').optional(),
  timeout: duration('the probe timeout').optional(),
  expect_status: statusList.optional(),
  match: z.string().optional().meta({ description: 'regular expression (RE2 syntax: no lookaround or backreferences) the start of the body (match_bytes) must match' }),
  headers: z.record(z.string(), z.string()).optional(),
});

const schema = z.strictObject({
  kind: z.literal('probe'),
  targets: z.array(targetSchema).optional().meta({ description: 'targets in this file' }),
  targets_file: z.string().min(1).optional().meta({ description: 'a CSV file of targets: id,url,interval,timeout,expect_status,match,headers (header row; only url required)' }),
  targets_table: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, { error: 'expected a table name such as probe_targets or nsr.probe_targets' })
    .optional()
    .meta({ description: 'a PostgreSQL table of targets (postgres: at the top level; `nsr db init` creates probe_targets)' }),
  targets_format: z
    .enum(['nsr', 'dac'])
    .default('nsr')
    .meta({ description: "the columns of targets_table (and targets_file): nsr's own, or DAC's urls table (url_id, url, interval in seconds, regex); a CSV file whose header has url_id is read as DAC's either way" }),
  refresh: duration('how often targets_file or targets_table is read again').default(60_000),
  expect_status: statusList.default(200).meta({ description: 'the status a target must answer unless it says otherwise' }),
  concurrency: z.int().min(1).max(100_000).default(2000).meta({ description: 'probes in flight at once' }),
  match_bytes: size('how much of the start of a body the match: patterns look at (the rest is counted, not kept)')
    .default(DEFAULT_MATCH_BYTES)
    .refine((n) => n >= 1 && n <= MAX_MATCH_BYTES, { error: 'expected at most 1MB (1048576 bytes: a match takes time linear in it) and at least 1 byte, e.g. 64KB' }),
  tls_verify: z.boolean().default(true),
  ...commonStreamFields,
});

export const probeKind: SourceKind<typeof schema> = {
  kind: 'probe',
  schema,
  check(name, cfg) {
    const sources = [cfg.targets, cfg.targets_file, cfg.targets_table].filter((x) => x !== undefined).length;
    return sources === 1 ? [] : [`streams.${name}: set one of targets, targets_file or targets_table (${sources === 0 ? 'none is set' : 'more than one is set'})`];
  },
  build(name, cfg, { timing, shard, postgres }): Source {
    const defaults: TargetDefaults = {
      intervalMs: timing.intervalMs,
      timeoutMs: timing.timeoutMs,
      expectStatus: Array.isArray(cfg.expect_status) ? cfg.expect_status : [cfg.expect_status],
      matchBytes: cfg.match_bytes,
    };
    if (cfg.targets) {
      const { problems } = checkTargets(cfg.targets as RawTarget[], defaults, (i) => `streams.${name}.targets.${i}`);
      if (problems.length) throw new ConfigError(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
    }
    if (cfg.targets_table && !postgres) throw new ConfigError(`streams.${name}.targets_table: no database: add a postgres: section (url, password) at the top level`);
    const agents = probeAgents(Infinity, cfg.tls_verify);
    const from = cfg.targets_file ? `file ${cfg.targets_file}` : cfg.targets_table ? `table ${cfg.targets_table}` : 'the configuration';

    /** The targets as they are now, checked, this shard's only. */
    async function load(): Promise<{ targets: ProbeTarget[]; problems: string[] }> {
      let rows: RawTarget[];
      let where = (i: number) => `streams.${name}.targets.${i}`;
      let dacRows: Record<string, unknown>[] | undefined;
      if (cfg.targets) rows = cfg.targets as RawTarget[];
      else if (cfg.targets_file) {
        const parsed = parseCsvWithLines(await readFile(cfg.targets_file, 'utf8'));
        rows = parsed.rows;
        where = (i) => `${cfg.targets_file}:${parsed.lines[i]}`;
        if (cfg.targets_format === 'dac' || isDacRows(rows as Record<string, unknown>[])) dacRows = rows as Record<string, unknown>[];
      } else if (cfg.targets_format === 'dac') {
        rows = [];
        dacRows = await readDacUrlsTable(postgres!, cfg.targets_table!);
        where = (i) => `${cfg.targets_table} row ${i + 1} (url_id ${String(dacRows![i]?.url_id)})`;
      } else {
        rows = await readTargetsTable(postgres!, cfg.targets_table!);
        where = (i) => `${cfg.targets_table} row ${i + 1}`;
      }
      const early: string[] = [];
      if (dacRows) {
        // DAC's columns to nsr's; each converted row keeps its place in the file or table for messages.
        const converted = dacTargets(dacRows, where);
        const at = where;
        rows = converted.rows;
        early.push(...converted.problems);
        where = (i) => at(converted.places[i]);
      }
      const { targets, problems } = checkTargets(rows, defaults, where);
      return { targets: targets.filter((t) => inShard(t, shard)), problems: [...early, ...problems] };
    }

    return {
      name,
      kind: 'probe',
      timing,
      shape: { mode: 'merge' },
      target: `${from}${shard ? `, shard ${shard.k}/${shard.n}` : ''}`,
      async run({ stop, abort, room }, emit, note) {
        const skipped = new Map<string, number>();
        let skippedTargets: string[] = [];
        const scheduler = new ProbeScheduler({
          concurrency: cfg.concurrency,
          room,
          skipped: (p: DueProbe, reason) => {
            skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
            if (skippedTargets.length < 10) skippedTargets.push(p.target.label);
          },
          run: async ({ target, scheduledAt }) => {
            const startedAt = Date.now();
            const r = await runProbe(target, agents, abort);
            // Recorded as shown: the label and URL without credentials (the probe itself used the real URL).
            emit({ scheduledAt, body: Buffer.from(JSON.stringify({ target: target.label, url: target.shownUrl, scheduled_at: scheduledAt, lateness_ms: startedAt - scheduledAt, status: r.status, latency_ms: { connect: r.connect, first_byte: r.first_byte, total: r.total }, bytes: r.bytes, match: r.match, matched: r.matched, matches: r.matches, match_count: r.match_count, error: r.error, message: r.message && redactUrlsIn(r.message) })) });
          },
        });
        // Skipped turns are one event every 10 s at most, not one per probe.
        const reportSkipped = () => {
          if (!skipped.size) return;
          note('probes_skipped', { ...Object.fromEntries(skipped), targets: skippedTargets }, 'warn', 'probe turns skipped (overlap: still running; queue_full: records not written fast enough; late: the process stalled)');
          skipped.clear();
          skippedTargets = [];
        };
        const report = setInterval(reportSkipped, 10_000);
        let lastProblems = '';
        const refresh = async () => {
          try {
            const { targets, problems } = await load();
            scheduler.setTargets(targets);
            if (problems.join() !== lastProblems) {
              lastProblems = problems.join();
              if (problems.length) note('targets_rejected', { count: problems.length, problems: problems.slice(0, 20) }, 'warn', `${problems.length} targets left out: ${problems[0]}`);
            }
            note('targets_loaded', { targets: targets.length, from }, 'debug');
          } catch (err) {
            note('targets_load_failed', { from, message: (err as Error).message }, 'error', `cannot read the targets from ${from}; the previous ones stay`);
          }
        };
        await refresh();
        const reload = cfg.targets ? undefined : setInterval(refresh, cfg.refresh);
        await new Promise<void>((resolve) => (stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true })));
        clearInterval(reload);
        scheduler.stop();
        await scheduler.idle();
        clearInterval(report);
        reportSkipped();
      },
      async sample(signal) {
        const { targets, problems } = await load();
        const failures: CycleFailure[] = problems.map((message) => ({ item: from, reason: 'target_rejected', message }));
        const queue = new PQueue({ concurrency: cfg.concurrency });
        await Promise.all(
          targets.map((t) =>
            queue.add(async () => {
              const r = await runProbe(t, agents, signal);
              if (r.error || r.match === false) failures.push({ item: t.label, reason: r.error ?? 'no_match', message: r.message ? redactUrlsIn(r.message) : `the first ${t.matchBytes} bytes of the body do not match ${JSON.stringify(t.match?.source)}` });
            }),
          ),
        );
        return { items: targets.length, records: targets.length, failures };
      },
      close: () => {
        agents.http.destroy();
        agents.https.destroy();
      },
    };
  },
};
