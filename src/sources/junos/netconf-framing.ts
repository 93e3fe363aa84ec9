/**
 * NETCONF message framing over SSH (RFC 6242): the end-of-message delimiter
 * `]]>]]>` of base:1.0 and the chunked framing of base:1.1 (§4.2). Decoders
 * take bytes at whatever boundaries SSH delivers them and yield whole messages
 * as the bytes the peer sent (nothing is re-encoded). Each message is bounded:
 * a device that never ends one costs at most `maxMessageBytes` of memory, then
 * a FramingError, never the process.
 */

export const END_OF_MESSAGE = ']]>]]>';
const EOM = Buffer.from(END_OF_MESSAGE);
/** RFC 6242 §4.2: chunk-size is 1..4294967295. */
export const MAX_CHUNK_SIZE = 4294967295;

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

export interface MessageDecoder {
  /**
   * Feeds received bytes; returns the messages they complete, in order, at
   * most `limit` of them (the rest stays buffered, see takeRemainder). Throws
   * a FramingError on malformed framing or an oversize message; the decoder
   * is unusable afterwards (the stream's position is unknown).
   */
  push(chunk: Buffer, limit?: number): Buffer[];
  /** Bytes received after the last message returned: what a decoder for the next framing starts with. */
  takeRemainder(): Buffer;
}

export function encodeEndOfMessage(message: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(message), EOM]);
}

/** One chunk per message: nothing gains from splitting what is already in memory. */
export function encodeChunked(message: Buffer | string): Buffer {
  const body = Buffer.from(message);
  if (body.length === 0) throw new FramingError('a chunked message needs at least one byte (chunk-size is 1 or more)');
  if (body.length > MAX_CHUNK_SIZE) throw new FramingError(`a message of ${body.length} bytes is larger than one chunk may be`);
  return Buffer.concat([Buffer.from(`\n#${body.length}\n`), body, Buffer.from('\n##\n')]);
}

function tooLarge(max: number): FramingError {
  return new FramingError(`a message grew past ${max} bytes without ending: refused (raise the stream's max_body_size if replies are really this large)`);
}

/** base:1.0: messages end with `]]>]]>`. */
export class EndOfMessageDecoder implements MessageDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private failed = false;

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Buffer, limit = Infinity): Buffer[] {
    if (this.failed) throw new FramingError('the decoder failed earlier; the session must be closed');
    const out: Buffer[] = [];
    // Search only the new bytes plus the few before them that could start a
    // delimiter, so a large message arriving in small pieces is not rescanned.
    let scanFrom = Math.max(0, this.size - (EOM.length - 1));
    this.parts.push(chunk);
    this.size += chunk.length;
    while (out.length < limit) {
      const at = this.indexOfDelimiter(scanFrom);
      if (at < 0) break;
      const all = this.joined();
      out.push(Buffer.from(all.subarray(0, at)));
      const rest = all.subarray(at + EOM.length);
      this.parts = rest.length ? [rest] : [];
      this.size = rest.length;
      scanFrom = 0;
    }
    if (out.length < limit && this.size > this.maxMessageBytes + EOM.length - 1) {
      this.failed = true;
      throw tooLarge(this.maxMessageBytes);
    }
    for (const m of out) {
      if (m.length > this.maxMessageBytes) {
        this.failed = true;
        throw tooLarge(this.maxMessageBytes);
      }
    }
    return out;
  }

  takeRemainder(): Buffer {
    const rest = this.joined();
    this.parts = [];
    this.size = 0;
    return rest;
  }

  private joined(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts, this.size)];
    return this.parts[0] ?? Buffer.alloc(0);
  }

  private indexOfDelimiter(from: number): number {
    if (this.size - from < EOM.length) return -1;
    const last = this.parts[this.parts.length - 1]!;
    const lastStart = this.size - last.length;
    if (from < lastStart) {
      // A delimiter may straddle the older pieces and the newest: look at the
      // few bytes around the seam only, never the whole message again.
      const seam = Buffer.concat([this.bytesBefore(lastStart - from), last.subarray(0, EOM.length - 1)]);
      const i = seam.indexOf(EOM);
      if (i >= 0) return from + i;
      from = lastStart;
    }
    const i = last.indexOf(EOM, from - lastStart);
    return i < 0 ? -1 : lastStart + i;
  }

  /** The last `n` bytes before the newest piece, gathered from the older pieces. */
  private bytesBefore(n: number): Buffer {
    const pieces: Buffer[] = [];
    let need = n;
    for (let p = this.parts.length - 2; p >= 0 && need > 0; p--) {
      const part = this.parts[p]!;
      const take = Math.min(need, part.length);
      pieces.unshift(part.subarray(part.length - take));
      need -= take;
    }
    return Buffer.concat(pieces);
  }
}

