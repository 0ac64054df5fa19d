export * from './track-input.schema';
export * from './enriched-event.schema';
export * from './session-id';
export * from './enriched-event.validate';
