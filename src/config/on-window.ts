/**
 * `on_window`: a command run for each finished (zipped) window, e.g. to copy
 * it to object storage. pipeline/window-hooks.ts runs it; this file is what
 * the configuration may say and what the program gets from it.
 *
 *   output:
 *     on_window: 'rclone copyto "$1" remote:nsr/$NSR_FILE'    # a shell command line: "$1" is the zip
 *   # or, without a shell, each argument as written ({path}, {file}, {stream} filled in):
 *     on_window:
 *       command: [rclone, copyto, "{path}", "remote:nsr/{stream}/{file}"]
 *       timeout: 10m                   # then the command's process group is killed and the try failed
 *       retry: {initial: 10s, max: 30m}
 *       concurrency: 1                 # commands running at once
 *   streams:
 *     graphinfo: {kind: ndtwin, data: graph, on_window: false}   # none for this stream
 *
 * `output.on_window` applies to every stream, nsr's events stream included;
 * a stream's own `on_window` replaces it, and `false` turns it off there.
 *
 * The configuration loader substitutes `${NAME}` itself, from nsr's own
 * environment: a shell command refers to the hook's variables as `$NSR_FILE`,
 * and a secret (an upload token) is best left to the inherited environment
 * too (`$RCLONE_TOKEN`), where it does not show in the process list.
 */
import { z } from 'zod';
import { positiveDuration } from './duration-field.js';
import { formatDuration } from './duration.js';

/** What the list form fills in, in every argument. */
export const HOOK_PLACEHOLDERS = ['path', 'file', 'stream'] as const;
type Placeholder = (typeof HOOK_PLACEHOLDERS)[number];

/** `$0` of a shell command line, as ps and the shell's own messages show it. */
export const HOOK_SHELL_NAME = 'nsr-on-window';
const SHELL = '/bin/sh';

export interface WindowHookSettings {
  /** true: `command` is `/bin/sh -c <line> nsr-on-window`, and the zip path follows as `$1`. */
  shell: boolean;
  /** The argv before a window is known: the shell with the command line, or the list as written (with its placeholders). */
  command: string[];
  /** A try running longer is killed (its whole process group) and counts as failed. */
  timeoutMs: number;
  /** The wait after a first failure, doubled after each further one up to retryMaxMs. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** Commands of these settings running at once. */
  concurrency: number;
}

const EXAMPLE_LINE = `on_window: 'rclone copyto "$1" remote:nsr/$NSR_FILE'`;
const EXAMPLE_LIST = 'command: [rclone, copyto, "{path}", "remote:nsr/{file}"]';

const PLACEHOLDER = /\{([A-Za-z_]+)\}/g;

const commandLine = z
  .string()
  .refine((line) => line.trim() !== '', { error: `the command is empty; write a shell command line ("$1" is the zip), e.g. ${EXAMPLE_LINE}` })
  .superRefine((line, ctx) => {
    const used = [...line.matchAll(PLACEHOLDER)].map((m) => m[1]).find((name) => (HOOK_PLACEHOLDERS as readonly string[]).includes(name));
    if (used) {
      ctx.addIssue({
        code: 'custom',
        input: line,
        message: `{${used}} is filled in only in the list form; a shell command line gets the zip as "$1" (and $NSR_WINDOW_PATH, $NSR_FILE, $NSR_STREAM), e.g. ${EXAMPLE_LINE}, or use the list form: ${EXAMPLE_LIST}`,
      });
    }
  })
  .meta({ description: 'a shell command line, run as /bin/sh -c <line> nsr-on-window <zip path>: "$1" is the zip; $NSR_FILE, $NSR_STREAM, … describe the window' });

const argument = z.string({ error: (issue) => `expected text; put the argument in quotes, e.g. "${String(issue.input)}"` });

