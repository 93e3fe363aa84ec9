/** Names fixed by the contracts, in a module light enough for every command to import. */
export const DEFAULT_CONFIG_FILE = 'setting/recorder.yaml';
/** nsr's own events stream (DESIGN 2.3); no configured stream may take the name. */
export const EVENTS_STREAM = 'events';
