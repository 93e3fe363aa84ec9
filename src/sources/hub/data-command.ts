/**
 * Which command lines are records: `/data <uuid> <payload…>`, with any
 * whitespace after `/data` (as the command is read). The command runs it
 * (hub-commands.ts), and the listeners hold its connection back with the data
 * ports' while the recorder has no room (hub-listeners.ts); one predicate for
 * both, or a line could be a record to one and not to the other.
 */
export function isDataCommand(line: string): boolean {
  return /^\/data(\s|$)/.test(line);
}
