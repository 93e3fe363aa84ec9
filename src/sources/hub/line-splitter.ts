/**
 * Splits a socket's bytes into `\n`-terminated lines, bounded: a line longer
 * than `maxLine` is skipped up to its end and reported once, so one huge or
 * endless line costs that line, never the process's memory.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Inside a line that is too long: bytes are dropped until its `\n`. */
  private skipping = 0;

  constructor(
    private readonly maxLine: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onTooLong: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.skipping) {
        this.onTooLong(this.skipping + piece.length);
        this.skipping = 0;
        continue;
      }
      let line = piece;
      if (this.size > 0) {
        this.parts.push(piece);
        line = Buffer.concat(this.parts, this.size + piece.length);
        this.parts = [];
        this.size = 0;
      }
      if (line.length > this.maxLine) {
        this.onTooLong(line.length);
        continue;
      }
      this.onLine(line.length > 0 && line[line.length - 1] === 13 ? line.subarray(0, -1) : line);
    }
    if (start >= chunk.length) return;
    const rest = chunk.subarray(start);
    if (this.skipping) {
      this.skipping += rest.length;
      return;
    }
    if (this.size + rest.length > this.maxLine) {
      this.skipping = this.size + rest.length;
      this.parts = [];
      this.size = 0;
      return;
    }
    // Copied: the socket may reuse its buffer.
    this.parts.push(Buffer.from(rest));
    this.size += rest.length;
  }

  /** Bytes of an unfinished last line (the connection ended without its `\n`). */
  get pending(): number {
    return this.size + this.skipping;
  }
}
