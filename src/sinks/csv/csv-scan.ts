/**
 * Reads CSV bytes (RFC 4180, as the CSV sink writes them) chunk by chunk in
 * constant memory: where each row ends (a line break inside a quoted field
 * does not end one), how many fields it has, and the first syntax problem.
 * Crash recovery cuts a window back to its last complete row with it, and
 * `nsr verify` checks the rows of a `_csv.zip` against its header.
 */
const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted field: the field's end, or the first of a doubled quote. */
  QuoteSeen,
  /** A CR outside quotes: an LF must follow. */
  Cr,
}

export class CsvScanner {
  /** Complete rows so far (a header row included). */
  rows = 0;
  /** Offset just past the last complete row (its LF). */
  rowEnd = 0;
  /** The first syntax problem, with its row (1-based, the header is row 1). */
  problem: string | undefined;
  private offset = 0;
  private state = State.FieldStart;
  private fields = 1;

  /** `onRow`: called at the end of each complete row with its field count. */
  constructor(private readonly onRow?: (fields: number, row: number) => void) {}

  feed(chunk: Uint8Array): void {
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk[i];
      switch (this.state) {
        case State.Quoted: {
          const q = chunk.indexOf(0x22, i);
          if (q === -1) i = n;
          else {
            i = q;
            this.state = State.QuoteSeen;
          }
          continue;
        }
        case State.QuoteSeen:
          if (c === 0x22) {
            this.state = State.Quoted;
            continue;
          }
          if (c !== 0x2c && c !== 0x0d && c !== 0x0a) {
            this.fail('text after the closing quote of a field');
            this.state = State.Unquoted;
            continue;
          }
          break;
        case State.Cr:
          if (c !== 0x0a) {
            this.fail('a CR that is not followed by LF outside quotes');
            this.state = State.Unquoted;
            i--; // read this byte again as part of a field
            continue;
          }
          break;
        case State.FieldStart:
          if (c === 0x22) {
            this.state = State.Quoted;
            continue;
          }
          break;
        case State.Unquoted:
          if (c === 0x22) {
            this.fail('a quote inside a field that does not start with one');
            continue;
          }
          break;
      }
      // Outside quotes: a separator, a line break or a plain byte.
      if (c === 0x2c) {
        this.fields++;
        this.state = State.FieldStart;
      } else if (c === 0x0d) this.state = State.Cr;
      else if (c === 0x0a) {
        this.rows++;
        this.onRow?.(this.fields, this.rows);
        this.fields = 1;
        this.state = State.FieldStart;
        this.rowEnd = this.offset + i + 1;
      } else this.state = State.Unquoted;
    }
    this.offset += n;
  }

  /** Bytes after the last complete row (a row torn by a crash, or still being written). */
  get tornBytes(): number {
    return this.offset - this.rowEnd;
  }

  private fail(what: string): void {
    this.problem ??= `row ${this.rows + 1}: ${what}`;
  }
}
