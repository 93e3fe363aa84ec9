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
    this.parts.push(buf);
    this.size += buf.length;
    if (this.size >= this.batchBytes) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0 || this.closed) return;
    const data = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
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
