export interface Line {
  /** The line's bytes, without its `\n`. */
  bytes: Buffer;
  /** False for a last line with no `\n` (torn by a crash, or still being written). */
  complete: boolean;
}

/** Splits a stream of chunks into lines, in constant memory (bar one line). */
export async function* splitLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<Line> {
  let rest: Buffer | undefined;
  for await (const chunk of chunks) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      yield { bytes: rest ? Buffer.concat([rest, piece]) : piece, complete: true };
      rest = undefined;
      start = nl + 1;
    }
    if (start < chunk.length) rest = rest ? Buffer.concat([rest, chunk.subarray(start)]) : Buffer.from(chunk.subarray(start));
  }
  if (rest && rest.length > 0) yield { bytes: rest, complete: false };
}