const LF = 0x0a;
const HASH = 0x23;
type ChunkState = 'lf' | 'hash' | 'first' | 'size' | 'data' | 'end-lf';

/** base:1.1: `\n#<size>\n<data>` chunks, ended by `\n##\n` (RFC 6242 §4.2). */
export class ChunkedDecoder implements MessageDecoder {
  private state: ChunkState = 'lf';
  private sizeText = '';
  private remaining = 0;
  private chunks: Buffer[] = [];
  private messageSize = 0;
  private pending: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Buffer, limit = Infinity): Buffer[] {
    if (this.failed) throw new FramingError('the decoder failed earlier; the session must be closed');
    const out: Buffer[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let i = 0;
    // Chunks of this message that this call added (merged at the end, see below).
    let added = this.chunks.length;
    try {
      while (i < buf.length && out.length < limit) {
        if (this.state === 'data') {
          const take = Math.min(this.remaining, buf.length - i);
          this.chunks.push(buf.subarray(i, i + take));
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = 'lf';
          continue;
        }
        const byte = buf[i++]!;
        switch (this.state) {
          case 'lf':
            if (byte !== LF) throw this.malformed(`expected a line feed before a chunk header, got ${show(byte)}`);
            this.state = 'hash';
            break;
          case 'hash':
            if (byte !== HASH) throw this.malformed(`expected '#' after the line feed, got ${show(byte)}`);
            this.state = 'first';
            break;
          case 'first':
            if (byte === HASH) {
              if (this.chunks.length === 0) throw this.malformed('end-of-chunks before any chunk (a message has at least one)');
              this.state = 'end-lf';
            } else if (byte >= 0x31 && byte <= 0x39) {
              this.sizeText = String.fromCharCode(byte);
              this.state = 'size';
            } else throw this.malformed(`expected a chunk size (1-9 first) or '#', got ${show(byte)}`);
            break;
          case 'size':
            if (byte >= 0x30 && byte <= 0x39) {
              this.sizeText += String.fromCharCode(byte);
              if (this.sizeText.length > 10 || Number(this.sizeText) > MAX_CHUNK_SIZE) throw this.malformed(`chunk size ${this.sizeText}… exceeds ${MAX_CHUNK_SIZE}`);
            } else if (byte === LF) {
              this.remaining = Number(this.sizeText);
              this.messageSize += this.remaining;
              // Refuse on the header's word, before any of the data is held.
              if (this.messageSize > this.maxMessageBytes) throw this.oversize();
              this.state = 'data';
            } else throw this.malformed(`expected a digit or a line feed in the chunk size, got ${show(byte)}`);
            break;
          case 'end-lf':
            if (byte !== LF) throw this.malformed(`expected a line feed after '##', got ${show(byte)}`);
            out.push(Buffer.concat(this.chunks, this.messageSize));
            this.chunks = [];
            added = 0;
            this.messageSize = 0;
            this.state = 'lf';
            break;
        }
      }
    } catch (err) {
      this.failed = true;
      throw err;
    }
    // A view per chunk costs ~100 bytes of heap: a device sending 1-byte chunks
    // would make a message of the size limit cost gigabytes. The pieces this
    // call added are copied into one (each byte once); a single piece stays a
    // view of `buf`. Bytes left over (limit reached) wait in `pending`.
    if (this.chunks.length - added > 1) this.chunks.push(Buffer.concat(this.chunks.splice(added)));
    buf = buf.subarray(i);
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
    return out;
  }

  takeRemainder(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }

  private malformed(what: string): FramingError {
    return new FramingError(`malformed chunked framing: ${what}`);
  }

  private oversize(): FramingError {
    return tooLarge(this.maxMessageBytes);
  }
}

function show(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? `'${String.fromCharCode(byte)}'` : `0x${byte.toString(16).padStart(2, '0')}`;
}
