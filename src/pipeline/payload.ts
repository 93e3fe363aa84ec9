/** One successful fetch on its way from a source to the sinks. */
export interface Payload {
  stream: string;
  /** Index of the tick on the stream's grid (scheduledAt / interval). */
  tick: number;
  /** Epoch ms the tick was due. */
  scheduledAt: number;
  /** Epoch ms the response arrived: the record's `timestamp`, as in the original recorder. */
  receivedAt: number;
  /** The complete record line, `\n` included, ready to append. */
  line: Buffer;
  /** Called once the line is in its window file (a source's checkpoint may advance then). */
  onWritten?: () => void;
}
