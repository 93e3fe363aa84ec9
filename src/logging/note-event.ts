/** How a component reports to the events stream (DESIGN 2.3) without knowing it: the recorder hands each one a NoteEvent. */
export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

/** An event for the events stream; the event is also logged, with `message` when given. */
export type NoteEvent = (event: string, fields: Record<string, unknown>, level?: EventLevel, message?: string) => void;
