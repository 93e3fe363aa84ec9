export interface Line {
  /** The line's bytes, without its `\n`. */
  bytes: Buffer;
  /** False for a last line with no `\n` (torn by a crash, or still being written). */
  complete: boolean;
}

/**
 * The longest line the archive readers hold as one record. nsr's own bodies
 * are capped by `max_body_size` (64 MB by default); a line past this is no
 * record nsr wrote, and holding it would take that much memory (Node's Buffer
 * stops at 4 GiB anyway).
 */
export const MAX_LINE_BYTES = 1024 ** 3;

export class LineTooLongError extends Error {
  override name = 'LineTooLongError';
}

export interface SplitOptions {
  /** Default MAX_LINE_BYTES. */
  maxLineBytes?: number;
}

/**
 * Splits a stream of chunks into lines, in memory bounded by one line (at most
 * `maxLineBytes`) plus one chunk. A line that spans chunks is collected as a
 * list of pieces and joined once at its end, so each byte is copied at most
 * once: joining at every chunk would copy a long line again per chunk, which
 * made a 128 MB line cost minutes (quadratic in its length).
 */
export async function* splitLines(chunks: AsyncIterable<Buffer>, opts: SplitOptions = {}): AsyncGenerator<Line> {
  const max = opts.maxLineBytes ?? MAX_LINE_BYTES;
  // The start of the current line, from earlier chunks (never copied until the line ends).
  let pieces: Buffer[] = [];
  let pending = 0;
  let lineNo = 1;
  const tooLong = (length: number) =>
    new LineTooLongError(`line ${lineNo} is longer than ${max} bytes (${length} bytes read so far), the most nsr reads as one record; read it with \`unzip -p <zip> | …\` instead`);
  for await (const chunk of chunks) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      if (pending + piece.length > max) throw tooLong(pending + piece.length);
      yield { bytes: pending ? Buffer.concat([...pieces, piece], pending + piece.length) : piece, complete: true };
      pieces = [];
      pending = 0;
      lineNo++;
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending += chunk.length - start;
      if (pending > max) throw tooLong(pending);
      pieces.push(chunk.subarray(start));
    }
  }
  if (pending > 0) yield { bytes: Buffer.concat(pieces, pending), complete: false };
}
