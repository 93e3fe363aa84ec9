/** `nsr schema`: prints the configuration's JSON Schema (setting/recorder.schema.json is generated from it). */
import type { Command } from 'commander';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the configuration file')
    .action(async () => {
      const { configJsonSchema } = await import('../config/schema.js');
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
