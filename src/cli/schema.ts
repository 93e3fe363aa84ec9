/** `nsr schema`: prints the configuration's JSON Schema (setting/recorder.schema.json is generated from it). */
import type { Command } from 'commander';
import { configJsonSchema } from '../config/schema.js';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the configuration file')
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
