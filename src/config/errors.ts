/** A configuration problem: the CLI prints `message` and exits with code 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A runtime failure the operator can act on (a port taken): the CLI prints it without a stack trace, exit code 1. */
export class OperatorError extends Error {}
