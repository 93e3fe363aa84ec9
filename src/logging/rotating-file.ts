/**
 * The log file, rotated: by size (`max_size`: the file becomes `<file>.1`,
 * the older ones move up, `keep` of them stay) and by day (a `{date}` in the
 * name is the local date, YYYY-MM-DD, as the original recorder's
 * `logs/NSR_<date>.log`; a new file each day, `keep` days stay).
 *
 * Each line is written with one synchronous append before the call returns,
 * and a rotation happens between two lines (rename, then open the new file),
 * so no line is lost or split at rotation, also when the process is killed
 * right after. Log lines are few (not one per record): a write call per line
 * costs microseconds (BENCHMARKS.md).
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface RotationOptions {
  /** The file; `{date}` in it is replaced by the local date. */
  file: string;
  /** Rotate when a line would take the file past this many bytes. */
  maxBytes?: number;
  /** Rotated files (or, with `{date}`, older days' files) kept; Infinity deletes none. */
  keep: number;
  /** The local date, injectable for tests. */
  today?: () => string;
}

export const DATE_TOKEN = '{date}';

const localDate = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

export class RotatingFile {
  private fd = -1;
  private size = 0;
  private current = '';
  private day = '';
  private readonly today: () => string;

  constructor(private readonly opts: RotationOptions) {
    this.today = opts.today ?? localDate;
    this.open();
  }

  /** pino's destination contract: one call per line. */
  write(line: string): boolean {
    const bytes = Buffer.from(line);
    if (this.opts.file.includes(DATE_TOKEN) && this.today() !== this.day) {
      this.close();
      this.open();
      this.pruneDays();
    }
    if (this.opts.maxBytes !== undefined && this.size > 0 && this.size + bytes.length > this.opts.maxBytes) this.rotate();
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.size += bytes.length;
    return true;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** The file written now. */
  get path(): string {
    return this.current;
  }

  private open(): void {
    this.day = this.today();
    this.current = this.opts.file.split(DATE_TOKEN).join(this.day);
    mkdirSync(path.dirname(this.current), { recursive: true });
    // O_NOFOLLOW: a planted link does not turn the log into a write to another file.
    this.fd = openSync(this.current, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
    this.size = fstatSync(this.fd).size;
  }

  /** file → file.1 → … → file.<keep>; the oldest goes (none with keep Infinity: all move up one). */
  private rotate(): void {
    this.close();
    const base = this.current;
    const top = Number.isFinite(this.opts.keep) ? this.opts.keep : this.highestRotated(base) + 1;
    rmSync(`${base}.${top}`, { force: true });
    for (let i = top - 1; i >= 1; i--) {
      try {
        renameSync(`${base}.${i}`, `${base}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    if (this.opts.keep > 0) renameSync(base, `${base}.1`);
    else rmSync(base, { force: true });
    this.open();
  }

  /** The highest n of the `<base>.<n>` files on disk (0 when none). */
  private highestRotated(base: string): number {
    const head = `${path.basename(base)}.`;
    let names: string[];
    try {
      names = readdirSync(path.dirname(base));
    } catch {
      return 0;
    }
    return names.reduce((top, n) => (n.startsWith(head) && /^\d+$/.test(n.slice(head.length)) ? Math.max(top, Number(n.slice(head.length))) : top), 0);
  }

  /** With `{date}`: the days' files beyond `keep` (by name: dates sort), with their size-rotated parts. */
  private pruneDays(): void {
    const dir = path.dirname(this.opts.file);
    const [head, tail] = path.basename(this.opts.file).split(DATE_TOKEN);
    const day = /^\d{4}-\d{2}-\d{2}$/;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    const days = [...new Set(names.filter((n) => n.startsWith(head)).map((n) => n.slice(head.length, head.length + 10)).filter((d) => day.test(d) && names.some((n) => n === `${head}${d}${tail}` || n.startsWith(`${head}${d}${tail}.`))))].sort();
    // Today's file plus `keep` earlier days.
    for (const old of days.slice(0, Math.max(0, days.length - 1 - this.opts.keep))) {
      for (const n of names) if (n === `${head}${old}${tail}` || n.startsWith(`${head}${old}${tail}.`)) rmSync(path.join(dir, n), { force: true });
    }
  }
}
