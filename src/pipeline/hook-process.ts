/**
 * One try of an `on_window` command (window-hooks.ts decides when): spawned
 * in a process group of its own so that a timeout or a stop reaches whatever
 * it started, fed its metadata on stdin, its stdout discarded and only the
 * tail of its stderr kept. Nothing here throws: a command that cannot be
 * spawned is a failed try like any other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { redactUrlsIn } from '../sources/common/redact.js';

export interface HookProcessOptions {
  /** The program and its arguments (config/on-window.ts hookArgv). */
  argv: string[];
  cwd: string;
  /** Set on top of nsr's own environment. */
  env: Record<string, string>;
  /** Written to the command's stdin, which is then closed. */
  stdin: string;
  /** Then SIGTERM to the group, and SIGKILL killAfterMs later. */
  timeoutMs: number;
  /** @default 5000 */
  killAfterMs?: number;
}

export interface HookResult {
  /** Exit code; null when a signal ended it or it never ran. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last STDERR_TAIL bytes of stderr (whole characters), URL credentials hidden. */
  stderr: string;
  /** Why it could not be started (ENOENT…); the command line itself is never named. */
  error?: string;
  /** It was ended by terminate() (a stop), not by its own exit or its timeout. */
  terminated: boolean;
}

export interface HookProcess {
  readonly done: Promise<HookResult>;
  /** SIGTERM to the whole group now, SIGKILL graceMs later. */
  terminate(graceMs: number): void;
}

export const STDERR_TAIL = 512;
/** How long stderr may stay open after the command exited (a background child holding it). */
const STDERR_LINGER_MS = 200;

export function startHookProcess(opts: HookProcessOptions): HookProcess {
  let child: ChildProcess;
  try {
    child = spawn(opts.argv[0], opts.argv.slice(1), {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      // A group of its own (and no terminal): a kill of -pid reaches everything the command started.
      detached: true,
      // Never nsr's stdout: the command's output goes nowhere, its stderr is read for the tail.
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  } catch (err) {
    // spawn throws for arguments it cannot pass at all (a NUL byte).
    return { done: Promise.resolve(notStarted(err)), terminate() {} };
  }

  let tail = Buffer.alloc(0);
  let timedOut = false;
  let terminated = false;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let stderrClosed = false;
  let settle!: (r: HookResult) => void;
  const done = new Promise<HookResult>((resolve) => (settle = resolve));
  let settled = false;
  const timers: NodeJS.Timeout[] = [];

  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // ESRCH: the whole group is gone already
    }
  };
  /** SIGTERM now; SIGKILL later to whatever of the group ignored it, even after the leader is gone. */
  let killer: NodeJS.Timeout | undefined;
  const endGroup = (graceMs: number) => {
    killGroup('SIGTERM');
    clearTimeout(killer);
    killer = setTimeout(() => killGroup('SIGKILL'), graceMs);
    killer.unref();
  };
  /** Whether anything of the group is left (a child that ignored SIGTERM) once the command itself exited. */
  const groupLeft = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const finish = (result: Omit<HookResult, 'stderr' | 'timedOut' | 'terminated'>) => {
    if (settled) return;
    settled = true;
    for (const t of timers) clearTimeout(t);
    child.stderr?.destroy();
    settle({ ...result, timedOut, terminated, stderr: stderrText(tail) });
  };
  const finishExit = () => exit && finish({ exitCode: exit.code, signal: exit.signal });

  const timer = setTimeout(() => {
    timedOut = true;
    endGroup(opts.killAfterMs ?? 5000);
  }, opts.timeoutMs);
  timers.push(timer);

  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep a few bytes more than the tail, so that a character cut at its start can be dropped whole.
    const keep = STDERR_TAIL + 4;
    tail = chunk.length >= keep ? Buffer.from(chunk.subarray(chunk.length - keep)) : Buffer.concat([tail, chunk]).subarray(-keep);
  });
  child.stderr?.on('error', () => {});
  child.stderr?.on('close', () => {
    stderrClosed = true;
    finishExit();
  });
  // EPIPE when the command does not read its stdin: not a failure of the command.
  child.stdin?.on('error', () => {});
  child.stdin?.end(opts.stdin);

  child.on('error', (err) => {
    // Spawning failed (ENOENT, EACCES, a missing cwd): no exit follows.
    if (exit === undefined) finish(notStarted(err));
  });
  child.on('exit', (code, signal) => {
    exit = { code, signal };
    clearTimeout(timer);
    // The group's id is free for reuse once the group is gone: no SIGKILL to a stranger.
    if (killer && !groupLeft()) clearTimeout(killer);
    if (stderrClosed) finishExit();
    else timers.push(setTimeout(finishExit, STDERR_LINGER_MS));
  });

  return {
    done,
    terminate(graceMs) {
      // Exited already (its stderr still draining): it ended on its own, and its result stands.
      if (settled || exit) return;
      terminated = true;
      clearTimeout(timer);
      endGroup(graceMs);
    },
  };
}

function notStarted(err: unknown): HookResult {
  const code = (err as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    ENOENT: 'ENOENT: the program (or the output directory) was not found',
    EACCES: 'EACCES: the program is not executable',
    ERR_INVALID_ARG_VALUE: 'ERR_INVALID_ARG_VALUE: an argument cannot be passed (a NUL byte)',
  };
  return { exitCode: null, signal: null, timedOut: false, terminated: false, stderr: '', error: (code && why[code]) ?? code ?? 'the command could not be started' };
}

/** The last STDERR_TAIL bytes as text: starting on a character boundary, URL credentials hidden. */
export function stderrText(bytes: Buffer): string {
  let tail = bytes.subarray(Math.max(0, bytes.length - STDERR_TAIL));
  let skip = 0;
  while (skip < tail.length && skip < 4 && (tail[skip] & 0xc0) === 0x80) skip++;
  tail = tail.subarray(skip);
  return redactUrlsIn(tail.toString('utf8').trimEnd());
}