const argumentList = z
  .array(argument, { error: `expected a list of arguments, e.g. ${EXAMPLE_LIST}` })
  .min(1, { error: `the command list is empty; name the program and its arguments, e.g. ${EXAMPLE_LIST}` })
  .superRefine((args, ctx) => {
    if (args.length === 0) return; // said by min(1)
    if (args[0].trim() === '') ctx.addIssue({ code: 'custom', path: [0], input: args[0], message: `the program's name is empty; name a program, e.g. ${EXAMPLE_LIST}` });
    args.forEach((arg, i) => {
      for (const m of arg.matchAll(PLACEHOLDER)) {
        if ((HOOK_PLACEHOLDERS as readonly string[]).includes(m[1])) continue;
        ctx.addIssue({
          code: 'custom',
          path: [i],
          input: arg,
          message: `unknown placeholder {${m[1]}}; the placeholders are ${HOOK_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')} (for anything else use the environment, e.g. $NSR_WINDOW_START in a shell command line)`,
        });
      }
    });
  })
  .meta({ description: 'the program and its arguments, run without a shell; {path}, {file} and {stream} are filled in, and the zip path is added last unless an argument holds {path}' });

const hookCommand = z.union([commandLine, argumentList], { error: `expected a shell command line or a list of arguments, e.g. ${EXAMPLE_LIST}` });

const hookMapping = z.strictObject({
  command: hookCommand,
  timeout: positiveDuration('a time limit for each try', 'timeout: 10m').default(600_000),
  retry: z
    .strictObject({
      initial: positiveDuration('the wait after a first failure', 'initial: 10s').default(10_000),
      max: positiveDuration('the longest wait between tries', 'max: 30m').default(1_800_000),
    })
    .prefault({})
    .superRefine((r, ctx) => {
      if (r.initial > r.max) ctx.addIssue({ code: 'custom', path: ['initial'], input: formatDuration(r.initial), message: `longer than retry.max (${formatDuration(r.max)}); the first wait must not be longer than the longest, e.g. initial: 10s with max: 30m` });
    })
    .meta({ description: 'a failed window is tried again, forever, after initial, then twice as long each time up to max' }),
  concurrency: z.int().min(1).max(16).default(1).meta({ description: 'commands of these settings running at once (1 to 16)' }),
});

const DEFAULTS = { timeoutMs: 600_000, retryInitialMs: 10_000, retryMaxMs: 1_800_000, concurrency: 1 };

const asArgv = (command: string | string[]): Pick<WindowHookSettings, 'shell' | 'command'> =>
  typeof command === 'string' ? { shell: true, command: [SHELL, '-c', command, HOOK_SHELL_NAME] } : { shell: false, command: [...command] };

const WHAT = 'a command to run for each zipped window: a shell command line ("$1" is the zip), a list of arguments, or a mapping {command, timeout, retry, concurrency}';

/** `output.on_window`: a command line, a list of arguments, or the mapping with its limits. */
export const onWindowSchema = z
  .union([commandLine, argumentList, hookMapping], { error: `expected ${WHAT}, e.g. ${EXAMPLE_LINE}` })
  .transform((v): WindowHookSettings => {
    if (typeof v === 'string' || Array.isArray(v)) return { ...asArgv(v), ...DEFAULTS };
    return { ...asArgv(v.command), timeoutMs: v.timeout, retryInitialMs: v.retry.initial, retryMaxMs: v.retry.max, concurrency: v.concurrency };
  })
  .meta({ description: `${WHAT}; it gets the window in NSR_* variables and as JSON on its standard input; a failed window is tried again until it succeeds` });

/** A stream's `on_window`: its own command, or false for none (without it, output.on_window applies). */
export const streamOnWindowSchema = z
  .union([z.literal(false), onWindowSchema], {
    error: `expected false (no command for this stream) or ${WHAT}, e.g. ${EXAMPLE_LINE}; without on_window the stream runs output.on_window`,
  })
  .meta({ description: 'this stream\'s own on_window command, or false for none; without it, output.on_window applies' });

/** The settings a stream's windows run with: its own, none (`false`), or the output's. */
export function windowHookFor(output: WindowHookSettings | undefined, stream: WindowHookSettings | false | undefined): WindowHookSettings | undefined {
  return stream === false ? undefined : (stream ?? output);
}

/** The argv for one window: the shell's `$1`, or the list with its placeholders filled in (the path last unless placed). */
export function hookArgv(settings: WindowHookSettings, window: { path: string; file: string; stream: string }): string[] {
  if (settings.shell) return [...settings.command, window.path];
  let placed = false;
  const argv = settings.command.map((arg) =>
    arg.replace(PLACEHOLDER, (all, name: string) => {
      if (!(HOOK_PLACEHOLDERS as readonly string[]).includes(name)) return all;
      if (name === 'path') placed = true;
      return window[name as Placeholder];
    }),
  );
  return placed ? argv : [...argv, window.path];
}
