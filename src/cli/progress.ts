/**
 * Progress for long commands: one self-overwriting line on stderr when it is a
 * terminal, nothing at all in pipes and logs.
 */
export interface Progress {
  update(text: string): void;
  done(): void;
}

export function progress(enabled = Boolean(process.stderr.isTTY)): Progress {
  if (!enabled) return { update() {}, done() {} };
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < 100) return; // at most 10 redraws a second
      last = now;
      shown = true;
      process.stderr.write(`\r\x1b[2K${text}`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[2K');
    },
  };
}

/** Reports archive problems on stderr (clearing the progress line first) and counts them. */
export function problemReporter(command: string, bar: Progress): { onProblem: (p: { file: string; problem: string }) => void; count: () => number } {
  let problems = 0;
  return {
    onProblem: ({ file, problem }) => {
      problems++;
      bar.done();
      process.stderr.write(`nsr ${command}: ${file}: ${problem}\n`);
    },
    count: () => problems,
  };
}
