/**
 * Writing large outputs to stdout: batched, with backpressure, and a closed
 * pipe (`nsr cat … | head`) ends the command quietly instead of with EPIPE.
 */
export class StdoutWriter {
  private parts: Buffer[] = [];
  private size = 0;
  closed = false;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout, private readonly batchBytes = 1 << 20) {
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.closed = true;
      else throw err;
    });
  }

  async write(buf: Buffer): Promise<void> {
    if (buf.length >= this.batchBytes) {
      // A large record goes out as it is: batching it would copy it once more.
      await this.flush();
      return this.send(buf);
    }
    this.parts.push(buf);
    this.size += buf.length;
    if (this.size >= this.batchBytes) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const data = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    await this.send(data);
  }

  private async send(data: Buffer): Promise<void> {
    if (this.closed) return;
    if (!this.out.write(data)) await new Promise<void>((resolve) => {
      const done = () => {
        this.out.off('drain', done);
        this.out.off('error', done);
        resolve();
      };
      this.out.once('drain', done);
      this.out.once('error', done);
    });
  }
}
