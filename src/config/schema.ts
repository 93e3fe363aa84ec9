/**
 * The configuration schema of `setting/recorder.yaml`. The same schema validates
 * at load time and is published as JSON Schema (`nsr schema`), so editors can
 * complete and check the file.
 */
import { z } from 'zod';
import { duration, size, sizeOrPercent, streamName } from './schema-types.js';
import { sourceKindSchemas } from '../sources/registry.js';
import { sinkRegistryVersion, sinkStreamFields } from '../sinks/registry.js';
import { postgresSchema } from '../connections/postgres-settings.js';
import { mysqlSchema } from '../connections/mysql-settings.js';
import { amqpSchema } from '../connections/amqp-settings.js';
import { globalRetentionSchema } from './retention.js';
import { onWindowSchema } from './on-window.js';

const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** Each stream kind's schema with every sink kind's stream option (`postgres: true`, `csv: {…}`). */
function streamSchema() {
  const sinkFields = sinkStreamFields();
  const [first, ...rest] = sourceKindSchemas.map((s) => s.extend(sinkFields));
  return z.discriminatedUnion('kind', [first, ...rest]);
}

let built: { version: number; schema: ReturnType<typeof buildConfigSchema> } | undefined;

/** The schema, rebuilt when a sink kind was registered since (the stream options changed). */
export function configSchema() {
  if (built?.version !== sinkRegistryVersion()) built = { version: sinkRegistryVersion(), schema: buildConfigSchema() };
  return built.schema;
}

function buildConfigSchema() {
  return z
  .strictObject({
    $schema: z.string().optional(),
    output: z
      .strictObject({
        dir: z.string().min(1).default('recorded_info').meta({ description: 'where windows and zips go; relative to the working directory' }),
        window: duration('the default window length').default(300_000),
        max_window_size: size('the size at which a window is closed early').default(512 * 1024 ** 2),
        fsync: z
          .enum(['record', 'interval', 'close'])
          .default('interval')
          .meta({ description: 'when records are forced to disk: after each record, every fsync_interval, or at window close (a process crash loses nothing under any; this bounds a power loss)' }),
        fsync_interval: duration('the fsync interval').default(1000),
        retention: globalRetentionSchema,
        on_window: onWindowSchema
          .optional()
          .meta({ description: "a command run for each zipped window of every stream (nsr's events included; a stream's own on_window replaces it, false turns it off there), e.g. 'rclone copyto \"$1\" remote:nsr/$NSR_FILE'; tried again until it succeeds" }),
        // Off unless set. No one margin fits every disk (1% is 200 MB of a 20 GB
        // volume and 200 GB of a 20 TB one), only the operator knows what else
        // shares the file system, and without retention to free space the guard
        // cannot keep recording going: it only stops writing earlier than a full
        // disk would. A default would make an upgrade stop writing on disks that
        // record fine today.
        min_free: sizeOrPercent('the free space to keep on the output file system', { key: 'min_free', size: '2GB', percent: '5%' }).optional(),
      })
      .prefault({}),
    defaults: z
      .strictObject({
        interval: duration('the default fetch interval').default(1000),
        retries: z.int().min(0).max(10).default(2),
      })
      .prefault({}),
    queue: z
      .strictObject({
        max_records: z.int().positive().default(10_000),
        max_bytes: size('the per-stream queue byte limit').default(256 * 1024 ** 2),
      })
      .prefault({}),
    compression: z
      .strictObject({
        workers: z.int().min(1).max(64).default(1),
        level: z.int().min(1).max(9).default(4),
        program: z
          .string()
          .refine((v) => v === 'gzip' || v === 'node' || v.startsWith('/'), { message: 'expected gzip (looked up on PATH), node (nsr\'s own worker) or an absolute path to a gzip; e.g. program: gzip' })
          .default('gzip')
          .meta({ description: 'what deflates closed windows: gzip child processes (found on PATH; nsr falls back to its own Node worker when there is none), node, or the absolute path of a gzip' }),
      })
      .prefault({}),
    shutdown: z
      .strictObject({
        grace: duration('the grace period for in-flight fetches').default(2000),
        deadline: duration('the deadline for the whole shutdown').default(60_000),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: logLevel.default('info'),
        file: z.string().min(1).optional().meta({ description: 'also write JSON log lines to this file; {date} in the name starts a new file each local day (logs/NSR_{date}.log)' }),
        max_size: size('the size at which the log file is rotated (renamed <file>.1, older ones moved up)').optional(),
        keep: z
          .union([z.int().min(0).max(1000), z.literal('all')])
          .default(5)
          .meta({ description: 'rotated log files (or, with {date}, earlier days) kept; all: none is ever deleted (as the original recorder, which sets no retention)' }),
        console: z.boolean().default(true),
      })
      .prefault({}),
    control: z
      .strictObject({
        enabled: z.boolean().default(true).meta({ description: 'serve /healthz, /metrics, /status and the commands over HTTP' }),
        host: z.string().min(1).default('127.0.0.1').meta({ description: 'address to bind; any non-loopback address requires a token' }),
        port: z.int().min(0).max(65535).default(0).meta({ description: 'TCP port; 0 (default) takes a free port, written to the lock file in the output directory where `nsr status` finds it' }),
        token: z.string().min(1).optional().meta({ description: 'bearer token required on every request; write it as ${NSR_CONTROL_TOKEN}, never in the file. Without one, reads are open on loopback and commands need the token nsr writes into <output.dir>/.nsr.control-token' }),
        token_file: z.string().min(1).optional().meta({ description: 'a file holding the bearer token (instead of token)' }),
        allowed_hosts: z
          .array(z.string().min(1))
          .default([])
          .meta({ description: 'more names clients may reach the control server by (the Host header, e.g. nsr.example.org or nsr.example.org:9465); loopback names and the bound address are always accepted, any other Host is refused (403) against DNS rebinding' }),
        runtime_secrets: z
          .array(z.string().min(1))
          .default([])
          .meta({ description: 'secret files (paths) and environment variables (names) that a stream added at run time (POST /streams) may name in *_file settings or ${NAME} references; default none' }),
      })
      .prefault({}),
    postgres: postgresSchema.meta({ description: 'a PostgreSQL database: streams with postgres: true also go there; `nsr db init` creates its tables' }),
    amqp: amqpSchema.meta({ description: 'a RabbitMQ broker: streams with amqp: set are published to its exchange; amqp streams consume from it' }),
    mysql: mysqlSchema.meta({ description: 'a MariaDB or MySQL database (inventory history: track_changes.table: mysql)' }),
    streams: z.record(streamName, streamSchema()).meta({ description: 'the streams to record, by name' }),
  });
}

export type RawConfig = z.input<ReturnType<typeof buildConfigSchema>>;
export type ParsedConfig = z.output<ReturnType<typeof buildConfigSchema>>;

export function configJsonSchema(): object {
  return z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' });
}
